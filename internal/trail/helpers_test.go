package trail

import (
	"github.com/provost-dev/provost/internal/decision"
	"github.com/provost-dev/provost/reason"
)

func evidenceOutcome(s string) decision.Outcome { return decision.Outcome(s) }
func reasonCode(s string) reason.Code           { return reason.Code(s) }

type evidenceAction = decision.Action
