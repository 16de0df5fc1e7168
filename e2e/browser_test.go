package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var updateScreenshots = flag.Bool("update-screenshots", false,
	"write the screenshots docs/investigate.md and README.md show into ../docs/images/")

// actionTimeout bounds one browser step (a navigation, a wait, a click).
const actionTimeout = 30 * time.Second

// chromiumPath finds Debian's chromium. Without it the test skips, or
// fails when CI is set: nothing may skip silently in CI.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("E2E_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "chromium is not installed (apt-get install chromium; scripts/test.sh installs it on a root+apt machine)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + ": the browser tests cannot run, and CI is set")
	}
	t.Skip(msg + ": skipping the browser tests")
	return ""
}

// browser is one headless chromium with a profile of its own (its own
// cookies), and one tab.
type browser struct {
	t    *testing.T
	name string
	ctx  context.Context // the tab; no deadline (each step has its own)
}

// newBrowser starts a chromium for t; it ends when t ends. When t fails,
// the tab's last state is saved as a screenshot in the artifacts folder.
func newBrowser(t *testing.T, name string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 860),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "en-US"),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	b := &browser{t: t, name: name, ctx: ctx}
	// Cleanups run last-in first-out: the screenshot comes before the tab
	// and the browser close.
	t.Cleanup(cancelAlloc)
	t.Cleanup(cancelTab)
	start, cancel := context.WithTimeout(context.Background(), actionTimeout)
	defer cancel()
	if err := startBrowser(start, ctx); err != nil {
		t.Fatalf("starting chromium (%s): %v", name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b.saveFailureScreenshot()
		}
	})
	return b
}

// in is the same browser used by the subtest t: failures are reported to
// t, and when t fails the tab's state is saved as a screenshot.
func (b *browser) in(t *testing.T) *browser {
	sub := &browser{t: t, name: b.name, ctx: b.ctx}
	t.Cleanup(func() {
		if t.Failed() {
			sub.saveFailureScreenshot()
		}
	})
	return sub
}

// startBrowser runs the first (empty) action, which starts the browser
// bound to ctx's lifetime, while start bounds how long that may take.
func startBrowser(start, ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err := <-done:
		return err
	case <-start.Done():
		return fmt.Errorf("chromium did not start in %s", actionTimeout)
	}
}

// do runs actions in order, each bounded by actionTimeout, and fails the
// test (naming what) on the first error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s (%s): %v", what, b.name, err)
	}
}

// open navigates to url and waits for the document to be loaded.
func (b *browser) open(url string) {
	b.t.Helper()
	b.do("opening "+url, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body")))
}

// eval evaluates a JavaScript expression in the page and decodes its
// (JSON) value into out. DevTools evaluation is not subject to the page's
// Content-Security-Policy, so it works however strict that is.
func (b *browser) eval(what, expr string, out any) {
	b.t.Helper()
	if err := b.tryEval(expr, out); err != nil {
		b.t.Fatalf("%s (%s): %v", what, b.name, err)
	}
}

func (b *browser) tryEval(expr string, out any) error {
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decoding %s: %w", clip(string(raw), 200), err)
	}
	return nil
}

// waitFor evaluates expr until it is true, for up to timeout. It polls
// from Go (chromedp.Poll compiles its predicate with new Function, which a
// Content-Security-Policy without 'unsafe-eval' forbids). It returns
// false when the time is up.
func (b *browser) waitFor(expr string, timeout time.Duration) bool {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		var ok bool
		if lastErr = b.tryEval("!!("+expr+")", &ok); lastErr == nil && ok {
			return true
		}
		if time.Now().After(deadline) {
			if lastErr != nil {
				b.t.Logf("waiting for %s (%s): last error: %v", clip(expr, 120), b.name, lastErr)
			}
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// location is the tab's current URL.
func (b *browser) location() string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		b.t.Fatalf("reading the location (%s): %v", b.name, err)
	}
	return loc
}

// count is the number of elements matching a CSS selector.
func (b *browser) count(selector string) int {
	b.t.Helper()
	var n int
	b.eval("counting "+selector, fmt.Sprintf("document.querySelectorAll(%s).length", jsString(selector)), &n)
	return n
}

// text is the trimmed text of the first element matching selector, and
// whether there is one.
func (b *browser) text(selector string) (string, bool) {
	b.t.Helper()
	var s *string
	b.eval("reading "+selector, fmt.Sprintf("(e => e ? e.textContent : null)(document.querySelector(%s))", jsString(selector)), &s)
	if s == nil {
		return "", false
	}
	return strings.Join(strings.Fields(*s), " "), true
}

// html is the whole document's markup.
func (b *browser) html() string {
	b.t.Helper()
	var s string
	b.eval("reading the document", "document.documentElement.outerHTML", &s)
	return s
}

// screenshot captures the whole page as PNG.
func (b *browser) screenshot() ([]byte, error) {
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.FullScreenshot(100))
}

// viewportScreenshot captures what the window shows as PNG.
func (b *browser) viewportScreenshot() ([]byte, error) {
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.CaptureScreenshot())
}

// Screenshot extents for saveDocScreenshot.
const (
	wholePage = true  // the whole page, however long
	topOnly   = false // what the 1280x860 window shows
)

// saveDocScreenshot writes the page as docs/images/name.png when the test
// runs with -update-screenshots; it always checks that a screenshot can be
// taken, so the flag's run is no surprise.
func (b *browser) saveDocScreenshot(name string, whole bool) {
	b.t.Helper()
	shoot := b.viewportScreenshot
	if whole {
		shoot = b.screenshot
	}
	png, err := shoot()
	if err != nil {
		b.t.Fatalf("screenshot %s (%s): %v", name, b.name, err)
	}
	if len(png) < 1000 {
		b.t.Fatalf("screenshot %s (%s) is only %d bytes", name, b.name, len(png))
	}
	if !*updateScreenshots {
		return
	}
	path := filepath.Join("..", "docs", "images", name+".png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("wrote %s (%d bytes)", path, len(png))
}

// artifactsDir is where failure screenshots go: $E2E_ARTIFACTS, or
// e2e/artifacts (gitignored).
func artifactsDir() string {
	if d := os.Getenv("E2E_ARTIFACTS"); d != "" {
		return d
	}
	return "artifacts"
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func (b *browser) saveFailureScreenshot() {
	png, err := b.screenshot()
	if err != nil {
		b.t.Logf("no failure screenshot (%s): %v", b.name, err)
		return
	}
	dir := artifactsDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Logf("no failure screenshot: %v", err)
		return
	}
	path := filepath.Join(dir, unsafeName.ReplaceAllString(b.t.Name()+"-"+b.name, "_")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("no failure screenshot: %v", err)
		return
	}
	loc, _ := b.locationQuiet()
	b.t.Logf("failure screenshot of %s (%s) saved to %s", loc, b.name, path)
}

func (b *browser) locationQuiet() (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if errors.Is(err, context.DeadlineExceeded) {
		return "", err
	}
	return loc, err
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
