package binding

import (
	"reflect"
	"slices"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// objKind names one object of the `signals` variable.
type objKind uint8

const (
	objRoot objKind = iota
	objRequest
	objCredential
	objWorkload
	objNetwork
	objProxy
	objPosture
	objCI
	objTime
	numObjs
)

// objKeys lists each object's keys, for iteration and size. A key may be
// missing at evaluation (time.token_age_seconds when there is no iat).
var objKeys = [numObjs][]string{
	objRoot:       {"request", "credential", "workload", "network", "proxy", "posture", "ci", "time"},
	objRequest:    {"method", "target", "path", "raw_target"},
	objCredential: {"kind", "fingerprint", "iss", "sub", "aud", "azp", "client_id", "api_key", "possession", "claims"},
	objWorkload:   {"present", "id", "source"},
	objNetwork:    {"client", "peer", "origin", "sets"},
	objProxy:      {"present", "hops"},
	objPosture:    {"present", "attestor", "host_id", "image_digest", "runner_type", "os", "class", "claims"},
	objCI:         {"present", "repository", "repository_id", "workflow_ref", "runner_environment", "environment", "event"},
	objTime:       {"now", "token_age_seconds", "idle_seconds", "hour", "weekday"},
}

// sigObj is one object of `signals` as a CEL map from string to dyn. Values
// are made when the rule reads them, so a rule pays only for what it uses.
type sigObj struct {
	in   *ruleInput
	kind objKind
}

var _ traits.Mapper = (*sigObj)(nil)

// Find implements traits.Mapper.
func (o *sigObj) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return nil, false
	}
	if o.kind == objRoot {
		for i, name := range objKeys[objRoot] {
			if name == string(k) {
				return &o.in.objs[i+1], true
			}
		}
		return nil, false
	}
	return o.in.field(o.kind, string(k))
}

// field returns one value of a sub-object.
func (in *ruleInput) field(kind objKind, k string) (ref.Val, bool) {
	s := in.sig
	switch kind {
	case objRequest:
		return pick(k, "method", s.Method, "target", s.Target, "path", s.Path, "raw_target", s.RawTarget)
	case objCredential:
		c := &s.Credential
		switch k {
		case "aud":
			return types.NewStringList(types.DefaultTypeAdapter, c.Metadata.Audience), true
		case "claims":
			return types.NewStringInterfaceMap(types.DefaultTypeAdapter, c.Metadata.Claims), true
		}
		return pick(k, "kind", string(c.Kind), "fingerprint", c.Fingerprint, "iss", c.Metadata.Issuer,
			"sub", c.Metadata.Subject, "azp", c.Metadata.AZP, "client_id", c.Metadata.ClientID,
			"api_key", c.Metadata.APIKey, "possession", c.Possession.Method)
	case objWorkload:
		w := &s.Workload
		ok := w.Present && !w.Problem.Invalid()
		if k == "present" {
			return types.Bool(ok), true
		}
		if !ok {
			return pick(k, "id", "", "source", "")
		}
		return pick(k, "id", w.ID, "source", w.Source)
	case objNetwork:
		return in.networkField(k)
	case objProxy:
		p := &s.Proxy
		ok := p.Present && !p.Problem.Invalid()
		switch k {
		case "present":
			return types.Bool(ok), true
		case "hops":
			if !ok {
				return types.NewStringList(types.DefaultTypeAdapter, nil), true
			}
			return types.NewStringList(types.DefaultTypeAdapter, p.Hops), true
		}
	case objPosture:
		return in.postureField(k)
	case objCI:
		c := &s.CI
		if k == "present" {
			return types.Bool(c.Present), true
		}
		return pick(k, "repository", c.Repository, "repository_id", c.RepositoryID,
			"workflow_ref", c.WorkflowRef, "runner_environment", c.RunnerEnvironment,
			"environment", c.Environment, "event", c.Event)
	case objTime:
		return in.timeField(k)
	}
	return nil, false
}

func (in *ruleInput) networkField(k string) (ref.Val, bool) {
	n := &in.sig.Network
	switch k {
	case "client":
		return types.String(addrString(n.Client)), true
	case "peer":
		return types.String(addrString(n.Peer)), true
	case "origin":
		return types.String(n.Origin), true
	case "sets":
		var names []string
		for name, set := range in.b.set.networks {
			if set.Contains(n.Client) {
				names = append(names, name)
			}
		}
		names = append(names, n.Sets...)
		slices.Sort(names)
		return types.NewStringList(types.DefaultTypeAdapter, slices.Compact(names)), true
	}
	return nil, false
}

func (in *ruleInput) postureField(k string) (ref.Val, bool) {
	p := &in.sig.Posture
	ok := p.Present && !p.Problem.Invalid()
	switch k {
	case "present":
		return types.Bool(ok), true
	case "claims":
		if !ok {
			return types.NewStringInterfaceMap(types.DefaultTypeAdapter, nil), true
		}
		return types.NewStringInterfaceMap(types.DefaultTypeAdapter, p.Claims), true
	}
	if !ok {
		for _, name := range objKeys[objPosture] {
			if name == k {
				return types.String(""), true
			}
		}
		return nil, false
	}
	return pick(k, "attestor", p.Attestor, "host_id", p.HostID, "image_digest", p.ImageDigest,
		"runner_type", p.RunnerType, "os", p.OS, "class", p.Class)
}

func (in *ruleInput) timeField(k string) (ref.Val, bool) {
	s := in.sig
	switch k {
	case "now":
		return types.Timestamp{Time: s.Now}, true
	case "hour":
		return types.Int(s.Now.UTC().Hour()), true
	case "weekday":
		return types.Int(s.Now.UTC().Weekday()), true
	case "token_age_seconds":
		if !s.Time.HasTokenAge {
			return nil, false
		}
		return types.Int(int64(s.Time.TokenAge.Seconds())), true
	case "idle_seconds":
		if s.Time.LastSeen.IsZero() {
			return nil, false
		}
		return types.Int(int64(s.Time.SinceLastSeen(s.Now).Seconds())), true
	}
	return nil, false
}

// pick returns the string value paired with k in kv (name, value, ...).
func pick(k string, kv ...string) (ref.Val, bool) {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == k {
			return types.String(kv[i+1]), true
		}
	}
	return nil, false
}

// materialize builds the whole object as a CEL map, for the uses that need
// every key (size, iteration, equality, conversion).
func (o *sigObj) materialize() traits.Mapper {
	m := make(map[ref.Val]ref.Val, len(objKeys[o.kind]))
	for _, k := range objKeys[o.kind] {
		key := types.String(k)
		if v, ok := o.Find(key); ok {
			if so, isObj := v.(*sigObj); isObj {
				v = so.materialize()
			}
			m[key] = v
		}
	}
	return types.NewRefValMap(types.DefaultTypeAdapter, m)
}

// Get implements traits.Indexer.
func (o *sigObj) Get(index ref.Val) ref.Val {
	if v, ok := o.Find(index); ok {
		return v
	}
	return types.NewErr("no such key: %v", index)
}

// Contains implements traits.Container.
func (o *sigObj) Contains(index ref.Val) ref.Val {
	_, ok := o.Find(index)
	return types.Bool(ok)
}

// Iterator implements traits.Iterable.
func (o *sigObj) Iterator() traits.Iterator { return o.materialize().Iterator() }

// Size implements traits.Sizer.
func (o *sigObj) Size() ref.Val { return o.materialize().Size() }

// ConvertToNative implements ref.Val.
func (o *sigObj) ConvertToNative(t reflect.Type) (any, error) {
	return o.materialize().ConvertToNative(t)
}

// ConvertToType implements ref.Val.
func (o *sigObj) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return o
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from map to '%s'", t)
}

// Equal implements ref.Val.
func (o *sigObj) Equal(other ref.Val) ref.Val { return o.materialize().Equal(other) }

// Type implements ref.Val.
func (o *sigObj) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (o *sigObj) Value() any { return o.materialize().Value() }
