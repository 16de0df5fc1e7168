package demo

// Bindings is the demo's bindings file: one binding per scenario. The
// loopback addresses stand for hosts: the demo's client really connects
// from 127.0.0.20 (an approved build host) or 127.0.0.66 (anywhere else).
const Bindings = `version: 1
mode: enforce
networks:
  build-hosts: [127.0.0.20/32]
  agent-runtime: [10.30.0.0/16]
  datacenter: [10.40.0.0/16]
  partners: [192.0.2.0/24, 198.51.100.0/24]
detectors: {concurrent_window: 5m, dormancy: 720h}
bindings:
  - name: ci-deploy
    match: {subject: "repo:acme/deploy:*"}
    require: {networks: [build-hosts]}
    on_violation: revoke
  - name: support-agent
    match: {subject: "agent:support-bot"}
    require:
      workloads: ["spiffe://demo.provost.test/agents/support-bot"]
      networks: [agent-runtime]
  - name: helpdesk-integration
    match: {subject: "integration:helpdesk"}
    require: {proxy_chain: [edge, gw]}
  - name: vendor-sync
    match: {subject: "vendor:sync"}
    require: {networks: [partners]}
    on_violation: step_up
  - name: customer-export
    match: {subject: "svc:customer-export"}
    require:
      possession: dpop
      workloads: ["spiffe://demo.provost.test/exporter"]
    require_evidence: [workload, posture]
  - name: payments
    match: {subject: "svc:payments"}
    require:
      workloads: ["spiffe://demo.provost.test/payments/*"]
      networks: [datacenter]
    on_violation: revoke
  - name: agent-tools
    match: {subject: "agent:tool-caller"}
    require: {possession: dpop}
  - name: reports
    match: {subject: "svc:reports"}
    require: {networks: [datacenter]}
`
