package main

import (
	"context"
	"flag"
	"io"

	"github.com/provost-dev/provost/internal/hop/hopcli"
)

// commands is the command table: every command provost has, its synopsis,
// description and flag constructor. run dispatches through it, and -h,
// --help, provost completion and provost man are made from it, so a
// command is added here or nowhere.
func commands() *command {
	root := &command{
		name:    "provost",
		summary: "verify token provenance for non-human identities",
		usage:   []string{"COMMAND [flags]"},
		help: `provost verifies token provenance for non-human identities: it judges each request's credential
by where it came from and how it travelled, and keeps every decision in a signed evidence log.
Start with 'provost demo'.

Exit codes: 0 success; 1 the command ran and found a problem (a failing policy test, a lint
warning); 2 bad usage or bad input.`,
		flags: flagsOf(rootFlags),
		subs: []*command{
			{
				name:    "demo",
				summary: "play the acceptance scenarios against a real server on loopback (start here)",
				usage:   []string{"[--keep [DIR]] [-v]"},
				help: `Starts Provost on free loopback ports with a deployment made for this run and plays the nine
acceptance scenarios as real HTTP requests. With --keep the world is kept in DIR (a new or empty
folder; without DIR a new temporary one): its configuration, data and private keys (in
DIR/demo-keys, marked demo-only), and the demo ends by printing the commands to try next:
provost serve on it, provost dev token, and curl requests that are allowed and denied.`,
				flags: flagsOf(demoFlags),
				run:   noStdin(cmdDemo),
			},
			devCommands(),
			{
				name:    "config",
				summary: "check the whole configuration and every file it names",
				usage:   []string{"check [--config FILE] [--warnings-ok]"},
				help:    `Works on the configuration file (docs/configuration.md).`,
				subs: []*command{{
					name:    "check",
					summary: "check the configuration and every file it names",
					usage:   []string{"[--config FILE] [--warnings-ok]"},
					help: `Checks the whole configuration: it loads strictly; every file it names exists and parses
(JWKS, SPIFFE bundles, CA files, TLS certificates and keys, hop, evidence and SSF keys, the
bindings file); listeners are host:port and do not clash; the bindings lint clean. Exit 0 with a
summary; 1 listing every problem (file:line: field: what), or the bindings lint's warnings
unless --warnings-ok.`,
					flags: flagsOf(configCheckFlags),
					run:   cmdConfigCheck,
				}},
			},
			{
				name:    "check",
				summary: "judge requests described in JSON files against a configuration, offline",
				usage:   []string{"[--config FILE] [--data-dir DIR] [--json] REQUEST.json..."},
				help: `Judges each request file offline, in order, with one engine, so a proof replayed across files
is caught as a server would catch it. A file's "at" pins the clock to when the request was
observed. Prints one decision per file, as text or (--json) one JSON object per line; exit 2
when a file cannot be read.`,
				flags: flagsOf(checkFlags),
				run:   cmdCheck,
			},
			{
				name:    "fingerprint",
				summary: "print the fingerprint of a credential read from standard input",
				usage:   []string{"[--config FILE] [--data-dir DIR] < CREDENTIAL"},
				help: `Reads one credential (the first line of standard input) and prints its fingerprint under the
data directory's server secret, so an API key can be named in the configuration (api_keys,
match.fingerprints) without being written there.`,
				flags: flagsOf(fingerprintFlags),
				run:   cmdFingerprint,
			},
			bindingsCommands(),
			{
				name:    "hop",
				summary: "sign hop attestations as an approved proxy does",
				usage:   []string{"sign " + hopcli.Synopsis},
				help: `An approved proxy adds its signed hop attestation to the Provost-Hop header of each request it
forwards (docs/hop-attestation.md); hop sign lets a script do the same.`,
				subs: []*command{{
					name:    "sign",
					summary: "add this proxy's signed hop attestation to a Provost-Hop header value",
					usage:   []string{hopcli.Synopsis},
					help: `Signs a hop attestation for one request (its method, its target and, with --credential-stdin,
the digest of the credential read from standard input) and prints the new Provost-Hop value:
the --prior value received, then this hop's. The credential is read from standard input only,
so it stays out of shell history and process listings, and it is never printed; a wrong flag
is not repeated either.`,
					flags:      flagsOf(hopSignFlags),
					run:        cmdHopSign,
					secretArgs: true,
				}},
			},
			{
				name:    "serve",
				summary: "the check API, forward-auth and (when configured) Envoy ext_authz and the admin API",
				usage:   []string{"[--config FILE] [--data-dir DIR] [--listen ADDR] [--pid-file FILE] [--debug] [--log-format json|text] [--new-data-dir]"},
				help: `Serves the check API (POST /v1/check), forward-auth (/v1/forward-auth), /healthz and /readyz
(docs/api.md); Envoy ext_authz when grpc.listen is set; the admin API when admin.listen is set.
Without --config and without ./provost.yaml it runs on the embedded default (no issuers: every
credential is rejected), written into the data directory as a file to copy. It refuses to start
a new data directory (a new server secret) next to an existing one unless --new-data-dir.
SIGHUP reloads the configuration, bindings and TLS certificates; SIGINT or SIGTERM shuts down
gracefully. Logs are JSON lines on standard error (--log-format text: key=value lines); the
OTEL_* variables turn on OpenTelemetry export over OTLP (docs/observability.md).`,
				flags: flagsOf(serveFlags),
				run:   noStdin(cmdServe),
			},
			{
				name:    "proxy",
				summary: "reverse proxy that judges each request and forwards allowed ones (adds its hop attestation)",
				usage:   []string{"[--config FILE] [--data-dir DIR] [--listen ADDR] [--upstream URL] [--pid-file FILE] [--debug] [--log-format json|text]"},
				help: `Runs a reverse proxy in front of the upstream: every request is judged, only allowed ones are
forwarded, with identity headers (and this proxy's signed hop attestation when proxy.hop is
set). SIGHUP reloads the configuration, the bindings and the TLS certificate; SIGINT or SIGTERM
stop it gracefully. Logs are JSON lines on standard error (--log-format text: key=value lines);
the OTEL_* variables turn on OpenTelemetry export over OTLP (docs/observability.md). See
docs/kubernetes.md.`,
				flags: flagsOf(proxyFlags),
				run:   noStdin(cmdProxy),
			},
			{
				name:    "revoke",
				summary: "revoke a credential through the admin API",
				usage:   []string{"--admin URL WHAT [--reason R] [--expires-at T] [flags]"},
				help: `Creates a revocation through the admin API (docs/admin.md). WHAT is one of:
  --fingerprint FP                      one credential, by its fingerprint
  --credential-stdin                    one credential, read from standard input (fingerprinted by the server, never stored)
  --jti J [--issuer I]                  one token ID
  --subject S [--issuer I] [--issued-before T]   every token of a subject
  --issuer I                            every token from an issuer
  --binding B                           every credential matched to a binding
Times are RFC 3339 (2030-01-02T15:04:05Z). The admin token comes from $PROVOST_ADMIN_TOKEN or
--token-file; a client certificate from --cert and --key.`,
				flags: flagsOf(revokeFlags),
				run:   cmdRevoke,
			},
			{
				name:    "revocations",
				summary: "list or delete revocations through the admin API",
				usage: []string{
					"list --admin URL [--json] [flags]",
					"delete --admin URL [flags] ID",
					"--admin URL [--json] [--delete ID] [flags]",
				},
				help: `Lists the revocations in force, or deletes one, through the admin API (docs/admin.md). Without
a command it lists them, or with --delete ID deletes one. The admin token comes from
$PROVOST_ADMIN_TOKEN or --token-file; a client certificate from --cert and --key.`,
				flags: flagsOf(revocationsFlags),
				run:   cmdRevocations,
				subs: []*command{
					{
						name:    "list",
						summary: "list the revocations in force",
						usage:   []string{"--admin URL [--json] [flags]"},
						help:    `Lists the revocations in force: a table, or with --json the admin API's JSON.`,
						flags:   flagsOf(adminCallFlags("revocations list")),
						run:     cmdRevocationsList,
					},
					{
						name:    "delete",
						summary: "delete one revocation by its ID",
						usage:   []string{"--admin URL [flags] ID"},
						help:    `Deletes the revocation ID (rev_...): what it revoked is accepted again.`,
						flags:   flagsOf(adminCallFlags("revocations delete")),
						run:     cmdRevocationsDelete,
					},
				},
			},
			{
				name:    "admin",
				summary: "hash-token | status | reload, for the admin API",
				usage:   []string{"COMMAND [flags]"},
				help: `Helpers for the admin API (docs/admin.md). The commands that call it take --admin URL (default
$PROVOST_ADMIN_URL), the admin token from $PROVOST_ADMIN_TOKEN or --token-file, and a client
certificate from --cert and --key.`,
				subs: []*command{
					{
						name:    "hash-token",
						summary: "read an admin token from standard input and print its SHA-256 for admin.token_sha256",
						usage:   []string{"< TOKEN"},
						help: `Reads an admin token (the first line of standard input) and prints its SHA-256 in hex, the
value of admin.token_sha256; the token itself is never printed. Make one with
'openssl rand -hex 32'.`,
						run: cmdAdminHashToken,
					},
					{
						name:    "status",
						summary: "print the admin API's status",
						usage:   []string{"--admin URL [flags]"},
						help:    `Prints the admin API's status as JSON.`,
						flags:   flagsOf(adminCallFlags("admin status")),
						run:     cmdAdminStatus,
					},
					{
						name:    "reload",
						summary: "reload the server's configuration and bindings",
						usage:   []string{"--admin URL [flags]"},
						help:    `Reloads the server's configuration and bindings, as SIGHUP does, and prints the result as JSON.`,
						flags:   flagsOf(adminCallFlags("admin reload")),
						run:     cmdAdminReload,
					},
				},
			},
			trailCommands(defaultTrailEnv()),
			{
				name:    "receipt",
				summary: "verify an evidence receipt offline, or fetch one",
				usage:   []string{"COMMAND [flags]"},
				help: `A receipt proves that one decision's record is in the evidence log, under a checkpoint the log
signed (docs/evidence.md).`,
				subs: []*command{
					{
						name:    "verify",
						summary: "check a receipt offline with the log's verifier key",
						usage:   []string{"--key KEY FILE"},
						help: `Checks a receipt offline with nothing but the log's verifier key (KEY is the key,
name+hash+base64, or a file holding it; FILE may be - for standard input): it exits 0 and prints
what the record says, or exits 1 naming what is wrong.`,
						flags: flagsOf(receiptVerifyFlags),
						run:   receiptVerify,
					},
					{
						name:    "get",
						summary: "fetch the receipt of one record from a Provost server",
						usage:   []string{"--server URL --index N [--timeout D]"},
						help: `Fetches the receipt of record N (a decision's evidence.index) from a Provost server
(GET /v1/log/receipt) and prints it as JSON.`,
						flags: flagsOf(receiptGetFlags),
						run:   receiptGet,
					},
				},
			},
			{
				name:    "evidence",
				summary: "the signing key of an evidence log shared in PostgreSQL",
				usage:   []string{"new-key FILE --name NAME"},
				help: `Works on the evidence log the replicas share in PostgreSQL (storage.postgres.evidence_key_file,
docs/scale-out.md).`,
				subs: []*command{{
					name:    "new-key",
					summary: "write a new signing key for the shared evidence log and print its verifier key",
					usage:   []string{"FILE --name NAME"},
					help: `Writes a new signing key for the evidence log the replicas share in PostgreSQL to FILE (mode
0600), and prints its verifier key. NAME is the log's name, its checkpoints' origin line (no
spaces or '+'). When FILE exists and holds a key named NAME, it is kept and its verifier key
printed. Give every replica the same file, as a secret; it never goes into the database.`,
					flags: flagsOf(evidenceNewKeyFlags),
					run:   evidenceNewKey,
				}},
			},
			{
				name:    "bench",
				summary: "load-test the check API, forward-auth and ext_authz beside bare baselines, on loopback",
				usage:   []string{"[--rounds N] [--duration D] [--warmup D] [--concurrency N] [--targets LIST] [--evidence durable|async] [--json]"},
				help: `Starts each target in a server process of its own on loopback (Provost's check-api,
forward-auth and ext-authz; the baselines bare-http and bare-grpc), drives them in turn for
--duration, --rounds times, and prints per target the medians over the rounds of requests/s,
p50/p99/p99.9 latency and the server's CPU per request, and the ratio to its baseline. Progress
goes to standard error. See BENCHMARKS.md.`,
				flags: flagsOf(benchFlags),
				run:   cmdBench,
				subs: []*command{{
					name:    benchServe,
					hidden:  true,
					summary: "one server under test, for provost bench",
					usage:   []string{"--target T [--config FILE --data-dir DIR]"},
					help: `Internal to provost bench: runs one server on 127.0.0.1:0, prints its address, answers control
lines on standard input and serves until standard input ends.`,
					flags: flagsOf(benchServeFlags),
					run:   cmdBenchServe,
				}},
			},
			{
				name:    "completion",
				summary: "print a shell completion script: bash, zsh or fish",
				usage:   []string{"bash|zsh|fish"},
				help: `Prints a completion script for the shell, made from the same command table as this help:
commands, subcommands and their flags. docs/install.md says where to put it.`,
				subs: []*command{
					{name: "bash", summary: "the bash completion script", usage: []string{""},
						help: `Prints the bash completion script. Load it with: source <(provost completion bash)`,
						run:  completionCommand("bash")},
					{name: "zsh", summary: "the zsh completion script", usage: []string{""},
						help: `Prints the zsh completion script: save it as _provost in a directory of $fpath.`,
						run:  completionCommand("zsh")},
					{name: "fish", summary: "the fish completion script", usage: []string{""},
						help: `Prints the fish completion script: save it as ~/.config/fish/completions/provost.fish.`,
						run:  completionCommand("fish")},
				},
			},
			{
				name:    "man",
				summary: "write the man pages, one per command",
				usage:   []string{"DIR"},
				help: `Writes one man page (roff, section 1) per command into DIR, made from the same command table
as this help: provost.1, provost-serve.1, provost-trail-show.1 and so on; it prints each
file's path. docs/install.md says where to put them.`,
				run: cmdMan,
			},
			{
				name:    "version",
				summary: "print the version, commit and Go version (also provost --version)",
				usage:   []string{""},
				help: `Prints the version: the one stamped at build time (-ldflags "-X main.version=..."), else the
module version Go recorded (go install ...@VERSION), else "dev"; then the commit, its time,
whether the tree was modified, and the Go version.`,
				run: cmdVersion,
			},
		},
	}
	return root.setPaths("")
}

// rootFlags are provost's own flags: --version (and -h, which every
// command takes).
func rootFlags() (*flag.FlagSet, *bool) {
	fs := newFlagSet("")
	return fs, fs.Bool("version", false, "print the version and exit (provost version)")
}

func devCommands() *command {
	return &command{
		name:    "dev",
		summary: "mint credentials for a world kept by demo --keep (demo keys only)",
		usage:   []string{"COMMAND (--world DIR | --config DIR/provost.yaml) [flags]"},
		help: `Mints credentials for a demo world kept by 'provost demo --keep DIR', with its DEMO-ONLY keys
(DIR/demo-keys). It refuses any other keys, so it never mints with production ones. Each
command prints what it minted on standard output and a warning on standard error.`,
		subs: []*command{
			{
				name:    "token",
				summary: "an access token signed by the world's issuer (--dpop: bound to the kept DPoP key)",
				usage:   []string{"(--world DIR | --config FILE) --sub SUB [--aud AUD] [--ttl 1h] [--claim NAME=VALUE]... [--claims JSON] [--dpop]"},
				help:    `Prints an access token (at+jwt) signed by the demo world's issuer. Demo worlds only.`,
				flags:   flagsOf(devTokenFlags),
				run:     devToken,
			},
			{
				name:    "dpop",
				summary: "a DPoP proof signed by the kept DPoP key, for one request",
				usage:   []string{"(--world DIR | --config FILE) --method METHOD --url URL|/PATH [--token TOKEN]"},
				help: `Prints a DPoP proof (RFC 9449) signed by the kept DPoP key for one request; a path is on the
world's origin. Demo worlds only.`,
				flags: flagsOf(devDPoPFlags),
				run:   devDPoP,
			},
			{
				name:    "svid",
				summary: "an X.509-SVID (certificate and key, PEM) from the world's SPIFFE CA, or a JWT-SVID",
				usage:   []string{"(--world DIR | --config FILE) [--jwt [--aud AUD]] [--ttl 1h] [--cert-out FILE --key-out FILE] SPIFFE_ID"},
				help: `Prints an X.509-SVID (certificate, then its key, PEM) from the demo world's SPIFFE CA, or with
--jwt a JWT-SVID (for the Provost-Workload-JWT header). Demo worlds only.`,
				flags: flagsOf(devSVIDFlags),
				run:   devSVID,
			},
			{
				name:    "posture",
				summary: "a posture attestation signed by the world's attestor, bound to the token",
				usage:   []string{"(--world DIR | --config FILE) --host HOST [--runner TYPE] [--os OS] --token TOKEN [--aud AUD]"},
				help: `Prints a posture attestation (for the Provost-Posture header) signed by the demo world's
attestor. Demo worlds only.`,
				flags: flagsOf(devPostureFlags),
				run:   devPosture,
			},
		},
	}
}

func bindingsCommands() *command {
	return &command{
		name:    "bindings",
		summary: "lint, test or propose bindings",
		usage:   []string{"COMMAND [flags]"},
		help: `Works on the bindings file (docs/bindings.md): checks it, runs its policy tests, or proposes a
binding from what a binding in learn mode saw.`,
		subs: []*command{
			{
				name:    "lint",
				summary: "check a bindings file, summarize each binding, and warn about likely mistakes",
				usage:   []string{"[--config FILE | BINDINGS.yaml] [--warnings-ok]"},
				help: `Checks the bindings file (the one the configuration names, or BINDINGS.yaml), prints a summary
of each binding and warns about likely mistakes. With the configuration, the other files it
names must load too. Exit 2: it does not load; 1: warnings (unless --warnings-ok).`,
				flags: flagsOf(bindingsLintFlags),
				run:   cmdBindingsLint,
			},
			{
				name:    "test",
				summary: "run policy tests: requests and the decisions they must get",
				usage:   []string{"[--config FILE] [--data-dir DIR] TESTS.yaml..."},
				help: `Runs each file's tests in order against one engine with a fresh data directory. Exit 1: a test
failed; 2: bad input.`,
				flags: flagsOf(bindingsTestFlags),
				run:   cmdBindingsTest,
			},
			{
				name:    "propose",
				summary: "print the tightest binding covering the origins a learn-mode binding saw",
				usage:   []string{"--binding NAME [--since 720h] [--config FILE] [--data-dir DIR]"},
				help: `Prints, as YAML to paste under bindings:, the tightest binding covering the origins the
learn-mode binding NAME saw within --since.`,
				flags: flagsOf(bindingsProposeFlags),
				run:   cmdBindingsPropose,
			},
		},
	}
}

// trailCommands is provost trail with e's surroundings (tests pass
// their own clock and terminal).
func trailCommands(e trailEnv) *command {
	query := func(sub string) runFunc {
		return func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
			return e.query(ctx, sub, args, stdin, stdout, stderr)
		}
	}
	queryFlags := func(sub string) func() *flag.FlagSet {
		return func() *flag.FlagSet { return trailFlagSet(sub, new(trailOpts)) }
	}
	queryCommand := func(sub, summary string, usage []string, help string) *command {
		return &command{name: sub, summary: summary, usage: usage, help: help, flags: queryFlags(sub), run: query(sub)}
	}
	return &command{
		name:    "trail",
		summary: "investigate the evidence log: verify, show, timeline, origins, blast-radius, export, report, backtest",
		usage:   []string{"COMMAND [--config FILE] [--data-dir DIR] [flags]"},
		help: `Investigates the evidence log. Times (--since, --until) are RFC 3339 or a duration before now
(90m, 24h, 7d). A fingerprint may be given whole or by a prefix of at least 8 characters
(fp1:xxxx) that names one credential, as the tables show it. Every query command first brings
the index (<data_dir>/trail.db) up to date with the log.`,
		subs: []*command{
			{
				name:    "verify",
				summary: "check the whole log against its checkpoints",
				usage:   []string{"[--config FILE] [--data-dir DIR] [--key VERIFIER-KEY] [--json]"},
				help: `Re-reads the evidence log in <data_dir>/evidence (read-only; a running server carries on),
re-hashes every record, rebuilds the tree and checks it against every checkpoint the log
signed. Exits 0 when the log verifies, 1 naming the first problem.
When the configuration keeps the evidence log in PostgreSQL (storage.postgres.evidence_key_file),
it verifies that shared log, read-only, with the verifier key given by --key, else the public
half of evidence_key_file when readable, else the key pinned in the database.`,
				flags: flagsOf(trailVerifyFlags),
				run: func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
					return e.verify(ctx, args, stdout, stderr)
				},
			},
			queryCommand("show", "list records, filtered",
				[]string{"[--fingerprint FP | --credential-stdin] [--workload ID] [--network CIDR]",
					" [--binding B] [--decision D] [--reason CODE] [--since T] [--until T] [--limit N] [--json]"},
				`Lists the records the filters select (all given must hold), in log order.`),
			queryCommand("timeline", "one credential's uses over time, with new origins, revocations and step-ups marked",
				[]string{"(--fingerprint FP | --credential-stdin) [--since T] [--until T] [--limit N] [--json]"},
				`Lists one credential's uses in time order; NOTES marks the first use from each origin, the decision
that revoked the credential, a step-up (re-authentication required) and a use refused as revoked.`),
			queryCommand("origins", "distinct origins per credential, first and last seen",
				[]string{"[--fingerprint FP | --credential-stdin] [--since T] [--until T] [--limit N] [--json]"},
				`Lists the distinct origins (workload, client network) of one credential or of every credential.`),
			queryCommand("blast-radius", "what a credential or a workload touched",
				[]string{"(--fingerprint FP | --credential-stdin | --workload ID) [--since T] [--until T] [--limit N] [--json]"},
				`Lists each method and path a credential or a workload reached, most used first.`),
			queryCommand("export", "records as JSON lines or OCSF events to standard output; --follow streams new ones",
				[]string{"[--format jsonl|ocsf] [--ocsf-classes 3002,6003] [the filters of show, without its limit]",
					" [--follow [--position FILE] [--poll D]] [--json]"},
				`Writes the records the filters select to standard output: JSON lines (each the record as logged) or
OCSF events. --follow keeps streaming records as they are appended, from --position FILE (read at
start, replaced after each batch written) or the start of the log, until interrupted.`),
			queryCommand("report", "findings by OWASP NHI Top 10 / NIST CSF 2.0 / SP 800-207 and decisions over time",
				[]string{"[--format markdown|html] [--since T] [--until T] [--json]"},
				`Writes totals, the findings by framework and the decisions over time (hours or days without a
decision are left out of the table).`),
			{
				name:    "backtest",
				summary: "replay the recorded evidence against a candidate bindings file",
				usage:   []string{"--bindings NEW.yaml [--config FILE] [--data-dir DIR] [--since T] [--until T] [--json]"},
				help: `Replays the recorded decisions (all, or those from --since to --until) against NEW.yaml and
prints the past requests it would decide differently; exits 1 when some would be.`,
				flags: flagsOf(trailBacktestFlags),
				run: func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
					return e.backtest(ctx, args, stdout, stderr)
				},
			},
		},
	}
}

// noStdin adapts a command that reads nothing from standard input.
func noStdin(f func(ctx context.Context, args []string, stdout, stderr io.Writer) int) runFunc {
	return func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
		return f(ctx, args, stdout, stderr)
	}
}
