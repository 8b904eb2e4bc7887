package tests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Helpers for tests that drive a real browser (tests/browser_*_test.go):
// headless Chromium from Debian, through github.com/chromedp/chromedp.

// browserTimeout bounds a whole browser session: launching Chromium and
// every action of the test.
const browserTimeout = 2 * time.Minute

// findChromium returns the Chromium executable. Without one the test fails
// with the install command, or is skipped when POCKETLUA_SKIP_BROWSER=1.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const hint = "no Chromium found: run `bash tests/deps` (it installs what the tests need as root, else prints the command) or set POCKETLUA_SKIP_BROWSER=1 to skip"
	if os.Getenv("POCKETLUA_SKIP_BROWSER") == "1" {
		t.Skip("POCKETLUA_SKIP_BROWSER=1: " + hint)
	}
	t.Fatal(hint)
	return ""
}

// browserPrefs is the fresh profile's Preferences file. It turns off
// "preload pages" (network prediction): otherwise Chromium opens a spare
// connection to the origin after a page load and leaves it idle, and on a
// port where mux.lua routes silent clients to a server-first protocol
// (FTP) that connection gets the FTP greeting, so the next navigation that
// takes it fails with ERR_INVALID_HTTP_RESPONSE. It also keeps the number
// of connections a test sees exact.
const browserPrefs = `{"net": {"network_prediction_options": 2}}`

// startBrowser launches a fresh headless Chromium (its own profile in a
// temporary folder, no sandbox, GPU, QUIC, sync, background traffic or
// preconnects) and returns the context of its first tab, already started.
// Run actions with chromedp.Run/Do on it or on tabs from newTab. The
// browser is stopped when the test ends; the whole session is bounded by
// browserTimeout. extra adds flags.
func startBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	chromium := findChromium(t)
	profile := t.TempDir()
	if err := os.MkdirAll(filepath.Join(profile, "Default"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(profile, "Default", "Preferences"), []byte(browserPrefs), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1000, 800),
	)
	opts = append(opts, extra...)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		bcancel()
		acancel()
		cancel()
	})
	// The first action launches the browser; without a timeout of its own.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	return bctx
}

// newTab opens another tab of the browser; name labels its screenshot.
// If the test fails, every tab opened this way is photographed (a PNG
// under t.TempDir(), path logged) before it closes.
func newTab(t *testing.T, browser context.Context, name string) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(browser)
	dir := t.TempDir() // removed after the test: set POCKETLUA_SCREENSHOTS=folder to keep them
	if d := os.Getenv("POCKETLUA_SCREENSHOTS"); d != "" {
		dir = d
	}
	t.Cleanup(cancel)
	t.Cleanup(func() { // runs before cancel: cleanups run last-in first-out
		if t.Failed() {
			browserScreenshot(t, tab, filepath.Join(dir, "screenshot_"+strings.ReplaceAll(name, "/", "_")+".png"))
		}
	})
	if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("opening tab %s: %v", name, err)
	}
	return tab
}

// browserScreenshot saves a PNG of the tab's viewport at path and logs
// the path, with the page's text.
func browserScreenshot(t *testing.T, tab context.Context, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("screenshot %s failed: %v", path, err)
		return
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("saving screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", path)
	if text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`)); err == nil {
		t.Logf("its text:\n%s", text)
	}
}

// browserWait polls a JavaScript expression in the tab, every 20 ms, until
// it is truthy or d passes.
func browserWait(tab context.Context, expr string, d time.Duration) error {
	_, err := chromedp.Run(tab, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(20*time.Millisecond)))
	return err
}
