package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// pieceLen is the length of the pieces of a secret the leak scan looks for:
// a 20-character piece of a random secret found anywhere is no accident.
const pieceLen = 20

// leakScan searches everything a test collected (answers, log lines,
// command output, files) for any pieceLen-character piece of the secret
// part of every secret the test used. Pieces that also occur in public
// material (the public keys, the configuration) are dropped first, so a
// hit is a real leak.
type leakScan struct {
	mu      sync.Mutex
	secrets []*leakSecret
	public  [][]byte
	sources []leakSource
	// pieces maps each piece to the secrets it is a piece of.
	pieces  map[string][]*leakSecret
	dropped int // pieces dropped because public material holds them
}

// leakSecret is one secret: a credential, a private key, the server
// secret, a token.
type leakSecret struct {
	name   string
	home   string // the file that stores this secret by design ("" none): not searched for it
	pieces []string
}

// leakSource is one thing searched: an answer, a log, an output, a file.
type leakSource struct {
	name string
	file string // its path when it is a file, for leakSecret.home
	data []byte
}

// leakHit is one secret found in one source.
type leakHit struct {
	source, secret string
	offset, count  int
	context        string
}

// addPublic registers public material: pieces found in it are not secret.
func (s *leakScan) addPublic(data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.public = append(s.public, data)
}

// addSecret registers a secret by its pieces.
func (s *leakScan) addSecret(name, home string, pieces []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.secrets {
		if have.name == name {
			have.pieces = append(have.pieces, pieces...)
			return
		}
	}
	s.secrets = append(s.secrets, &leakSecret{name: name, home: home, pieces: pieces})
}

// addSource registers something to search.
func (s *leakScan) addSource(name string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sources = append(s.sources, leakSource{name: name, data: bytes.Clone(data)})
}

// addDir registers every regular file under dir (text or binary) as a
// source named prefix + its relative path. It returns how many files and
// bytes it added.
func (s *leakScan) addDir(t *testing.T, prefix, dir string) (files, size int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		kind := "binary"
		if utf8.Valid(data) && !bytes.ContainsRune(data, 0) {
			kind = "text"
		}
		s.mu.Lock()
		s.sources = append(s.sources, leakSource{name: fmt.Sprintf("%s%s (%s file)", prefix, rel, kind), file: path, data: data})
		s.mu.Unlock()
		files++
		size += len(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, size
}

// index builds the piece table, dropping every piece public material holds.
func (s *leakScan) index() {
	s.pieces = map[string][]*leakSecret{}
	s.dropped = 0
	for _, sec := range s.secrets {
		for _, p := range sec.pieces {
			if len(p) != pieceLen {
				panic("leak scan: piece of " + sec.name + " is not pieceLen long")
			}
			public := false
			for _, pub := range s.public {
				public = public || bytes.Contains(pub, []byte(p))
			}
			if public {
				s.dropped++
				continue
			}
			if !slices.Contains(s.pieces[p], sec) {
				s.pieces[p] = append(s.pieces[p], sec)
			}
		}
	}
}

// run searches every source for every piece: one pass over each source,
// looking each window up in the piece table.
func (s *leakScan) run() []leakHit {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.index()
	var hits []leakHit
	for _, src := range s.sources {
		found := map[*leakSecret]*leakHit{}
		var order []*leakSecret
		for i := 0; i+pieceLen <= len(src.data); i++ {
			secs, ok := s.pieces[string(src.data[i:i+pieceLen])]
			if !ok {
				continue
			}
			for _, sec := range secs {
				if sec.home != "" && sec.home == src.file {
					continue // the secret's own file
				}
				if h := found[sec]; h != nil {
					h.count++
					continue
				}
				found[sec] = &leakHit{source: src.name, secret: sec.name, offset: i, count: 1, context: s.masked(src.data, i)}
				order = append(order, sec)
			}
		}
		for _, sec := range order {
			hits = append(hits, *found[sec])
		}
	}
	return hits
}

// masked is the text around offset with every byte of any secret piece
// replaced by '*', so a report shows where a leak is without repeating it.
func (s *leakScan) masked(data []byte, offset int) string {
	lo, hi := max(0, offset-60), min(len(data), offset+pieceLen+60)
	out := []byte(string(data[lo:hi]))
	for i := max(0, lo-pieceLen+1); i < hi && i+pieceLen <= len(data); i++ {
		if _, ok := s.pieces[string(data[i:i+pieceLen])]; !ok {
			continue
		}
		for j := max(i, lo); j < i+pieceLen && j < hi; j++ {
			out[j-lo] = '*'
		}
	}
	for i, c := range out {
		if c < 0x20 || c >= 0x7f {
			out[i] = '.'
		}
	}
	return string(out)
}

// counts says how many secrets, pieces, sources and bytes the scan covers.
func (s *leakScan) counts() (secrets, pieces, sources, size int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, src := range s.sources {
		size += len(src.data)
	}
	return len(s.secrets), len(s.pieces), len(s.sources), size
}

// windows returns every pieceLen-byte piece of v.
func windows(v string) []string {
	var out []string
	for i := 0; i+pieceLen <= len(v); i++ {
		out = append(out, v[i:i+pieceLen])
	}
	return out
}

// minSecret is the least a piece must hold of a secret's secret part (in
// characters of its encoding, about 60 bits): a piece that holds a public
// prefix (a JWS header and payload, a key's name and hash) and one or two
// characters of the secret part may match public text by chance.
const minSecret = 10

// piecesFrom are the pieces of v that hold at least minSecret characters
// from at on: v[at:] is the secret part, v[:at] public.
func piecesFrom(v string, at int) []string {
	var out []string
	for i := max(0, at+minSecret-pieceLen); i+pieceLen <= len(v); i++ {
		out = append(out, v[i:i+pieceLen])
	}
	return out
}

// jwtPieces are the pieces of a compact JWS that span its signature: its
// header and payload are shared with other tokens or readable by design,
// but no piece that holds minSecret characters of the signature may
// appear anywhere.
func jwtPieces(tok string) []string {
	return piecesFrom(tok, strings.LastIndexByte(tok, '.')+1)
}

// rawPieces are the pieces of a random byte string in every form it could
// be written: the bytes themselves, hex (both cases) and base64 (standard
// and URL alphabets, padded or not).
func rawPieces(raw []byte) []string {
	var out []string
	for _, enc := range []string{
		string(raw),
		hex.EncodeToString(raw), strings.ToUpper(hex.EncodeToString(raw)),
		base64.StdEncoding.EncodeToString(raw), base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw),
	} {
		out = append(out, windows(enc)...)
	}
	return out
}

// privateKeyPieces are the pieces of a private key: its private scalar or
// seed in every raw form (rawPieces), and the pieces of its PKCS #8 PEM
// body (as one line, as PEM lines, and as PEM inside a JSON string) that
// cover at least one byte of the private part. Pieces of the ASN.1 framing
// every key of the type shares, or of the public key a PKCS #8 EC key
// carries, are not secret and are left out.
func privateKeyPieces(t *testing.T, k crypto.Signer) []string {
	t.Helper()
	var priv []byte
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		b, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		priv = b
	case ed25519.PrivateKey:
		priv = k.Seed()
	default:
		t.Fatalf("leak scan: no private part known for %T", k)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(der, priv)
	if at < 0 {
		t.Fatalf("leak scan: the private part of a %T is not in its PKCS #8 encoding", k)
	}
	out := rawPieces(priv)
	b64 := base64.StdEncoding.EncodeToString(der)
	// covers says whether base64 characters [i, j) of the body encode at
	// least minSecret*6/8 bytes of the private part (as many bits as
	// minSecret characters).
	covers := func(i, j int) bool {
		first, last := max(i*6/8, at), min((j*6-1)/8, at+len(priv)-1)
		return last-first+1 >= minSecret*6/8
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	forms := []struct{ text, newline string }{
		{b64, ""},
		{pemText, "\n"},
		{strings.ReplaceAll(pemText, "\n", `\n`), `\n`},
	}
	for _, f := range forms {
		// pos[i] is the index in b64 of the character f.text[i], or -1
		// for the PEM lines and line breaks around and between.
		pos := make([]int, len(f.text))
		for i := range pos {
			pos[i] = -1
		}
		start, end := 0, len(f.text)
		if f.newline != "" {
			start = strings.Index(f.text, f.newline) + len(f.newline)
			end = strings.Index(f.text, "-----END")
		}
		for i, k := start, 0; i < end; {
			if f.newline != "" && strings.HasPrefix(f.text[i:], f.newline) {
				i += len(f.newline)
				continue
			}
			pos[i] = k
			i, k = i+1, k+1
		}
		for i := 0; i+pieceLen <= len(f.text); i++ {
			lo, hi := -1, -1
			for j := i; j < i+pieceLen; j++ {
				if pos[j] >= 0 {
					if lo < 0 {
						lo = pos[j]
					}
					hi = pos[j] + 1
				}
			}
			if lo >= 0 && covers(lo, hi) {
				out = append(out, f.text[i:i+pieceLen])
			}
		}
	}
	return out
}

// scanBuffer is a bytes.Buffer safe for concurrent writers (a server's
// log).
type scanBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *scanBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *scanBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}
