package binding

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"

	"github.com/provost-dev/provost/internal/signal"
)

// ruleEnv is the CEL environment rules are compiled in: one variable,
// `signals`, a map from string to dyn.
type ruleEnv struct {
	env *cel.Env
}

func newRuleEnv() (*ruleEnv, error) {
	env, err := cel.NewEnv(cel.Variable("signals", cel.MapType(cel.StringType, cel.DynType)))
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	return &ruleEnv{env: env}, nil
}

// rule is a compiled CEL rule.
type rule struct {
	src string // the rule as written, shortened for checks' Expected
	prg cel.Program
}

// maxShown bounds the rule text and evaluation errors a check carries.
const maxShown = 256

func shorten(s string) string {
	if len(s) <= maxShown {
		return s
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// compile parses and type-checks src, refuses a result that cannot be bool
// and a rule whose least possible cost is over RuleCostLimit, and plans it
// with the cost limit enforced at evaluation.
func (e *ruleEnv) compile(src string) (*rule, error) {
	ast, iss := e.env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("CEL: %s", oneLine(iss.Err().Error()))
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("CEL: the rule gives %s, it must give bool", t)
	}
	est, err := e.env.EstimateCost(ast, noEstimates{})
	if err == nil && est.Min > RuleCostLimit {
		return nil, fmt.Errorf("CEL: the rule costs at least %d, more than the limit of %d", est.Min, RuleCostLimit)
	}
	prg, err := e.env.Program(ast, cel.CostLimit(RuleCostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("CEL: %s", oneLine(err.Error()))
	}
	return &rule{src: shorten(src), prg: prg}, nil
}

// oneLine keeps the first line of a CEL error (the rest is a caret drawing).
func oneLine(s string) string {
	s = strings.TrimPrefix(s, "ERROR: ")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// noEstimates leaves every size and call cost to CEL's defaults.
type noEstimates struct{}

func (noEstimates) EstimateSize(cost.AstNode) *cost.SizeEstimate { return nil }
func (noEstimates) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// eval runs the rule over sig. A result that is not a bool, an evaluation
// error and an exceeded cost limit are all errors: the caller fails closed.
func (r *rule) eval(b *Binding, sig *signal.Signals) (bool, error) {
	in := newRuleInput(b, sig)
	out, _, err := r.prg.Eval(in)
	if err != nil {
		return false, err
	}
	v, ok := out.(types.Bool)
	if !ok {
		return false, errors.New("the rule gave " + string(out.Type().TypeName()) + ", not bool")
	}
	return bool(v), nil
}

// ruleInput is the activation of one evaluation: `signals` and its
// sub-objects are views over sig, read only as the rule asks.
type ruleInput struct {
	b    *Binding
	sig  *signal.Signals
	objs [numObjs]sigObj
}

var _ interpreter.Activation = (*ruleInput)(nil)

func newRuleInput(b *Binding, sig *signal.Signals) *ruleInput {
	in := &ruleInput{b: b, sig: sig}
	for i := range in.objs {
		in.objs[i] = sigObj{in: in, kind: objKind(i)}
	}
	return in
}

// ResolveName implements interpreter.Activation.
func (in *ruleInput) ResolveName(name string) (any, bool) {
	if name == "signals" {
		return &in.objs[objRoot], true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (in *ruleInput) Parent() interpreter.Activation { return nil }
