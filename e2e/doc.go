// Package e2e holds Provost's browser tests: a real `provost serve` with
// the dashboard (/ui) on, the demo's scenarios driven against it over
// HTTP, and Debian's chromium, headless, driven through the Chrome
// DevTools Protocol (github.com/chromedp/chromedp) to read and use the
// dashboard as an engineer would.
//
// It is a module of its own so that the product's go.mod stays lean. Run
// it with `cd e2e && go test ./...`; chromium missing skips the browser
// tests with a message (and fails them when CI is set). -update-screenshots
// writes the screenshots docs/ shows into docs/images/.
package e2e
