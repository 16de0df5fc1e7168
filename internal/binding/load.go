package binding

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/smallfile"
	"go.yaml.in/yaml/v3"
)

// Load reads and compiles the bindings file at path, of at most
// MaxFileBytes.
func Load(path string) (*Set, error) {
	return LoadLimit(context.Background(), path, MaxFileBytes)
}

// LoadLimit reads and compiles the bindings file at path, refusing one
// larger than maxBytes (0: MaxFileBytes; at most MaxFileBytesLimit).
func LoadLimit(ctx context.Context, path string, maxBytes int64) (*Set, error) {
	limit, err := fileLimit(maxBytes)
	if err != nil {
		return nil, fmt.Errorf("bindings: %s: %w", path, err)
	}
	data, err := smallfile.Read(path, limit)
	if err != nil {
		return nil, fmt.Errorf("bindings: %w", err)
	}
	return ParseLimit(ctx, path, data, limit)
}

// Parse reads and compiles a bindings document of at most MaxFileBytes;
// name is used in errors and recorded as Set.File.
func Parse(name string, data []byte) (*Set, error) {
	return ParseLimit(context.Background(), name, data, MaxFileBytes)
}

// ParseLimit is Parse with the document bounded by maxBytes (0:
// MaxFileBytes; at most MaxFileBytesLimit). A long parse stops when ctx is
// done.
//
// A file in the usual block layout (top-level keys at column 0, the
// bindings as a block sequence, no anchor one binding shares with another)
// is read one batch of bindings at a time, so that only the file's bytes,
// one batch's YAML nodes and the compiled Set are held at once. Any other
// layout is read as one document, as is a file of at most MaxFileBytes that
// does not load, so that its errors are exactly the whole document's (in a
// larger file, the first batch at fault is reported).
func ParseLimit(ctx context.Context, name string, data []byte, maxBytes int64) (*Set, error) {
	limit, err := fileLimit(maxBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: the file is larger than %d bytes", name, limit)
	}
	s, err := parseSplit(ctx, name, data)
	switch {
	case errors.Is(err, errNotSplit):
		s, err = parseWhole(name, data)
	case err != nil && len(data) <= MaxFileBytes && ctx.Err() == nil:
		s, err = parseWhole(name, data)
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	s.File = name
	s.Digest = "sha256:" + hex.EncodeToString(sum[:])
	return s, nil
}

// fileLimit checks a configured bound on the file's size.
func fileLimit(maxBytes int64) (int64, error) {
	switch {
	case maxBytes == 0:
		return MaxFileBytes, nil
	case maxBytes < 0 || maxBytes > MaxFileBytesLimit:
		return 0, fmt.Errorf("the size limit %d is not between 1 and %d bytes", maxBytes, MaxFileBytesLimit)
	}
	return maxBytes, nil
}

// parseWhole decodes data as one document, then compiles it.
func parseWhole(name string, data []byte) (*Set, error) {
	doc, root, err := decodeDoc(name, data)
	if err != nil {
		return nil, err
	}
	s, err := compile(doc)
	if err != nil {
		return nil, located(name, root, err, lineShift{})
	}
	return s, nil
}

// decodeDoc decodes a whole document strictly; root is its node tree, for
// the lines of later errors.
func decodeDoc(name string, data []byte) (*fileDoc, *yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, nil, yamlError(name, nil, err, lineShift{})
	}
	if len(root.Content) == 0 {
		return nil, nil, fmt.Errorf("%s: the file is empty; it needs at least `version: %d`", name, Version)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc fileDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, yamlError(name, &root, err, lineShift{})
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%s: the file holds more than one YAML document", name)
	}
	return &doc, &root, nil
}

// located turns a compile error into "name:line: path: message".
func located(name string, root *yaml.Node, err error, sh lineShift) error {
	var fe *fieldError
	switch {
	case errors.As(err, &fe) && root != nil:
		line := config.LineOf(root, sh.local(fe.path))
		return fmt.Errorf("%s:%d: %s: %s", name, line+sh.lines, fe.path, fe.msg)
	case fe != nil:
		return fmt.Errorf("%s: %s: %s", name, fe.path, fe.msg)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// fieldError is a semantic error at a field path such as
// bindings[1].require.workloads[0].
type fieldError struct {
	path string
	msg  string
}

func (e *fieldError) Error() string { return e.path + ": " + e.msg }

func bad(path, format string, args ...any) error {
	return &fieldError{path: path, msg: fmt.Sprintf(format, args...)}
}

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)
var unknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

var lineRef = regexp.MustCompile(`\bline (\d+)\b`)

// yamlError turns a YAML decoding error into "name:line: path: message",
// one line per problem. sh maps the lines and binding positions of a batch
// of bindings to the file's.
func yamlError(name string, root *yaml.Node, err error, sh lineShift) error {
	var te *yaml.TypeError
	msgs := []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		sm := yamlLine.FindStringSubmatch(m)
		if sm == nil {
			out = append(out, name+": "+sh.text(m))
			continue
		}
		line, _ := strconv.Atoi(sm[1])
		msg := sm[2]
		key := ""
		if um := unknownField.FindStringSubmatch(msg); um != nil {
			key = um[1]
			msg = fmt.Sprintf("unknown field %q", key)
		} else {
			msg = strings.ReplaceAll(msg, " into binding.", " into ")
		}
		msg = sh.text(msg)
		if p := pathAt(root, line, key); p != "" {
			out = append(out, fmt.Sprintf("%s:%d: %s: %s", name, line+sh.lines, sh.global(p), msg))
		} else {
			out = append(out, fmt.Sprintf("%s:%d: %s", name, line+sh.lines, msg))
		}
	}
	return errors.New(strings.Join(out, "\n"))
}

// lineShift maps a batch of bindings, decoded on its own, to the file: its
// line 1 is the file's line lines+1, and its bindings[0] the file's
// bindings[index].
type lineShift struct{ lines, index int }

// text shifts the line numbers a YAML message names.
func (sh lineShift) text(msg string) string {
	if sh.lines == 0 {
		return msg
	}
	return lineRef.ReplaceAllStringFunc(msg, func(ref string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(ref, "line "))
		return "line " + strconv.Itoa(n+sh.lines)
	})
}

// global turns a batch's "bindings[k]..." into the file's path.
func (sh lineShift) global(p string) string { return sh.shiftPath(p, sh.index) }

// local turns the file's "bindings[i]..." into the batch's path.
func (sh lineShift) local(p string) string { return sh.shiftPath(p, -sh.index) }

func (sh lineShift) shiftPath(p string, by int) string {
	rest, ok := strings.CutPrefix(p, "bindings[")
	if !ok || by == 0 {
		return p
	}
	num, tail, ok := strings.Cut(rest, "]")
	i, err := strconv.Atoi(num)
	if !ok || err != nil {
		return p
	}
	return "bindings[" + strconv.Itoa(i+by) + "]" + tail
}

// pathAt finds the field path of the mapping key (named key, when key is not
// empty) or sequence item at line.
func pathAt(root *yaml.Node, line int, key string) string {
	if root == nil {
		return ""
	}
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	p, _ := findPath(n, "", line, key, 0)
	return p
}

func findPath(n *yaml.Node, path string, line int, key string, depth int) (string, bool) {
	if depth > 64 {
		return "", false
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if k.Line == line && (key == "" || k.Value == key) {
				return p, true
			}
			if r, ok := findPath(v, p, line, key, depth+1); ok {
				return r, true
			}
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if v.Line == line && v.Kind == yaml.ScalarNode && key == "" {
				return p, true
			}
			if r, ok := findPath(v, p, line, key, depth+1); ok {
				return r, true
			}
		}
	}
	return "", false
}
