package trail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/evidencelog"
)

// followLog is an evidence log in a temporary directory, open for writing.
func followLog(t *testing.T) (string, *evidencelog.Log) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "evidence")
	l, err := evidencelog.Open(context.Background(), dir, evidencelog.Options{Name: "provost.evidence/follow-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return dir, l
}

func appendRecords(t *testing.T, l *evidencelog.Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		s := spec{fp: fmt.Sprintf("fp1:c%d", i%3), client: "10.0.0.1", method: "GET", path: fmt.Sprintf("/r/%d", i), at: time.Duration(i) * time.Second}
		if _, err := l.Append(context.Background(), s.record(t)); err != nil {
			t.Error(err)
			return
		}
	}
}

// collector gathers what a Follow emits and cancels it once it has want
// records.
type collector struct {
	mu     sync.Mutex
	paths  []string
	saved  []Position
	want   int
	cancel context.CancelFunc
}

func (c *collector) emit(b Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range b.Entries {
		if string(b.Raw[i]) == "" {
			return errors.New("a batch entry without its bytes")
		}
		c.paths = append(c.paths, e.Record.Request.Path)
	}
	if len(c.paths) >= c.want {
		c.cancel()
	}
	return nil
}

func (c *collector) save(p Position) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.saved = append(c.saved, p)
	return nil
}

func paths(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("/r/%d", i))
	}
	return out
}

func runFollow(t *testing.T, dir string, pos Position, want int, m *Matcher, during func()) *collector {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a bound on a hang, not a timing assertion
	defer cancel()
	c := &collector{want: want, cancel: cancel}
	f := &Follow{
		Open: func(ctx context.Context) (FollowSource, error) {
			return evidencelog.Open(ctx, dir, evidencelog.Options{ReadOnly: true})
		},
		Match: m, Poll: 5 * time.Millisecond, Emit: c.emit, Save: c.save,
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx, pos) }()
	if during != nil {
		during()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("follow gave %d records in a minute, want %d", len(c.paths), want)
	}
	return c
}

func TestFollowConcurrentWriterAndResume(t *testing.T) {
	dir, l := followLog(t)
	appendRecords(t, l, 0, 1500) // more than a batch before following starts

	// A writer appends while the follower runs; the follower stops once
	// it has every record.
	c := runFollow(t, dir, Position{}, 2600, nil, func() { appendRecords(t, l, 1500, 1100) })
	if !slices.Equal(c.paths, paths(0, 2600)) {
		t.Fatalf("followed %d records, not records 0 to 2599 in order", len(c.paths))
	}
	last := c.saved[len(c.saved)-1]
	if last.Next != 2600 || last.Log != l.VerifierKey() {
		t.Fatalf("last position %+v", last)
	}

	// The position survives a restart through its file; a follower
	// started from it gives exactly the records appended since.
	file := filepath.Join(t.TempDir(), "pos.json")
	if err := WritePosition(file, last); err != nil {
		t.Fatal(err)
	}
	appendRecords(t, l, 2600, 30)
	pos, err := ReadPosition(file)
	if err != nil || pos != last {
		t.Fatalf("read back %+v, %v; want %+v", pos, err, last)
	}
	c = runFollow(t, dir, pos, 30, nil, nil)
	if !slices.Equal(c.paths, paths(2600, 2630)) {
		t.Fatalf("after the restart: %v", c.paths)
	}

	// Stopped in the middle (a position saved after an earlier batch):
	// resuming there repeats nothing and misses nothing.
	mid := Position{}
	for _, p := range runFollow(t, dir, Position{}, 2630, nil, nil).saved {
		if p.Next == 2000 {
			mid = p
		}
	}
	if mid.Next != 2000 {
		t.Fatal("no position saved at 2000")
	}
	if c = runFollow(t, dir, mid, 630, nil, nil); !slices.Equal(c.paths, paths(2000, 2630)) {
		t.Fatalf("from 2000: %d records", len(c.paths))
	}

	// A filter: only credential c1, positions still cover every record.
	m, err := NewMatcher(Filter{Fingerprint: "fp1:c1"})
	if err != nil {
		t.Fatal(err)
	}
	c = runFollow(t, dir, mid, 210, m, nil)
	want := []string{}
	for i := 2000; i < 2630; i++ {
		if i%3 == 1 {
			want = append(want, fmt.Sprintf("/r/%d", i))
		}
	}
	if !slices.Equal(c.paths, want) {
		t.Fatalf("filtered: %d records, want %d", len(c.paths), len(want))
	}
}

func TestFollowRefusesAnotherPosition(t *testing.T) {
	dir, l := followLog(t)
	appendRecords(t, l, 0, 10)
	_, other := followLog(t)
	appendRecords(t, other, 0, 10)
	good := runFollow(t, dir, Position{}, 10, nil, nil).saved[0]
	bad := map[string]Position{
		"another log":     {Log: other.VerifierKey(), Next: 5, LastLeaf: good.LastLeaf},
		"past the end":    {Log: good.Log, Next: 11, LastLeaf: good.LastLeaf},
		"another record":  {Log: good.Log, Next: 9, LastLeaf: good.LastLeaf},
		"leaf not base64": {Log: good.Log, Next: 10, LastLeaf: "%%%"},
	}
	for name, pos := range bad {
		t.Run(name, func(t *testing.T) {
			f := &Follow{Open: func(ctx context.Context) (FollowSource, error) {
				return evidencelog.Open(ctx, dir, evidencelog.Options{ReadOnly: true})
			}, Poll: time.Millisecond, Emit: func(Batch) error { return errors.New("emitted") }}
			if err := f.Run(context.Background(), pos); !errors.Is(err, ErrPosition) {
				t.Errorf("got %v, want ErrPosition", err)
			}
		})
	}
	// An Emit that fails ends the follow before the position is saved.
	saved := false
	f := &Follow{Open: func(ctx context.Context) (FollowSource, error) {
		return evidencelog.Open(ctx, dir, evidencelog.Options{ReadOnly: true})
	}, Poll: time.Millisecond, Emit: func(Batch) error { return errors.New("stdout closed") },
		Save: func(Position) error { saved = true; return nil }}
	if err := f.Run(context.Background(), Position{}); err == nil || saved {
		t.Errorf("a failing emit: %v, saved %v", err, saved)
	}
}

func TestPositionFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pos")
	if p, err := ReadPosition(file); err != nil || p != (Position{}) {
		t.Fatalf("missing file: %+v, %v", p, err)
	}
	for name, body := range map[string]string{
		"not json":       "next=4",
		"empty":          "",
		"trailing data":  "{}{",
		"unknown field":  `{"log":"l","next":1,"last_leaf":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","extra":1}`,
		"negative":       `{"next":-1}`,
		"no log":         `{"next":3,"last_leaf":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`,
		"short leaf":     `{"log":"l","next":3,"last_leaf":"AAAA"}`,
		"too large file": `{"log":"` + string(make([]byte, 5000)) + `"}`,
	} {
		os.WriteFile(file, []byte(body), 0o600)
		if _, err := ReadPosition(file); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	want := Position{Log: "log+1234+key", Next: 42, LastLeaf: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
	if err := WritePosition(file, want); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadPosition(file); err != nil || got != want {
		t.Errorf("round trip: %+v, %v", got, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d files, want the position alone", len(entries))
	}
	if err := WritePosition(filepath.Join(dir, "missing", "pos"), want); err == nil {
		t.Error("a position in a missing directory was written")
	}
}
