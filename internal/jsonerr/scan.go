package jsonerr

import "encoding/json"

// frame is one open object or array while scanning.
type frame struct {
	object bool
	name   string // the member being read, once its name is seen
	named  bool
}

// walk scans doc up to byte stop (the whole of it when stop < 0), calling
// each, when not nil, with every member name and the offset of its opening
// quote until each returns true. It returns the containers open where it
// stopped. doc needs to be well formed only up to stop; walk never fails
// and never reads past the end.
func walk(doc []byte, stop int64, each func(name string, at int) bool) []frame {
	var stack []frame
	end := len(doc)
	if stop >= 0 && stop < int64(end) {
		end = int(stop)
	}
	for i := 0; i < end; {
		switch doc[i] {
		case '{':
			stack = append(stack, frame{object: true})
			i++
		case '[':
			stack = append(stack, frame{})
			i++
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			i++
		case '"':
			j := stringEnd(doc, i)
			k := j
			for k < len(doc) && (doc[k] == ' ' || doc[k] == '\t' || doc[k] == '\n' || doc[k] == '\r') {
				k++
			}
			if k < len(doc) && doc[k] == ':' && len(stack) > 0 && stack[len(stack)-1].object {
				name := unquote(doc[i:j])
				top := &stack[len(stack)-1]
				top.name, top.named = name, true
				if each != nil && each(name, i) {
					return stack
				}
			}
			i = j
		default:
			i++
		}
	}
	return stack
}

// stringEnd returns the index just past the string whose opening quote is
// at doc[i], or len(doc) when it is not closed.
func stringEnd(doc []byte, i int) int {
	for j := i + 1; j < len(doc); j++ {
		switch doc[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(doc)
}

// unquote decodes a JSON string with its quotes, as encoding/json does.
func unquote(raw []byte) string {
	escaped := false
	for _, c := range raw {
		if c == '\\' {
			escaped = true
			break
		}
	}
	if !escaped && len(raw) >= 2 {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return string(raw[1:])
	}
	return s
}

// findName returns the offset of the opening quote of the first member
// named name in doc, or -1.
func findName(doc []byte, name string) int64 {
	at := int64(-1)
	walk(doc, -1, func(n string, i int) bool {
		if n == name {
			at = int64(i)
			return true
		}
		return false
	})
	return at
}

// pathAt returns the names of the members being read at byte offset in
// doc, outermost first (array levels are skipped).
func pathAt(doc []byte, offset int64) []string {
	var names []string
	for _, f := range walk(doc, offset, nil) {
		if f.object && f.named {
			names = append(names, f.name)
		}
	}
	return names
}
