package evidencetest

import (
	"encoding/hex"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"
)

// The RFC 6962 reference tree: leaf inputs and the root of each prefix,
// from transparency-dev/merkle's testonly package (constants.go).
var (
	vectorLeaves = []string{"", "00", "10", "2021", "3031", "40414243",
		"5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	vectorRoots = []string{
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	// The leaf hash of the empty record, SHA-256(0x00).
	vectorEmptyLeaf = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testRFC6962Vectors(t *testing.T, open func(*testing.T, string) Log) {
	l := open(t, t.TempDir())
	if c := checkpoint(t, l); hex.EncodeToString(c.Root[:]) != vectorRoots[0] {
		t.Fatalf("empty tree root %s, want %s", c.Root, vectorRoots[0])
	}
	for i, leaf := range vectorLeaves {
		rec := unhex(t, leaf)
		e := mustAppend(t, l, rec)
		if i == 0 && hex.EncodeToString(e.LeafHash[:]) != vectorEmptyLeaf {
			t.Fatalf("leaf hash of the empty record %s, want %s", e.LeafHash, vectorEmptyLeaf)
		}
		c := checkpoint(t, l)
		if c.Size != int64(i+1) {
			t.Fatalf("checkpoint size %d after %d records", c.Size, i+1)
		}
		if got := hex.EncodeToString(c.Root[:]); got != vectorRoots[i+1] {
			t.Fatalf("root of the reference tree of size %d: %s, want %s", i+1, got, vectorRoots[i+1])
		}
	}
}

// appendTrees appends n records one by one and returns the records and the
// verified root after each size (roots[0] is the empty tree's).
func appendTrees(t *testing.T, l Log, tag string, n int) (recs [][]byte, leaves, roots []tlog.Hash) {
	t.Helper()
	roots = []tlog.Hash{checkpoint(t, l).Root}
	for i := range n {
		rec := record(tag, i)
		recs = append(recs, rec)
		leaves = append(leaves, leafHash(rec))
		mustAppend(t, l, rec)
		c := checkpoint(t, l)
		if c.Size != int64(i+1) || l.Size() != int64(i+1) {
			t.Fatalf("after %d records: checkpoint size %d, Size %d", i+1, c.Size, l.Size())
		}
		if want := refRoot(t, leaves); c.Root != want {
			t.Fatalf("checkpoint root at size %d is %s, the RFC 6962 root of the records is %s", c.Size, c.Root, want)
		}
		roots = append(roots, c.Root)
	}
	return recs, leaves, roots
}

func testInclusionProofs(t *testing.T, open func(*testing.T, string) Log) {
	l := open(t, t.TempDir())
	const n = 33
	_, leaves, roots := appendTrees(t, l, "incl", n)
	// Every record in every tree that contains it, including trees older
	// than the log's current size.
	for size := int64(1); size <= n; size++ {
		for i := range size {
			wantInclusion(t, l, i, size, leaves[i], roots[size])
		}
	}
	// A proof is for its record only.
	p, err := l.InclusionProof(ctx, 3, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, 3, n, leaves[4][:], hashes(p), roots[n][:]); err == nil {
		t.Fatal("the inclusion proof of record 3 also proves record 4 at index 3")
	}
}

func testConsistencyProofs(t *testing.T, open func(*testing.T, string) Log) {
	l := open(t, t.TempDir())
	const n = 33
	_, _, roots := appendTrees(t, l, "cons", n)
	for new := int64(0); new <= n; new++ {
		for old := int64(0); old <= new; old++ {
			wantConsistency(t, l, old, new, roots[old], roots[new])
		}
	}
}
