package binding

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// errNotSplit says a file is not in the layout parseSplit reads; it is then
// read as one document.
var errNotSplit = errors.New("bindings: not in the block layout")

// batchBytes is about how much YAML one batch of bindings holds: decoded
// together, their nodes are freed before the next batch.
const batchBytes = 64 << 10

// layout is where a file's parts are: every top-level key but bindings (the
// header), and the items of the bindings block sequence, in batches.
type layout struct {
	header  []byte  // the file with the bindings block blanked out: lines keep their numbers
	batches []batch // in file order
	itemCol int     // the column of the items' '-'
	items   int     // how many items the batches hold
	// The file before and after the block: each must parse on its own.
	before, after []byte
	afterLine     int // the file's line of after's first line
}

// batch is a run of items of the block sequence: data[start:end], from the
// file's line line on, holding n items.
type batch struct {
	start, end int
	line, n    int
}

// parseSplit reads a file in the usual block layout one batch of bindings
// at a time: the header is decoded and compiled first (the networks the
// bindings name are in it), then each batch is decoded, its bindings
// compiled, and its nodes dropped. A file in any other layout gives
// errNotSplit, as does an alias a batch cannot resolve on its own.
//
// Every part (the file before the block, each batch, the file after it)
// must parse on its own. A part cut out of the middle of a quoted scalar
// or a flow collection spanning lines does not: what precedes the cut is
// unterminated. So a file that parseSplit reads has the meaning the whole
// document has; one it refuses may still load as a whole (YAML parsers
// accept flow content and quoted scalars continued at column 0), which
// ParseLimit tries for files of at most MaxFileBytes.
func parseSplit(ctx context.Context, name string, data []byte) (*Set, error) {
	lay, ok := split(data)
	if !ok {
		return nil, errNotSplit
	}
	for _, part := range []struct {
		src []byte
		sh  lineShift
	}{{lay.before, lineShift{}}, {lay.after, lineShift{lines: lay.afterLine - 1}}} {
		var n yaml.Node
		if err := yaml.Unmarshal(part.src, &n); err != nil {
			return nil, yamlError(name, nil, err, part.sh)
		}
	}
	doc, root, err := decodeDoc(name, lay.header)
	if err != nil {
		if aliasError(err) {
			return nil, errNotSplit
		}
		return nil, err
	}
	c, err := newCompiler(doc)
	if err != nil {
		return nil, located(name, root, err, lineShift{})
	}
	c.set.Bindings = make([]*Binding, 0, lay.items)
	c.names = make(map[string]struct{}, lay.items)
	batches := lay.batches
	// Batches are decoded and compiled side by side, a round of one per
	// worker at a time, and kept in file order.
	workers := make([]*compiler, max(1, min(runtime.GOMAXPROCS(0), maxWorkers, len(batches))))
	for k := range workers {
		workers[k] = c.worker()
	}
	done := make([]batchResult, len(workers))
	for round := 0; round < len(batches); round += len(workers) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		n := min(len(workers), len(batches)-round)
		next := len(c.set.Bindings) // where the round's first batch starts
		var wg sync.WaitGroup
		for k := range n {
			at := next
			wg.Go(func() {
				done[k] = workers[k].compileBatch(name, data, batches[round+k], lay.itemCol, at)
			})
			// The next batch most likely starts at its first item; should
			// it not, it is made again below, for its errors' positions.
			next += batches[round+k].n
		}
		wg.Wait()
		for k := range n {
			r := done[k]
			done[k] = batchResult{}
			if r.index != len(c.set.Bindings) {
				r = c.compileBatch(name, data, batches[round+k], lay.itemCol, len(c.set.Bindings))
			}
			if r.err != nil {
				return nil, r.err
			}
			for j, b := range r.bindings {
				if err := c.keep(r.index+j, b); err != nil {
					return nil, located(name, batchRoot(r.src), err, r.shift)
				}
			}
		}
	}
	return c.finish(), nil
}

// maxWorkers bounds how many batches are decoded at once.
const maxWorkers = 8

// batchResult is a batch decoded and compiled, or why it is not.
type batchResult struct {
	bindings []*Binding
	err      error
	index    int    // the position the batch's first binding was given
	src      []byte // the batch's YAML
	shift    lineShift
}

// compileBatch decodes the bindings of a batch, the first of which is
// taken to be bindings[index], and compiles them. Its items are usually one
// binding each; should a scalar or flow collection continued at the items'
// column make several one, the batch still decodes as the whole document
// does, since the batch's ends are real ends.
func (c *compiler) compileBatch(name string, data []byte, b batch, itemCol, index int) batchResult {
	r := batchResult{index: index, src: data[b.start:b.end]}
	r.shift = lineShift{lines: b.line - 1, index: index}
	docs, ok := fastDecode(r.src, itemCol, b.n, c.docs)
	if ok {
		c.docs = docs // reused by the next batch: the bindings keep no part of it
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(r.src))
		dec.KnownFields(true)
		if err := dec.Decode(&docs); err != nil {
			if aliasError(err) {
				r.err = errNotSplit
			} else {
				r.err = yamlError(name, batchRoot(r.src), err, r.shift)
			}
			return r
		}
	}
	r.bindings = make([]*Binding, len(docs))
	slab := make([]Binding, len(docs)) // one allocation for the batch's bindings
	for k := range docs {
		if err := c.fillAt(&slab[k], index+k, &docs[k]); err != nil {
			r.err = located(name, batchRoot(r.src), err, r.shift)
			return r
		}
		r.bindings[k] = &slab[k]
	}
	return r
}

// batchRoot parses a batch as {bindings: [...]}, so that error paths and
// lines are found as in the whole file; nil when it does not parse.
func batchRoot(src []byte) *yaml.Node {
	var doc yaml.Node
	if yaml.Unmarshal(src, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	key := &yaml.Node{Kind: yaml.ScalarNode, Value: "bindings"}
	return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{key, doc.Content[0]}}
}

// aliasError reports a YAML error about an alias whose anchor is in
// another part of the file.
func aliasError(err error) bool {
	return strings.Contains(err.Error(), "unknown anchor")
}

// split finds the layout of data, or reports that it is not the one
// parseSplit reads: top-level keys as plain words at column 0, "bindings:"
// once, with nothing after it but a comment, followed by a block sequence
// whose items all start at the same column with "- " and whose other lines
// are blank, comments or indented further. Anything else (flow style,
// directives, document markers, tabs or a carriage return alone as line
// break, a line indented less than the items but not at column 0) is not.
//
// A part cut out of a quoted scalar or a flow collection spanning lines
// leaves that part unterminated, so it fails to decode rather than decoding
// to something else; block scalars cannot hold a line at the items' column.
func split(data []byte) (layout, bool) {
	var lay layout
	const (
		inHeader = iota
		inBlock
	)
	state, itemCol, seenKey, seenBindings := inHeader, -1, false, false
	blockStart, blockEnd, blockEndLine := -1, len(data), 0
	line := 0
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end < 0 {
			end = len(data)
		} else {
			end += off
			next = end + 1
		}
		line++
		text := data[off:end]
		if len(text) > 0 && text[len(text)-1] == '\r' {
			text = text[:len(text)-1]
		}
		if bytes.IndexByte(text, '\r') >= 0 {
			return lay, false
		}
		col := 0
		for col < len(text) && text[col] == ' ' {
			col++
		}
		rest := text[col:]
		if len(bytes.TrimLeft(rest, " \t")) == 0 || rest[0] == '#' {
			off = next
			continue
		}
		if rest[0] == '\t' {
			return lay, false
		}
	again:
		switch state {
		case inHeader:
			if col > 0 {
				if !seenKey {
					return lay, false
				}
				break
			}
			key, after, ok := topKey(rest)
			if !ok {
				return lay, false
			}
			seenKey = true
			if key == "bindings" {
				if seenBindings || !blankOrComment(after) {
					return lay, false
				}
				seenBindings = true
				state, blockStart = inBlock, next
			}
		case inBlock:
			isItem := rest[0] == '-' && (len(rest) == 1 || rest[1] == ' ')
			switch {
			case isItem && (itemCol < 0 || col == itemCol):
				if itemCol < 0 {
					itemCol = col
				}
				if n := len(lay.batches); n == 0 || off-lay.batches[n-1].start >= batchBytes {
					if n > 0 {
						lay.batches[n-1].end = off
					}
					lay.batches = append(lay.batches, batch{start: off, end: -1, line: line})
				}
				lay.batches[len(lay.batches)-1].n++
				lay.items++
			case itemCol >= 0 && col > itemCol:
			case col == 0:
				blockEnd, blockEndLine, state = off, line, inHeader
				if n := len(lay.batches); n > 0 {
					lay.batches[n-1].end = off
				}
				goto again
			default:
				return lay, false
			}
		}
		off = next
	}
	if n := len(lay.batches); n > 0 && lay.batches[n-1].end < 0 {
		lay.batches[n-1].end = blockEnd
	}
	lay.itemCol = itemCol
	if blockStart < 0 || lay.items == 0 {
		lay.header = data
		return lay, true
	}
	lay.before, lay.after, lay.afterLine = data[:blockStart], data[blockEnd:], blockEndLine
	lines := bytes.Count(data[blockStart:blockEnd], []byte{'\n'})
	lay.header = make([]byte, 0, blockStart+lines+len(data)-blockEnd)
	lay.header = append(lay.header, data[:blockStart]...)
	lay.header = append(lay.header, bytes.Repeat([]byte{'\n'}, lines)...)
	lay.header = append(lay.header, data[blockEnd:]...)
	return lay, true
}

// topKey reads a top-level "key:" at the start of a line: the key is a
// plain word of letters, digits and '_'; after is what follows the colon.
func topKey(line []byte) (key string, after []byte, ok bool) {
	i := 0
	for i < len(line) && (line[i] >= 'a' && line[i] <= 'z' || line[i] >= 'A' && line[i] <= 'Z' || line[i] == '_' ||
		i > 0 && line[i] >= '0' && line[i] <= '9') {
		i++
	}
	if i == 0 {
		return "", nil, false
	}
	j := i
	for j < len(line) && line[j] == ' ' {
		j++
	}
	if j == len(line) || line[j] != ':' || j+1 < len(line) && line[j+1] != ' ' && line[j+1] != '\t' {
		return "", nil, false
	}
	return string(line[:i]), line[j+1:], true
}

func blankOrComment(b []byte) bool {
	b = bytes.TrimLeft(b, " \t")
	return len(b) == 0 || b[0] == '#'
}
