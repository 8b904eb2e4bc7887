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

// browserDeflatePage is served by the test script at "/". Its runTest()
// opens a WebSocket back to the page's host, sends JSON chat messages and
// text and binary messages of many sizes, checks every echo, asks the
// server for its byte counters, closes with 1000, and resolves to a
// summary. It also writes the summary into the page, for the screenshot.
const browserDeflatePage = `<!doctype html>
<html><head><meta charset="utf-8"><title>pocketlua deflate</title></head>
<body><h1>pocketlua permessage-deflate</h1><pre id="out">loading</pre>
<script>
const users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];
const words = "hello world the meeting is at noon lunch today anyone deploy done thanks see you later ok sure why not build failed again fixed it now review please merged coffee".split(" ");
function chat(i) {
  let text = "";
  for (let k = 0; text.length < 40 + (i * 53) % 180; k++) text += words[(i * 7 + k * 13) % words.length] + " ";
  return JSON.stringify({type: "message", id: 100000 + i, room: "general",
    user: {name: users[i % users.length], id: (i * 37) % 1000}, ts: 1700000000000 + i * 1234, text: text});
}
function textOf(n) {
  let s = "";
  for (let i = 0; s.length < n; i++) s += chat(i) + "\n";
  return s.slice(0, n);
}
function binaryOf(n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i % 251) ^ ((i >> 10) & 7);
  return b.buffer;
}
function same(a, b) {
  if (typeof a === "string" || typeof b === "string") return a === b;
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a), y = new Uint8Array(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
function describe(v) {
  return typeof v === "string" ? "text of " + v.length : "binary of " + v.byteLength;
}
async function runTest(chats) {
  const out = document.getElementById("out");
  const r = {ok: false, errors: [], sent: 0, echoed: 0, plain: 0, extensions: null, stats: null, close: null};
  try {
    const ws = new WebSocket("ws://" + location.host + "/chat");
    ws.binaryType = "arraybuffer";
    const incoming = [];
    let wake = null;
    ws.onmessage = (ev) => { incoming.push(ev.data); if (wake) { const w = wake; wake = null; w(); } };
    const closed = new Promise((res) => { ws.onclose = (ev) => res({code: ev.code, reason: ev.reason, clean: ev.wasClean}); });
    const next = async () => {
      while (incoming.length === 0) {
        await new Promise((res, rej) => { wake = res; setTimeout(() => rej(new Error("no echo within 20 s")), 20000); });
      }
      return incoming.shift();
    };
    await new Promise((res, rej) => { ws.onopen = res; ws.onerror = () => rej(new Error("websocket error")); });
    r.extensions = ws.extensions;
    const msgs = [];
    for (let i = 0; i < chats; i++) msgs.push(chat(i));
    for (const n of [0, 1, 64, 125, 126, 1000, 65535, 65536, 300000, 1048576]) {
      msgs.push(textOf(n));
      msgs.push(binaryOf(n));
    }
    for (const m of msgs) {
      ws.send(m);
      r.sent++;
      r.plain += typeof m === "string" ? m.length : m.byteLength;
    }
    for (const m of msgs) {
      const got = await next();
      if (!same(got, m)) r.errors.push("echo of " + describe(m) + " came back as " + describe(got));
      else r.echoed++;
    }
    ws.send("stats");
    r.stats = await next();
    ws.close(1000, "done");
    r.close = await closed;
    r.ok = r.errors.length === 0 && r.echoed === msgs.length && r.close.code === 1000;
  } catch (e) {
    r.errors.push(String(e));
  }
  out.textContent = JSON.stringify(r, null, 2);
  return r;
}
document.getElementById("out").textContent = "ready";
</script></body></html>`

// browserDeflateScript serves the page to a plain GET and runs the
// compressing echo (with the "stats" command) on WebSocket upgrades.
func browserDeflateScript(opts string) string {
	return `local WebSocket = require "websocket"
local http = require "http"

local PAGE = [==[` + browserDeflatePage + `]==]

local Echo = WebSocket:extend({ compress = true, ` + opts + ` })

function Echo:data(bytes)
  if self._ws then return WebSocket.data(self, bytes) end
  self._buf = (self._buf or "") .. bytes
  local req = http.parse_request(self._buf)
  if not req then return end -- incomplete; a malformed head is the handshake's to refuse
  local buf = self._buf
  self._buf = nil
  if not (req.headers.upgrade or ""):lower():find("websocket", 1, true) then
    self.conn:send("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " .. #PAGE ..
      "\r\nConnection: close\r\n\r\n" .. PAGE)
    self.conn:close()
    return
  end
  self._ws = true
  return WebSocket.data(self, buf)
end

function Echo:open(req)
  log.info("deflate open", "conn", self.conn.id, "extensions", self.extensions or "none",
    "offer", req.headers["sec-websocket-extensions"] or "none")
end

function Echo:message(data, kind)
  if data == "stats" then
    local s = server.stats()
    self.conn:send(("{\"bytes_in\":%d,\"bytes_out\":%d}"):format(s.bytes_in, s.bytes_out), "text")
    return
  end
  if not self.conn:send(data, kind) then self.conn:pause() end
end

function Echo:drain() self.conn:resume() end

function Echo:closed(code, reason)
  if self._ws then log.info("deflate closed", "conn", self.conn.id, "code", code, "reason", reason) end
end

return Echo
`
}

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
			srv := startServer(t, "epoll", writeScript(t, "browser_deflate.lua", browserDeflateScript(tc.opts)))
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
