package binding

import (
	"bytes"
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

// Load reads and compiles the bindings file at path.
func Load(path string) (*Set, error) {
	data, err := smallfile.Read(path, MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("bindings: %w", err)
	}
	return Parse(path, data)
}

// Parse reads and compiles a bindings document; name is used in errors and
// recorded as Set.File.
func Parse(name string, data []byte) (*Set, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s: the file is larger than %d bytes", name, MaxFileBytes)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, nil, err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: the file is empty; it needs at least `version: %d`", name, Version)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc fileDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, yamlError(name, &root, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: the file holds more than one YAML document", name)
	}
	sum := sha256.Sum256(data)
	s, err := compile(&doc)
	if err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("%s:%d: %s: %s", name, config.LineOf(&root, fe.path), fe.path, fe.msg)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s.File = name
	s.Digest = "sha256:" + hex.EncodeToString(sum[:])
	return s, nil
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

// yamlError turns a YAML decoding error into "name:line: path: message",
// one line per problem.
func yamlError(name string, root *yaml.Node, err error) error {
	var te *yaml.TypeError
	msgs := []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		sm := yamlLine.FindStringSubmatch(m)
		if sm == nil {
			out = append(out, name+": "+m)
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
		if p := pathAt(root, line, key); p != "" {
			out = append(out, fmt.Sprintf("%s:%d: %s: %s", name, line, p, msg))
		} else {
			out = append(out, fmt.Sprintf("%s:%d: %s", name, line, msg))
		}
	}
	return errors.New(strings.Join(out, "\n"))
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
