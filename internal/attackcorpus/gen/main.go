// Command gen writes the attack corpus (package attackcorpus) into a
// directory, testdata/attacks by default. Run it from the repository root:
//
//	go run ./internal/attackcorpus/gen
//
// It writes the same bytes on every run. Files in the directory that the
// generator does not make are named on standard error, not removed.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/provost-dev/provost/internal/attackcorpus"
)

func main() {
	dir := flag.String("dir", filepath.Join("testdata", "attacks"), "the corpus `directory`")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "attackcorpus/gen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	files, err := attackcorpus.Generate()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok {
			fmt.Fprintf(os.Stderr, "attackcorpus/gen: %s is not generated; remove it if it is stale\n", filepath.Join(dir, e.Name()))
		}
	}
	fmt.Printf("wrote %d files to %s\n", len(names), dir)
	return nil
}
