package evidencelog

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"
)

// TestProofsSmall checks, on disk, every inclusion proof and every
// consistency proof of every tree of size 1 to 64, and a signed checkpoint
// at each size.
func TestProofsSmall(t *testing.T) {
	const max = 64
	l, _ := openLog(t, Options{Async: true})
	var leaves []tlog.Hash
	roots := []tlog.Hash{refRoot(nil)}
	for i := int64(0); i < max; i++ {
		e, err := l.Append(ctx, record(i))
		if err != nil {
			t.Fatal(err)
		}
		if e.Index != i || e.LeafHash != tlog.RecordHash(record(i)) {
			t.Fatalf("entry %+v for record %d", e, i)
		}
		if err := l.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, e.LeafHash)
		roots = append(roots, refRoot(leaves))
		signed, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c, err := OpenCheckpoint(signed, l.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		if c.Size != i+1 || c.Root != roots[i+1] {
			t.Fatalf("checkpoint %d %s, want %d %s", c.Size, c.Root, i+1, roots[i+1])
		}
	}
	for size := int64(1); size <= max; size++ {
		for i := int64(0); i < size; i++ {
			p, err := l.InclusionProof(ctx, i, size)
			if err != nil {
				t.Fatal(err)
			}
			checkInclusion(t, p, i, size, leaves[i], roots[size])
		}
		for old := int64(0); old <= size; old++ {
			p, err := l.ConsistencyProof(ctx, old, size)
			if err != nil {
				t.Fatal(err)
			}
			checkConsistencyProof(t, p, old, size, roots[old], roots[size])
		}
	}
	if err := l.Verify(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

func TestProofRange(t *testing.T) {
	l, _ := openLog(t, Options{Async: true})
	appendN(t, l, 0, 10)
	tests := []struct {
		name           string
		incl           bool
		a, b           int64
		wantOutOfRange bool
	}{
		{"inclusion ok", true, 9, 10, false},
		{"inclusion index = size", true, 10, 10, true},
		{"inclusion size past log", true, 0, 11, true},
		{"inclusion negative", true, -1, 5, true},
		{"consistency ok", false, 3, 10, false},
		{"consistency from 0", false, 0, 10, false},
		{"consistency same", false, 10, 10, false},
		{"consistency old > new", false, 5, 4, true},
		{"consistency past log", false, 5, 11, true},
		{"consistency negative", false, -1, 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.incl {
				_, err = l.InclusionProof(ctx, tt.a, tt.b)
			} else {
				_, err = l.ConsistencyProof(ctx, tt.a, tt.b)
			}
			if tt.wantOutOfRange {
				wantProblem(t, err, ErrOutOfRange, tt.a)
			} else if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// memTree is a log's stored hashes in memory, built by the writer's own
// frontier code, for the proof math at sizes too big to build on disk in
// a unit test.
type memTree struct {
	hashes []tlog.Hash
	roots  map[int64]tlog.Hash // independent roots (transparency-dev/merkle compact ranges) at chosen sizes
}

func (m *memTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = m.hashes[x]
	}
	return out, nil
}

const bigSize = 1_000_000

var bigTree = sync.OnceValue(func() *memTree { return buildMemTree(bigSize, bigSizes()) })

// bigSizes are the tree sizes the 1M tests prove in: edges and random ones.
func bigSizes() []int64 {
	r := rand.New(rand.NewPCG(1, 2))
	sizes := []int64{1, 2, 1 << 19, 1<<19 + 1, 999_999, bigSize}
	for range 6 {
		sizes = append(sizes, 1+r.Int64N(bigSize))
	}
	return sizes
}

func buildMemTree(n int64, sizes []int64) *memTree {
	want := map[int64]bool{}
	for _, s := range sizes {
		want[s] = true
	}
	m := &memTree{hashes: make([]tlog.Hash, 0, tlog.StoredHashCount(n)), roots: map[int64]tlog.Hash{}}
	var f frontier
	cr := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
	for i := range n {
		h := tlog.RecordHash(record(i))
		hs, err := f.append(h)
		if err != nil {
			panic(err)
		}
		m.hashes = append(m.hashes, hs...)
		if err := cr.Append(h[:], nil); err != nil {
			panic(err)
		}
		if want[i+1] {
			r, err := cr.GetRootHash(nil)
			if err != nil {
				panic(err)
			}
			m.roots[i+1] = tlog.Hash(r)
			if mine, _ := f.root(); mine != m.roots[i+1] {
				panic("frontier root differs from merkle's compact range root")
			}
		}
	}
	return m
}

// TestProofsBig checks inclusion and consistency proofs in trees of random
// sizes up to 1,000,000 records, in memory: the stored hashes come from the
// writer's frontier code, the roots from transparency-dev/merkle.
func TestProofsBig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 1M-record tree")
	}
	m := bigTree()
	r := rand.New(rand.NewPCG(3, 4))
	sizes := bigSizes()
	for _, size := range sizes {
		root := m.roots[size]
		if got, err := tlog.TreeHash(size, m); err != nil || got != root {
			t.Fatalf("size %d: tlog root %s (%v), merkle root %s", size, got, err, root)
		}
		for _, i := range []int64{0, size - 1, r.Int64N(size), r.Int64N(size)} {
			p, err := tlog.ProveRecord(size, i, m)
			if err != nil {
				t.Fatal(err)
			}
			checkInclusion(t, p, i, size, tlog.RecordHash(record(i)), root)
		}
		for _, old := range sizes {
			if old > size {
				continue
			}
			p, err := tlog.ProveTree(size, old, m)
			if err != nil {
				t.Fatal(err)
			}
			checkConsistencyProof(t, p, old, size, m.roots[old], root)
		}
	}
}

// TestProofsDisk checks proofs at random sizes of a few-thousand-record log
// on disk, against roots from transparency-dev/merkle, and verifies it.
func TestProofsDisk(t *testing.T) {
	const n = 3000
	l, _ := openLog(t, Options{Async: true, MaxBatch: 1000})
	appendN(t, l, 0, n)
	r := rand.New(rand.NewPCG(5, 6))
	sizes := []int64{1, 1024, 1025, n - 1, n}
	for range 5 {
		sizes = append(sizes, 1+r.Int64N(n))
	}
	m := buildMemTree(n, sizes)
	for _, size := range sizes {
		root := m.roots[size]
		for _, i := range []int64{0, size - 1, r.Int64N(size)} {
			p, err := l.InclusionProof(ctx, i, size)
			if err != nil {
				t.Fatal(err)
			}
			checkInclusion(t, p, i, size, tlog.RecordHash(record(i)), root)
		}
		for _, old := range sizes {
			if old > size {
				continue
			}
			p, err := l.ConsistencyProof(ctx, old, size)
			if err != nil {
				t.Fatal(err)
			}
			checkConsistencyProof(t, p, old, size, m.roots[old], root)
		}
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	var calls, last int64
	if err := l.Verify(ctx, func(done, total int64) {
		calls++
		if total != n || done <= last {
			t.Errorf("progress(%d, %d) after %d", done, total, last)
		}
		last = done
	}); err != nil {
		t.Fatal(err)
	}
	if calls != 3 || last != n {
		t.Errorf("progress called %d times, last %d; want 3, %d", calls, last, n)
	}
}
