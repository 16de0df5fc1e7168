package fingerprint

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateSecretCreatesThenLoads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	first, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != SecretSize {
		t.Fatalf("secret is %d bytes", len(first))
	}
	if bytes.Equal(first, make([]byte, SecretSize)) {
		t.Fatal("secret is all zero")
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %#o, want 0700", di.Mode().Perm())
	}
	fi, err := os.Stat(filepath.Join(dir, SecretFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %#o, want 0600", fi.Mode().Perm())
	}
	second, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatal("second start returned a different secret")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries, want only %s (temp file left behind?)", len(entries), SecretFile)
	}
}

func TestLoadOrCreateSecretConcurrentStarts(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = LoadOrCreateSecret(dir)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("start %d got a different secret: an existing secret was overwritten", i)
		}
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, SecretFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, got[0]) {
		t.Fatal("secret on disk differs from the one returned")
	}
}

func TestLoadOrCreateSecretRefuses(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
		mode    os.FileMode
		dir     bool
		want    string
	}{
		{"group readable", bytes.Repeat([]byte{1}, 32), 0o640, false, "group or others"},
		{"world readable", bytes.Repeat([]byte{1}, 32), 0o604, false, "group or others"},
		{"group writable", bytes.Repeat([]byte{1}, 32), 0o620, false, "group or others"},
		{"short", bytes.Repeat([]byte{1}, 31), 0o600, false, "31 bytes"},
		{"long", bytes.Repeat([]byte{1}, 33), 0o600, false, "33 bytes"},
		{"empty", nil, 0o600, false, "0 bytes"},
		{"directory", nil, 0o700, true, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, SecretFile)
			if tt.dir {
				if err := os.Mkdir(path, tt.mode); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := os.WriteFile(path, tt.content, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadOrCreateSecret(dir)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not name the path and %q", err, tt.want)
			}
			if !tt.dir {
				after, _ := os.ReadFile(path)
				if !bytes.Equal(after, tt.content) {
					t.Fatal("refused secret was modified")
				}
			}
		})
	}
}

func TestLoadOrCreateSecretKeepsValidExisting(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte{7}, SecretSize)
	if err := os.WriteFile(filepath.Join(dir, SecretFile), want, 0o400); err != nil {
		t.Fatal(err)
	}
	got, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("existing secret not returned")
	}
}

func TestLoadOrCreateSecretEmptyDir(t *testing.T) {
	if _, err := LoadOrCreateSecret(""); err == nil {
		t.Fatal("no error for empty dir")
	}
}
