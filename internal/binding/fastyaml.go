package binding

import "bytes"

// The fast path decodes the bindings of a batch written in the plain subset
// of YAML that bindings files use, several times faster than the YAML
// package and without its node trees. Anything outside the subset makes it
// give up on the whole batch, which the YAML package then decodes (and
// reports errors for), so that it never decides what a document means
// where the two could differ. The subset:
//
//   - printable ASCII and '\n' only (no tab, no carriage return);
//   - block mappings whose keys are plain words ([a-z_]), one entry a line,
//     nested ones indented further; block sequences of "- " entries,
//     indented further than their key, each a scalar or flow collection;
//   - flow sequences and mappings that end on the line they start on, a
//     key of a flow mapping followed by ": ", and no ',' before a closing
//     bracket;
//   - scalars on one line: single-quoted; double-quoted without '\';
//     plain ones of letters, digits and "_-./:*@+" (not starting with
//     '-', '*' or '@'), where ':' is followed by another such character;
//     keys of flow mappings of at most maxFastKey bytes; no null
//     ("~", "null", ...), no empty value;
//   - comments on their own line, or after a value and a space;
//   - no anchor, alias, tag, block scalar, directive or repeated key, and
//     only the known fields, with the types the document has ("true" or
//     "false" for honeytoken).
//
// FuzzFastYAML checks that what the fast path decodes, the YAML package
// decodes to the same bindingDoc values.

// fnode is a parsed value of the subset.
type fnode struct {
	s     string
	kids  []fnode // sequence items; mapping keys and values alternating
	kind  byte    // 's' scalar, 'l' sequence, 'm' mapping
	plain bool    // a plain (unquoted) scalar
}

// fastDecode decodes src, a batch of n items whose '-' is at column
// itemCol, as the YAML package would decode it into []bindingDoc, in buf
// when it is large enough; ok is false when any item is outside the
// subset.
func fastDecode(src []byte, itemCol, n int, buf []bindingDoc) ([]bindingDoc, bool) {
	docs := buf[:0]
	if cap(docs) < n {
		docs = make([]bindingDoc, n)
	} else {
		docs = docs[:n]
		clear(docs)
	}
	p := &fparser{lines: make([]fline, 0, 32), stack: make([]fnode, 0, 32)}
	k := 0
	for start := 0; start < len(src); {
		end := nextItem(src, start, itemCol)
		if k == n {
			return nil, false
		}
		node, ok := p.item(src[start:end])
		if !ok || !node.toBinding(&docs[k]) {
			return nil, false
		}
		k++
		start = end
	}
	return docs, k == n
}

// nextItem returns where the item after the one at start begins: the next
// line with '-' at column itemCol followed by a space or the line's end.
func nextItem(src []byte, start, itemCol int) int {
	for off := start; ; {
		nl := bytes.IndexByte(src[off:], '\n')
		if nl < 0 {
			return len(src)
		}
		off += nl + 1
		line := src[off:]
		if len(line) > itemCol && line[itemCol] == '-' && (len(line) == itemCol+1 || line[itemCol+1] == ' ' || line[itemCol+1] == '\n') &&
			bytes.Count(line[:itemCol], []byte{' '}) == itemCol {
			return off
		}
	}
}

// fline is one line of an item that is neither blank nor a comment.
type fline struct {
	indent int
	text   []byte // after the indentation, to the end of the line
}

// fparser parses the items of a batch, one at a time; its buffers are
// reused from item to item.
type fparser struct {
	lines []fline
	i     int     // the next line
	stack []fnode // the entries of the collections being parsed
	arena []fnode // where the collections' entries are kept, a chunk at a time
}

// item parses one item: "- " and a block mapping. The nodes it returns
// live until the next call: convert them first.
func (p *fparser) item(src []byte) (fnode, bool) {
	p.lines, p.i, p.stack, p.arena = p.lines[:0], 0, p.stack[:0], p.arena[:0]
	for len(src) > 0 {
		end := bytes.IndexByte(src, '\n')
		if end < 0 {
			end = len(src)
		}
		line := src[:end]
		if end < len(src) {
			src = src[end+1:]
		} else {
			src = nil
		}
		for _, c := range line {
			if c < 0x20 || c > 0x7e {
				return fnode{}, false
			}
		}
		indent := 0
		for indent < len(line) && line[indent] == ' ' {
			indent++
		}
		if indent == len(line) || line[indent] == '#' {
			continue
		}
		p.lines = append(p.lines, fline{indent, line[indent:]})
	}
	lines := p.lines
	if len(lines) == 0 || len(lines[0].text) < 2 || lines[0].text[0] != '-' || lines[0].text[1] != ' ' {
		return fnode{}, false
	}
	// "- key: value": the item's mapping starts after the dash and its spaces.
	first := lines[0].text[1:]
	spaces := 0
	for spaces < len(first) && first[spaces] == ' ' {
		spaces++
	}
	if spaces == len(first) || first[spaces] == '#' {
		return fnode{}, false
	}
	lines[0] = fline{lines[0].indent + 1 + spaces, first[spaces:]}
	n, ok := p.blockMapping(lines[0].indent)
	return n, ok && p.i == len(lines)
}

// collection makes the entries pushed on the stack since base the kids of
// a new node of the kind given, and pops them.
func (p *fparser) collection(kind byte, base int) fnode {
	k := len(p.stack) - base
	if cap(p.arena)-len(p.arena) < k {
		// A new chunk; the nodes in the old one stay where they are.
		p.arena = make([]fnode, 0, max(k, 2*cap(p.arena), 64))
	}
	start := len(p.arena)
	p.arena = append(p.arena, p.stack[base:]...)
	n := fnode{kind: kind, kids: p.arena[start : start+k : start+k]}
	clear(p.stack[base:])
	p.stack = p.stack[:base]
	return n
}

// blockMapping parses the entries at column col, from the current line.
func (p *fparser) blockMapping(col int) (fnode, bool) {
	base := len(p.stack)
	for p.i < len(p.lines) && p.lines[p.i].indent == col {
		text := p.lines[p.i].text
		k := 0
		for k < len(text) && (text[k] >= 'a' && text[k] <= 'z' || text[k] == '_') {
			k++
		}
		if k == 0 || k == len(text) || text[k] != ':' || k+1 < len(text) && text[k+1] != ' ' {
			return fnode{}, false
		}
		key := fnode{kind: 's', s: fieldName(text[:k]), plain: true}
		rest, spaced := skipSpaces(text[k+1:])
		p.i++
		var v fnode
		var ok bool
		if len(rest) == 0 || rest[0] == '#' && spaced {
			// The value is on the lines below, indented further.
			if p.i == len(p.lines) || p.lines[p.i].indent <= col {
				return fnode{}, false // null
			}
			below := p.lines[p.i]
			if len(below.text) >= 2 && below.text[0] == '-' && below.text[1] == ' ' {
				v, ok = p.blockSequence(below.indent)
			} else {
				v, ok = p.blockMapping(below.indent)
			}
		} else {
			v, rest, ok = p.flowValue(rest)
			ok = ok && lineEnd(rest)
		}
		if !ok {
			return fnode{}, false
		}
		p.stack = append(p.stack, key, v)
	}
	// A line indented further than col, but not a value: not the subset.
	return p.collection('m', base), p.i == len(p.lines) || p.lines[p.i].indent < col
}

// blockSequence parses the "- " entries at column col.
func (p *fparser) blockSequence(col int) (fnode, bool) {
	base := len(p.stack)
	for p.i < len(p.lines) && p.lines[p.i].indent == col {
		text := p.lines[p.i].text
		if len(text) < 2 || text[0] != '-' || text[1] != ' ' {
			return fnode{}, false
		}
		rest, _ := skipSpaces(text[2:])
		v, rest, ok := p.flowValue(rest)
		if !ok || !lineEnd(rest) {
			return fnode{}, false
		}
		p.stack = append(p.stack, v)
		p.i++
	}
	return p.collection('l', base), p.i == len(p.lines) || p.lines[p.i].indent < col
}

func skipSpaces(b []byte) ([]byte, bool) {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	return b[i:], i > 0
}

// lineEnd reports whether rest, after a value, is nothing or a comment
// after a space.
func lineEnd(rest []byte) bool {
	rest, spaced := skipSpaces(rest)
	return len(rest) == 0 || rest[0] == '#' && spaced
}

// flowValue parses a scalar or a flow collection at the start of b.
func (p *fparser) flowValue(b []byte) (fnode, []byte, bool) {
	if len(b) == 0 {
		return fnode{}, b, false
	}
	switch b[0] {
	case '[':
		base := len(p.stack)
		rest, _ := skipSpaces(b[1:])
		if len(rest) > 0 && rest[0] == ']' {
			return p.collection('l', base), rest[1:], true
		}
		for {
			v, r, ok := p.flowValue(rest)
			if !ok {
				return fnode{}, nil, false
			}
			p.stack = append(p.stack, v)
			r, _ = skipSpaces(r)
			switch {
			case len(r) > 0 && r[0] == ']':
				return p.collection('l', base), r[1:], true
			case len(r) > 0 && r[0] == ',':
				rest, _ = skipSpaces(r[1:])
			default:
				return fnode{}, nil, false
			}
		}
	case '{':
		base := len(p.stack)
		rest, _ := skipSpaces(b[1:])
		if len(rest) > 0 && rest[0] == '}' {
			return p.collection('m', base), rest[1:], true
		}
		for {
			k, r, ok := p.flowValue(rest)
			if !ok || k.kind != 's' || len(k.s) > maxFastKey || len(r) < 2 || r[0] != ':' || r[1] != ' ' {
				return fnode{}, nil, false
			}
			r, _ = skipSpaces(r[1:])
			v, r, ok := p.flowValue(r)
			if !ok {
				return fnode{}, nil, false
			}
			p.stack = append(p.stack, k, v)
			r, _ = skipSpaces(r)
			switch {
			case len(r) > 0 && r[0] == '}':
				return p.collection('m', base), r[1:], true
			case len(r) > 0 && r[0] == ',':
				rest, _ = skipSpaces(r[1:])
			default:
				return fnode{}, nil, false
			}
		}
	case '"':
		end := bytes.IndexByte(b[1:], '"')
		if end < 0 || bytes.IndexByte(b[1:1+end], '\\') >= 0 {
			return fnode{}, nil, false
		}
		return fnode{kind: 's', s: string(b[1 : 1+end])}, b[2+end:], true
	case '\'':
		var s []byte
		i := 1
		for {
			j := bytes.IndexByte(b[i:], '\'')
			if j < 0 {
				return fnode{}, nil, false
			}
			s = append(s, b[i:i+j]...)
			i += j + 1
			if i < len(b) && b[i] == '\'' { // '' is a quote
				s = append(s, '\'')
				i++
				continue
			}
			return fnode{kind: 's', s: string(s)}, b[i:], true
		}
	}
	if b[0] == '-' || b[0] == '*' || b[0] == '@' || !plainChar(b[0]) { // "*a" is an alias; '@' is reserved
		return fnode{}, nil, false
	}
	i := 1
	for i < len(b) && (plainChar(b[i]) || b[i] == ':' && i+1 < len(b) && plainChar(b[i+1])) {
		i++
	}
	switch string(b[:i]) {
	case "~", "null", "Null", "NULL":
		return fnode{}, nil, false
	}
	return fnode{kind: 's', s: fieldName(b[:i]), plain: true}, b[i:], true
}

// fieldName is string(b), without a copy for the field names the document
// has.
func fieldName(b []byte) string {
	switch string(b) {
	case "name":
		return "name"
	case "mode":
		return "mode"
	case "match":
		return "match"
	case "require":
		return "require"
	case "require_evidence":
		return "require_evidence"
	case "on_violation":
		return "on_violation"
	case "honeytoken":
		return "honeytoken"
	case "fingerprints":
		return "fingerprints"
	case "issuer":
		return "issuer"
	case "subject":
		return "subject"
	case "claims":
		return "claims"
	case "api_key":
		return "api_key"
	case "workloads":
		return "workloads"
	case "networks":
		return "networks"
	case "proxy_chain":
		return "proxy_chain"
	case "posture":
		return "posture"
	case "ci":
		return "ci"
	case "time":
		return "time"
	case "possession":
		return "possession"
	case "rule":
		return "rule"
	case "windows":
		return "windows"
	case "days":
		return "days"
	case "hours":
		return "hours"
	case "tz":
		return "tz"
	case "max_token_age":
		return "max_token_age"
	case "max_idle":
		return "max_idle"
	case "repository":
		return "repository"
	case "repository_id":
		return "repository_id"
	case "workflow_ref":
		return "workflow_ref"
	case "runner_environment":
		return "runner_environment"
	case "environment":
		return "environment"
	case "event":
		return "event"
	}
	return string(b)
}

// maxFastKey bounds a flow mapping's key: the YAML package refuses an
// implicit key over 1024 characters.
const maxFastKey = 1000

// plainChar reports whether c may be in a plain scalar of the subset.
func plainChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '.' || c == '/' || c == '*' || c == '@' || c == '+'
}

// The conversions to the document's types, as the YAML package makes them
// for the values the subset has; false for anything else, a repeated key
// or an unknown field included.

func (n *fnode) str() (string, bool) { return n.s, n.kind == 's' }

func (n *fnode) strs() ([]string, bool) {
	if n.kind != 'l' {
		return nil, false
	}
	out := make([]string, len(n.kids))
	for i := range n.kids {
		s, ok := n.kids[i].str()
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

func (n *fnode) strMap() (map[string]string, bool) {
	if n.kind != 'm' {
		return nil, false
	}
	out := make(map[string]string, len(n.kids)/2)
	for i := 0; i < len(n.kids); i += 2 {
		k, v := n.kids[i].s, &n.kids[i+1]
		s, ok := v.str()
		if _, dup := out[k]; dup || !ok {
			return nil, false
		}
		out[k] = s
	}
	return out, true
}

// fields calls set for each key of the mapping n, failing on a repeated
// key and when set fails (an unknown key or a value of the wrong type).
func (n *fnode) fields(set func(key string, v *fnode) bool) bool {
	if n.kind != 'm' {
		return false
	}
	for i := 0; i < len(n.kids); i += 2 {
		for j := 0; j < i; j += 2 {
			if n.kids[j].s == n.kids[i].s {
				return false
			}
		}
		if !set(n.kids[i].s, &n.kids[i+1]) {
			return false
		}
	}
	return true
}

func (n *fnode) toBinding(d *bindingDoc) bool {
	return n.fields(func(key string, v *fnode) bool {
		var ok bool
		var s string
		switch key {
		case "name":
			d.Name, ok = v.str()
		case "mode":
			s, ok = v.str()
			d.Mode = Mode(s)
		case "match":
			ok = v.toMatch(&d.Match)
		case "require":
			ok = v.toRequire(&d.Require)
		case "require_evidence":
			d.RequireEvidence, ok = v.strs()
		case "on_violation":
			s, ok = v.str()
			d.OnViolation = Action(s)
		case "honeytoken":
			ok = v.kind == 's' && v.plain && (v.s == "true" || v.s == "false")
			d.Honeytoken = v.s == "true"
		}
		return ok
	})
}

func (n *fnode) toMatch(m *MatchSpec) bool {
	return n.fields(func(key string, v *fnode) bool {
		var ok bool
		switch key {
		case "fingerprints":
			m.Fingerprints, ok = v.strs()
		case "issuer":
			m.Issuer, ok = v.str()
		case "subject":
			m.Subject, ok = v.str()
		case "claims":
			m.Claims, ok = v.strMap()
		case "api_key":
			m.APIKey, ok = v.str()
		}
		return ok
	})
}

func (n *fnode) toRequire(r *RequireSpec) bool {
	return n.fields(func(key string, v *fnode) bool {
		var ok bool
		switch key {
		case "workloads":
			r.Workloads, ok = v.strs()
		case "networks":
			r.Networks, ok = v.strs()
		case "proxy_chain":
			r.ProxyChain, ok = v.strs()
		case "posture":
			r.Posture, ok = v.strMap()
		case "ci":
			r.CI = &CISpec{}
			ok = v.toCI(r.CI)
		case "time":
			r.Time = &TimeSpec{}
			ok = v.toTime(r.Time)
		case "possession":
			r.Possession, ok = v.str()
		case "rule":
			r.Rule, ok = v.str()
		}
		return ok
	})
}

func (n *fnode) toCI(c *CISpec) bool {
	return n.fields(func(key string, v *fnode) bool {
		var ok bool
		switch key {
		case "repository":
			c.Repository, ok = v.str()
		case "repository_id":
			c.RepositoryID, ok = v.str()
		case "workflow_ref":
			c.WorkflowRef, ok = v.str()
		case "runner_environment":
			c.RunnerEnvironment, ok = v.str()
		case "environment":
			c.Environment, ok = v.str()
		case "event":
			c.Event, ok = v.str()
		}
		return ok
	})
}

func (n *fnode) toTime(t *TimeSpec) bool {
	return n.fields(func(key string, v *fnode) bool {
		var ok bool
		switch key {
		case "windows":
			if ok = v.kind == 'l'; ok {
				t.Windows = make([]WindowSpec, len(v.kids))
				for i := range v.kids {
					ok = ok && v.kids[i].toWindow(&t.Windows[i])
				}
			}
		case "max_token_age":
			t.MaxTokenAge, ok = v.str()
		case "max_idle":
			t.MaxIdle, ok = v.str()
		}
		return ok
	})
}

func (n *fnode) toWindow(w *WindowSpec) bool {
	return n.fields(func(key string, v *fnode) bool {
		var ok bool
		switch key {
		case "days":
			w.Days, ok = v.strs()
		case "hours":
			w.Hours, ok = v.str()
		case "tz":
			w.TZ, ok = v.str()
		}
		return ok
	})
}
