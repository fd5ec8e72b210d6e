// Package browsertest starts a headless Chromium for tests that drive the
// web chat in a real browser (this package's tests and the end-to-end test
// of cmd/tier0). It uses the Debian chromium package; a machine without it
// fails the test with the command that installs it.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// Timeout bounds one browser session, so a broken page fails the test
// instead of hanging it. It is a safety net, not a speed assertion.
const Timeout = 2 * time.Minute

// NewContext launches a headless Chromium with a fresh profile in a
// temporary directory and returns a chromedp context for one tab. The
// browser is shut down when the test ends. If Chromium is not installed the
// test fails saying so.
func NewContext(tb testing.TB) context.Context {
	tb.Helper()
	path, err := findChromium()
	if err != nil {
		tb.Fatalf("headless browser test needs Chromium at %s (apt-get install chromium): %v", ChromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), Timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	// chromedp reports protocol events it does not know to the error log;
	// they are noise for these tests.
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(string, ...any) {}))
	tb.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
	})
	if err := chromedp.Do(browserCtx); err != nil {
		tb.Fatalf("start Chromium %s: %v", path, err)
	}
	return browserCtx
}

func findChromium() (string, error) {
	if _, err := os.Stat(ChromiumPath); err == nil {
		return ChromiumPath, nil
	}
	return exec.LookPath("chromium")
}
