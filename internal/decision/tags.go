package decision

import (
	"slices"

	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// Tag is defined in the public package verdict.
type Tag = verdict.Tag

// Frameworks.
const (
	OWASPNHI = "OWASP Non-Human Identity Top 10 (2025)"
	NISTCSF  = "NIST CSF 2.0"
	SP800207 = "NIST SP 800-207"
)

var (
	nhi1  = Tag{Framework: OWASPNHI, ID: "NHI1:2025", Name: "Improper Offboarding"}
	nhi2  = Tag{Framework: OWASPNHI, ID: "NHI2:2025", Name: "Secret Leakage"}
	nhi3  = Tag{Framework: OWASPNHI, ID: "NHI3:2025", Name: "Vulnerable Third-Party NHI"}
	nhi4  = Tag{Framework: OWASPNHI, ID: "NHI4:2025", Name: "Insecure Authentication"}
	nhi7  = Tag{Framework: OWASPNHI, ID: "NHI7:2025", Name: "Long-Lived Secrets"}
	nhi8  = Tag{Framework: OWASPNHI, ID: "NHI8:2025", Name: "Environment Isolation"}
	nhi9  = Tag{Framework: OWASPNHI, ID: "NHI9:2025", Name: "NHI Reuse"}
	aa01  = Tag{Framework: NISTCSF, ID: "PR.AA-01", Name: "Identities and credentials for authorized users, services, and hardware are managed"}
	aa03  = Tag{Framework: NISTCSF, ID: "PR.AA-03", Name: "Users, services, and hardware are authenticated"}
	aa05  = Tag{Framework: NISTCSF, ID: "PR.AA-05", Name: "Access permissions, entitlements, and authorizations are defined in a policy, managed, enforced, and reviewed"}
	am02  = Tag{Framework: NISTCSF, ID: "ID.AM-02", Name: "Inventories of software, services, and systems managed by the organization are maintained"}
	cm01  = Tag{Framework: NISTCSF, ID: "DE.CM-01", Name: "Networks and network services are monitored to find potentially adverse events"}
	ae02  = Tag{Framework: NISTCSF, ID: "DE.AE-02", Name: "Potentially adverse events are analyzed to better understand associated activities"}
	t4    = Tag{Framework: SP800207, ID: "tenet-4", Name: "Access is determined by dynamic policy, including the observable state of client identity and the requesting asset"}
	t5    = Tag{Framework: SP800207, ID: "tenet-5", Name: "The enterprise monitors and measures the integrity and security posture of all owned and associated assets"}
	t6    = Tag{Framework: SP800207, ID: "tenet-6", Name: "All resource authentication and authorization are dynamic and strictly enforced before access is allowed"}
	t7    = Tag{Framework: SP800207, ID: "tenet-7", Name: "The enterprise collects as much information as possible about the current state of assets and communications"}
	byTag = map[reason.Code][]Tag{
		reason.CopiedCredential:     {nhi2, nhi9, aa03, ae02, t4},
		reason.ConcurrentOrigins:    {nhi9, ae02, t7},
		reason.SourceDrift:          {nhi3, nhi1, aa05, t4},
		reason.DormantRevival:       {nhi7, nhi1, aa01, t6},
		reason.ShadowAutomation:     {nhi1, am02, t7},
		reason.Honeytoken:           {nhi2, ae02, t7},
		reason.EvidenceInsufficient: {aa05, t4},
		reason.DPoPReplayed:         {nhi2, aa03, t6},
		reason.DPoPKeyMismatch:      {nhi2, nhi4, aa03, t6},
		reason.DPoPBearerScheme:     {nhi4, aa03, t6},
		reason.MTLSThumbprintFailed: {nhi2, nhi4, aa03, t6},
		reason.Revoked:              {nhi1, aa01, t6},
		reason.Expired:              {nhi7, t6},
		reason.WorkloadNotApproved:  {nhi8, nhi9, aa05, t4},
		reason.NetworkNotApproved:   {nhi8, cm01, t4},
		reason.ProxyChainMismatch:   {aa05, cm01, t4},
		reason.PostureMismatch:      {aa05, t5},
		reason.CIMismatch:           {nhi3, aa05, t4},
		reason.TokenTooOld:          {nhi7, aa01, t6},
	}
)

// tagsFor returns the framework references for a set of reason codes,
// deduplicated, in a stable order.
func tagsFor(codes []reason.Code) []Tag {
	out := []Tag{}
	for _, c := range codes {
		for _, t := range byTag[c] {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Tag) int {
		if a.Framework != b.Framework {
			return order(a.Framework) - order(b.Framework)
		}
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

func order(framework string) int {
	switch framework {
	case OWASPNHI:
		return 0
	case NISTCSF:
		return 1
	}
	return 2
}
