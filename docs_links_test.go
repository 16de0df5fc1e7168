package provost_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// markdownDocs are the documents whose links are checked: the README and
// everything under docs/.
func markdownDocs(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md"}
	err := filepath.WalkDir("docs", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var (
	fence     = regexp.MustCompile("(?ms)^\\s*(```|~~~).*?^\\s*(```|~~~)")
	codeSpan  = regexp.MustCompile("`[^`\n]*`")
	inline    = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	reference = regexp.MustCompile(`(?m)^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$`)
	htmlLink  = regexp.MustCompile(`(?i)<(?:a|img)\s[^>]*(?:href|src)="([^"]+)"`)
	scheme    = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	htmlID    = regexp.MustCompile(`(?i)<a\s[^>]*(?:id|name)="([^"]+)"`)
)

// prose is a document without its code: links in code are examples.
func prose(doc string) string {
	return codeSpan.ReplaceAllString(fence.ReplaceAllString(doc, ""), "")
}

// links are the link targets of a Markdown document, outside code.
func links(doc string) []string {
	p := prose(doc)
	var out []string
	for _, re := range []*regexp.Regexp{inline, reference, htmlLink} {
		for _, m := range re.FindAllStringSubmatch(p, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// slug is GitHub's anchor for a heading: lower case, letters, digits,
// spaces (as hyphens), hyphens and underscores kept, the rest dropped.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors are the anchors a Markdown document defines: its headings'
// slugs (a repeated one gets -1, -2, ...) and explicit <a id/name>.
func anchors(doc string) []string {
	var out []string
	seen := map[string]int{}
	for _, l := range strings.Split(fence.ReplaceAllString(doc, ""), "\n") {
		h, ok := strings.CutPrefix(l, "#")
		if !ok {
			continue
		}
		h = strings.TrimLeft(h, "#")
		if !strings.HasPrefix(h, " ") {
			continue
		}
		s := slug(strings.ReplaceAll(h, "`", ""))
		if n := seen[s]; n > 0 {
			out = append(out, fmt.Sprintf("%s-%d", s, n))
		} else {
			out = append(out, s)
		}
		seen[s]++
	}
	for _, m := range htmlID.FindAllStringSubmatch(doc, -1) {
		out = append(out, m[1])
	}
	return out
}

// Every relative link in README.md and docs/ resolves to a file of this
// repository, and every #anchor into a Markdown file to one of its
// headings: a clone of the repository has everything its documents point
// to. Nothing points outside it (../shared, the design outside the repo).
func TestDocumentLinksResolve(t *testing.T) {
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, file := range markdownDocs(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if p := prose(string(data)); strings.Contains(p, "DESIGN.md") || strings.Contains(p, "../shared") {
			t.Errorf("%s names DESIGN.md or ../shared, which a clone does not have: link docs/design.md", file)
		}
		for _, l := range links(string(data)) {
			if scheme.MatchString(l) || strings.HasPrefix(l, "//") {
				continue // absolute URLs: not this repository's files
			}
			checked++
			path, anchor, _ := strings.Cut(l, "#")
			target := file
			if path != "" {
				target = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
			}
			abs, _ := filepath.Abs(target)
			if rel, err := filepath.Rel(root, abs); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				t.Errorf("%s: %s points outside the repository", file, l)
				continue
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s: %s: %s does not exist", file, l, target)
				continue
			}
			if anchor == "" || !strings.HasSuffix(target, ".md") {
				continue
			}
			doc, err := os.ReadFile(target)
			if err != nil {
				t.Errorf("%s: %s: %v", file, l, err)
				continue
			}
			if !slices.Contains(anchors(string(doc)), anchor) {
				t.Errorf("%s: %s: %s has no heading with the anchor #%s", file, l, target, anchor)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d relative links found: the link reader is broken", checked)
	}
}

// The link checker's own parts, so a broken reader cannot pass everything.
func TestLinkReader(t *testing.T) {
	doc := "# Title\n## `match`: one\n## Same\n## Same\n" +
		"see [a](b.md#c) and ![i](img.png \"t\") and `[not](x.md)`\n" +
		"```\n[nor](y.md)\n```\n[ref]: docs/api.md\n<a href=\"z.md\">z</a>\n"
	got := links(doc)
	want := []string{"b.md#c", "img.png", "docs/api.md", "z.md"}
	if !slices.Equal(got, want) {
		t.Errorf("links %v, want %v", got, want)
	}
	if a := anchors(doc); !slices.Equal(a, []string{"title", "match-one", "same", "same-1"}) {
		t.Errorf("anchors %v", a)
	}
	if s := slug("POST /v1/check"); s != "post-v1check" {
		t.Errorf("slug %q", s)
	}
}
