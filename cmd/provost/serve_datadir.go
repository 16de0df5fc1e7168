package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/provost-dev/provost/internal/app"
)

// errNewDataDir refuses to start a new data directory by mistake.
var errNewDataDir = errors.New("refusing to start a new data directory")

// maxScan bounds the entries read from one directory while looking for
// other data directories.
const maxScan = 4096

// guardNewDataDir is what `provost serve` checks before it opens dir: a
// data directory without a server secret gets a new one, and with it new
// fingerprints for every credential, a new evidence log and no
// revocations, so a revoked credential would be accepted again. When that
// looks like a mistake, it refuses (unless allowNew, --new-data-dir):
//
//   - dir has stores but no server secret (the secret was lost or moved);
//   - another data directory (a folder with a server secret) is next to
//     it: inside dir, beside it, or in the configuration file's folder. This is what a copied configuration whose data_dir resolves
//     to a new place looks like.
//
// A data directory that has its secret, or a first start with no other
// data directory around, passes.
func guardNewDataDir(dir, configFile string, allowNew bool) error {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	layout := app.LayoutOf(dir)
	if _, err := os.Stat(layout.Secret); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return nil // present, or unreadable: opening the data directory says why
	}
	if allowNew {
		return nil
	}
	var stores []string
	for _, p := range []string{layout.Revocations, layout.Origins, layout.Evidence} {
		if _, err := os.Stat(p); err == nil {
			stores = append(stores, filepath.Base(p))
		}
	}
	if len(stores) > 0 {
		return fmt.Errorf("%w: %s holds %s but no server secret (%s): a new secret would change every fingerprint and orphan what is there. Restore the secret, or pass --new-data-dir to start over on purpose",
			errNewDataDir, dir, strings.Join(stores, ", "), filepath.Base(layout.Secret))
	}
	if others := nearbyDataDirs(dir, configFile); len(others) > 0 {
		return fmt.Errorf("%w %s while %s next to it holds one (its server secret, evidence log and revocations). "+
			"A new one means new fingerprints, a new evidence log and no revocations: set data_dir (or --data-dir) to the existing one, "+
			"or pass --new-data-dir to start a new one on purpose", errNewDataDir, dir, strings.Join(others, " and "))
	}
	return nil
}

// nearbyDataDirs lists the data directories (folders holding a server
// secret) inside dir, beside it, and in configFile's folder.
func nearbyDataDirs(dir, configFile string) []string {
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return filepath.Clean(p)
	}
	dir = abs(dir)
	places := []string{dir, filepath.Dir(dir)}
	if configFile != "" {
		places = append(places, filepath.Dir(abs(configFile)))
	}
	var found []string
	for _, place := range places {
		candidates := []string{place}
		for _, name := range subdirs(place) {
			candidates = append(candidates, filepath.Join(place, name))
		}
		for _, c := range candidates {
			if c == dir || slices.Contains(found, c) {
				continue
			}
			if fi, err := os.Stat(app.LayoutOf(c).Secret); err == nil && fi.Mode().IsRegular() {
				found = append(found, c)
			}
		}
	}
	return found
}

// subdirs names at most maxScan entries of dir that are folders.
func subdirs(dir string) []string {
	f, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer f.Close()
	entries, _ := f.ReadDir(maxScan)
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}
