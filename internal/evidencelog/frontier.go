package evidencelog

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// frontier is the right edge of a tree of size records: for each level L
// with size>>L >= 1, the hash of node (L, size>>L - 1), the last complete
// subtree of that level. That is every stored hash tlog needs to append the
// next record (tlog.StoredHashesForRecordHash) or to hash the whole tree
// (tlog.TreeHash), so the writer and Verify keep O(log n) hashes in memory.
type frontier struct {
	size   int64
	hashes [64]tlog.Hash
}

// ReadHashes implements tlog.HashReader over the frontier's nodes only.
func (f *frontier) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		level, n := tlog.SplitStoredHashIndex(x)
		if level >= len(f.hashes) || f.size>>level == 0 || n != f.size>>level-1 {
			return nil, fmt.Errorf("evidencelog: stored hash %d (level %d, node %d) is not on the frontier of a tree of size %d",
				x, level, n, f.size)
		}
		out[i] = f.hashes[level]
	}
	return out, nil
}

// append adds the record with leaf hash h and returns the hashes tlog
// stores for it, starting at tlog.StoredHashIndex(0, old size).
func (f *frontier) append(h tlog.Hash) ([]tlog.Hash, error) {
	hs, err := tlog.StoredHashesForRecordHash(f.size, h, f)
	if err != nil {
		return nil, err
	}
	copy(f.hashes[:], hs)
	f.size++
	return hs, nil
}

// root is the RFC 6962 tree head of the frontier's tree.
func (f *frontier) root() (tlog.Hash, error) {
	return tlog.TreeHash(f.size, f)
}

// frontierIndexes lists the stored hash indexes of a tree of size n's frontier, by level.
func frontierIndexes(n int64) []int64 {
	var idx []int64
	for level := 0; level < 63 && n>>level > 0; level++ {
		idx = append(idx, tlog.StoredHashIndex(level, n>>level-1))
	}
	return idx
}

// loadFrontier reads the frontier of a tree of size n from r.
func loadFrontier(r tlog.HashReader, n int64) (frontier, error) {
	f := frontier{size: n}
	hs, err := r.ReadHashes(frontierIndexes(n))
	if err != nil {
		return f, err
	}
	copy(f.hashes[:], hs)
	return f, nil
}
