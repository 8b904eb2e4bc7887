package tests

import (
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserHTTPSAndWSS: Chromium loads a page over https and opens a
// wss WebSocket to the same port, and a plaintext page with ws on that
// port too. The browser trusts the server's certificate by its key
// (--ignore-certificate-errors-spki-list), as it would a CA it knows.
func TestBrowserHTTPSAndWSS(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, leaf := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, testdata(t, "tls/app.lua"))
	spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	browser := startBrowser(t, chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(spki[:])))
	p := port(srv.Addr)
	for name, url := range map[string]string{"https": "https://localhost:" + p + "/page", "http": "http://localhost:" + p + "/page"} {
		tab := newTab(t, browser, name)
		if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		want := "echo: hi over " + name + ":"
		// Read the title until it says so: a poll inside the page can lose
		// its execution context while the page settles.
		var title string
		for deadline := time.Now().Add(30 * time.Second); title != want && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			title, _ = chromedp.Run(tab, chromedp.Evaluate[string](`document.title`))
		}
		if title != want {
			t.Fatalf("%s: title %q, want %q", url, title, want)
		}
	}
	srv.stop()
}
