package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

type browserSummary struct {
	OK         bool     `json:"ok"`
	Errors     []string `json:"errors"`
	Sent       int      `json:"sent"`
	Echoed     int      `json:"echoed"`
	Plain      int64    `json:"plain"`
	Extensions string   `json:"extensions"`
	Stats      string   `json:"stats"`
	Close      struct {
		Code  int  `json:"code"`
		Clean bool `json:"clean"`
	} `json:"close"`
}

// TestBrowserDeflate: headless Chromium, which always offers
// permessage-deflate (with client_max_window_bits) and compresses what it
// sends with zlib, keeping its context; three server configurations:
// the default (no server context takeover), server context takeover, and
// a 10-bit client window (so Chromium's zlib deflates with a 1 KiB window
// and the server keeps 1 KiB of history).
func TestBrowserDeflate(t *testing.T) {
	cases := []struct {
		name, opts, want string
	}{
		{"default", "", "permessage-deflate; server_no_context_takeover"},
		{"server-takeover", "compress_server_context_takeover = true", "permessage-deflate"},
		{"client-window-10", "compress_server_context_takeover = true, compress_client_max_window_bits = 10",
			"permessage-deflate; client_max_window_bits=10"},
	}
	bctx := startBrowser(t) // prediction off, so the server sees only the test's connections
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, "epoll", scriptFrom(t, "", "browser/deflate.lua", map[string]string{
				"Options": tc.opts, "Page": testdata(t, "browser/deflate.html")}))
			tctx, tcancel := chromedp.NewContext(bctx) // a tab of its own
			defer tcancel()
			screenshot := func() {
				png, err := chromedp.Run(tctx, chromedp.CaptureScreenshot())
				if err != nil {
					t.Logf("screenshot failed: %v", err)
					return
				}
				path := filepath.Join(t.TempDir(), "browser_deflate_"+tc.name+".png")
				if err := os.WriteFile(path, png, 0o644); err == nil {
					t.Logf("screenshot: %s", path)
				}
			}
			url := "http://" + srv.Addr + "/"
			if err := chromedp.Do(tctx, chromedp.Navigate(url)); err != nil {
				t.Fatalf("navigate %s: %v", url, err)
			}
			raw, err := chromedp.Run(tctx, chromedp.Evaluate[[]byte](`runTest(300)`, chromedp.EvalAwaitPromise))
			if err != nil {
				screenshot()
				t.Fatalf("runTest: %v\nserver logs:\n%s", err, srv.Logs())
			}
			var sum browserSummary
			if err := json.Unmarshal(raw, &sum); err != nil {
				t.Fatalf("summary %s: %v", raw, err)
			}
			var stats struct {
				In  int64 `json:"bytes_in"`
				Out int64 `json:"bytes_out"`
			}
			json.Unmarshal([]byte(sum.Stats), &stats)
			t.Logf("Chromium: %d messages, %d bytes each way; on the wire: browser->server %d, server->browser %d; extensions %q",
				sum.Echoed, sum.Plain, stats.In, stats.Out, sum.Extensions)
			if !sum.OK || len(sum.Errors) > 0 {
				screenshot()
				t.Fatalf("browser run failed: %s\nserver logs:\n%s", raw, srv.Logs())
			}
			if sum.Extensions != tc.want {
				screenshot()
				t.Fatalf("the browser negotiated %q, want %q", sum.Extensions, tc.want)
			}
			// Both directions really were compressed: the payloads are JSON
			// and patterns that shrink several times.
			if stats.In <= 0 || stats.In > sum.Plain/3 || stats.Out <= 0 || stats.Out > sum.Plain/3 {
				t.Fatalf("%d bytes each way, but %d in and %d out on the wire: not compressed", sum.Plain, stats.In, stats.Out)
			}
			waitFor(t, 5*time.Second, "the server's close log line", func() bool {
				return strings.Contains(srv.Logs(), `msg="deflate closed"`)
			})
			logs := srv.Logs()
			logged := `extensions="` + tc.want + `"` // slog quotes values with spaces
			if !strings.Contains(tc.want, " ") {
				logged = "extensions=" + tc.want + " "
			}
			if !strings.Contains(logs, logged) || !strings.Contains(logs, `offer="permessage-deflate; client_max_window_bits"`) {
				t.Fatalf("the server's log does not show the negotiation:\n%s", logs)
			}
			if !strings.Contains(logs, "code=1000") {
				t.Fatalf("the server did not see close 1000:\n%s", logs)
			}
		})
	}
}
