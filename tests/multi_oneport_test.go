package tests

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// multiEchoers are gorilla clients that keep exchanging messages with the
// /echo class until stopped, each message checked.
type multiEchoers struct {
	msgs, bytes atomic.Int64
	stop        chan struct{}
	wg          sync.WaitGroup
	mu          sync.Mutex
	errs        []error
}

func startEchoers(t *testing.T, addr string, n int) *multiEchoers {
	e := &multiEchoers{stop: make(chan struct{})}
	sizes := []int{16, 1000, 16 << 10, 64 << 10, 125, 126, 65535, 100 << 10}
	for i := 0; i < n; i++ {
		d := websocket.Dialer{HandshakeTimeout: wsIOTimeout}
		conn, _, err := d.Dial("ws://"+addr+"/echo", nil)
		if err != nil {
			t.Fatalf("echo client %d: %v", i, err)
		}
		t.Cleanup(func() { conn.Close() })
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			for k := 0; ; k++ {
				select {
				case <-e.stop:
					wsGorillaClose(conn, 1000, "done")
					return
				default:
				}
				size := sizes[(k+i)%len(sizes)]
				kind, payload := websocket.BinaryMessage, rawPattern(size, i*1000+k)
				if k%2 == 0 {
					kind, payload = websocket.TextMessage, wsPattern(size)
				}
				if err := wsGorillaEcho(conn, kind, payload); err != nil {
					e.mu.Lock()
					e.errs = append(e.errs, fmt.Errorf("echo client %d, message %d (%d bytes): %w", i, k, size, err))
					e.mu.Unlock()
					return
				}
				e.msgs.Add(1)
				e.bytes.Add(int64(size))
				time.Sleep(5 * time.Millisecond) // steady traffic, not a load test
			}
		}()
	}
	return e
}

func (e *multiEchoers) finish(t *testing.T) {
	t.Helper()
	close(e.stop)
	e.wg.Wait()
	for _, err := range e.errs {
		t.Error(err)
	}
}

// TestOnePortEverything is the closing test of the one-port batteries:
// ONE server process with ONE listening port serves, at the same time,
//
//   - HTTP to curl: a static file, HEAD, 304, 404, keep-alive reuse over
//     four requests, traversal attempts refused, a JSON route;
//   - FTP to curl: LIST and NLST, and a 50 MiB file downloaded and
//     uploaded through EPSV and through PASV (200 MiB moved, SHA-256
//     checked), with a 4 MiB cap on queued output;
//   - WebSocket to gorilla: 4 clients exchanging echoed messages (16 B to
//     100 KiB, text and binary) from start to end, also during every FTP
//     transfer;
//   - the chat in headless Chromium: two tabs, the page from httpd.lua,
//     a message typed in one shows up in the other;
//   - the bridge: a gorilla client through /bridge to a TCP echo backend,
//     with a 1 MiB message, closed from the client;
//   - a TLS ClientHello, refused with an alert.
//
// All on 127.0.0.1 and the epoll poller; nothing in the log is an error.
func TestOnePortEverything(t *testing.T) {
	root, secret := httpSite(t)
	chatPage, err := os.ReadFile(filepath.Join(examplesDir, "chat", "www", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	rawWriteFile(t, root, "chat/index.html", string(chatPage))
	ftpRoot, _ := ftpSite(t)
	bigSum := httpBigFile(t, filepath.Join(ftpRoot, "big.bin"), httpLargeSize)
	backend := newBridgeEcho(t)

	script := scriptFrom(t, "", "multi/oneport.lua", map[string]string{
		"Root": root, "Backend": "127.0.0.1:" + strconv.Itoa(backend.port), "FTPRoot": ftpRoot})
	srv := batteryServer(t, "epoll", append(httpLargeFlags,
		"-I", examplesDir, "-I", filepath.Join(examplesDir, "chat"), script)...)
	addr := srv.Addr
	httpBase, ftpBase, alice := "http://"+addr, "ftp://"+addr, "ftp://alice:s3cret@"+addr
	start := time.Now()

	echoers := startEchoers(t, addr, 4)
	waitFor(t, 10*time.Second, "the echo clients to start", func() bool { return echoers.msgs.Load() >= 8 })

	t.Run("http", func(t *testing.T) { multiHTTP(t, httpBase, root, secret) })

	t.Run("tls refused", func(t *testing.T) {
		raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(10 * time.Second))
		err = tls.Client(raw, &tls.Config{InsecureSkipVerify: true}).Handshake()
		if err == nil || !strings.Contains(err.Error(), "handshake failure") {
			t.Fatalf("TLS: %v, want a handshake failure alert", err)
		}
	})

	t.Run("ftp", func(t *testing.T) { multiFTP(t, ftpBase, alice, ftpRoot, bigSum, echoers) })

	t.Run("bridge", func(t *testing.T) { multiBridge(t, addr, backend) })

	t.Run("browser chat", func(t *testing.T) {
		browser := startBrowser(t)
		tabA, tabB := newTab(t, browser, "ann"), newTab(t, browser, "ben")
		page := httpBase + "/chat/" // the page from httpd.lua's root
		chatJoinTab(t, tabA, page, "oneport", "ann")
		chatJoinTab(t, tabB, page, "oneport", "ben")
		chatSay(t, tabA, "one port for everything")
		if err := browserWait(tabB, chatSeen("message", "ann:one port for everything"), 15*time.Second); err != nil {
			t.Fatalf("ben's page does not show ann's message: %v", err)
		}
		chatSay(t, tabB, "agreed")
		if err := browserWait(tabA, chatSeen("message", "ben:agreed"), 15*time.Second); err != nil {
			t.Fatalf("ann's page does not show ben's message: %v", err)
		}
	})

	echoers.finish(t)
	t.Logf("one port %s, %s: %d WebSocket echoes (%d MiB) by 4 gorilla clients alongside HTTP, FTP (4 x 50 MiB), the bridge and the browser chat",
		addr, time.Since(start).Round(time.Millisecond), echoers.msgs.Load(), echoers.bytes.Load()>>20)
	for _, bad := range []string{"lua handler failed", "slow consumer", "level=ERROR"} {
		if lines := rawLogLines(srv, bad); len(lines) > 0 {
			t.Errorf("server log: %s", lines[0])
		}
	}
	srv.stop()
}

// multiHTTP: httpd.lua behind mux.lua serves files, HEAD, 304, 404,
// keep-alive, refuses traversal and answers /stats.
func multiHTTP(t *testing.T, httpBase, root, secret string) {
	want, _ := os.ReadFile(filepath.Join(root, "hello.txt"))
	if code, body := httpStatus(t, httpBase+"/hello.txt"); code != 200 || body != string(want) {
		t.Errorf("GET /hello.txt = %d %q", code, body)
	}
	r := curlOK(t, "--head", "--write-out", "%{size_download}", httpBase+"/index.html")
	if !strings.HasPrefix(r.stdout, "HTTP/1.1 200") || !strings.HasSuffix(r.stdout, "\r\n\r\n0") {
		t.Errorf("HEAD /index.html: %q", r.stdout)
	}
	lm := httpHead(t, httpBase+"/hello.txt").Header.Get("Last-Modified")
	if code, body := httpStatus(t, httpBase+"/hello.txt", "-H", "If-Modified-Since: "+lm); code != 304 || body != "" {
		t.Errorf("If-Modified-Since = %d %q, want 304", code, body)
	}
	if code, _ := httpStatus(t, httpBase+"/no/such/file"); code != 404 {
		t.Errorf("missing file = %d, want 404", code)
	}
	r = curlOK(t, "--verbose", "--write-out", "%{num_connects}\n",
		httpBase+"/hello.txt", "-o", os.DevNull, httpBase+"/assets/site.css", "-o", os.DevNull,
		httpBase+"/nope", "-o", os.DevNull, httpBase+"/chat/", "-o", os.DevNull)
	if r.stdout != "1\n0\n0\n0\n" {
		t.Errorf("keep-alive: connects per transfer %q, want 1 0 0 0", r.stdout)
	}
	for _, p := range []string{"/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/escape.txt", "/escape/secret.txt"} {
		code, body := httpStatus(t, httpBase+p, "--path-as-is")
		if code < 400 || strings.Contains(body, strings.TrimSpace(secret)) {
			t.Errorf("traversal %s = %d %q", p, code, body)
		}
	}
	var stats map[string]any
	_, body := httpStatus(t, httpBase+"/stats")
	if err := json.Unmarshal([]byte(body), &stats); err != nil || stats["poller"] != "epoll" {
		t.Errorf("/stats = %q (%v)", body, err)
	}
}

// multiFTP: ftp.lua behind mux.lua lists, and moves 50 MiB down and up
// over EPSV and PASV byte for byte while the echo clients go on.
func multiFTP(t *testing.T, ftpBase, alice, ftpRoot string, bigSum [32]byte, echoers *multiEchoers) {
	for _, args := range [][]string{nil, {"--disable-epsv"}} {
		r := curlOK(t, append(args, ftpBase+"/")...)
		if !strings.Contains(r.stdout, "hello.txt") || !strings.Contains(r.stdout, "big.bin") {
			t.Errorf("LIST %v: %q", args, r.stdout)
		}
	}
	if r := curlOK(t, "--list-only", ftpBase+"/pub/"); strings.ReplaceAll(r.stdout, "\r", "") != "notes.txt\nreadme.txt\n" {
		t.Errorf("NLST /pub/ = %q", r.stdout)
	}
	dir := t.TempDir()
	for _, mode := range []struct {
		name string
		args []string
	}{{"EPSV", nil}, {"PASV", []string{"--disable-epsv"}}} {
		before := echoers.msgs.Load()
		out := filepath.Join(dir, mode.name+".bin")
		t0 := time.Now()
		curlOK(t, append(mode.args, "-o", out, ftpBase+"/big.bin")...)
		down := time.Since(t0)
		if fileSum(t, out) != bigSum {
			t.Fatalf("%s: the 50 MiB download differs", mode.name)
		}
		t0 = time.Now()
		curlOK(t, append(mode.args, "-T", out, alice+"/pub/"+mode.name+".bin")...)
		up := time.Since(t0)
		if fileSum(t, filepath.Join(ftpRoot, "pub", mode.name+".bin")) != bigSum {
			t.Fatalf("%s: the 50 MiB upload differs", mode.name)
		}
		during := echoers.msgs.Load() - before
		t.Logf("%s: RETR 50 MiB in %s, STOR 50 MiB in %s; %d WebSocket echoes meanwhile",
			mode.name, down.Round(time.Millisecond), up.Round(time.Millisecond), during)
		if during < 4 {
			t.Errorf("%s: only %d WebSocket echoes during the transfers", mode.name, during)
		}
	}
}

// multiBridge: the bridge example behind httpd.lua carries a round trip and
// megabytes both ways, and a clean close reaches the backend as EOF.
func multiBridge(t *testing.T, addr string, backend *bridgeEcho) {
	drainEOFs(backend)
	d := websocket.Dialer{HandshakeTimeout: wsIOTimeout}
	conn, _, err := d.Dial("ws://"+addr+"/bridge", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	bridgeRoundTrip(t, conn, "through the bridge")
	if err := bridgePump(conn, 7, []int{1 << 20, 100, 64 << 10}, 3<<20); err != nil {
		t.Fatal(err)
	}
	if err := wsGorillaClose(conn, 1000, "done"); !websocket.IsCloseError(err, 1000) {
		t.Fatalf("close: %v", err)
	}
	select {
	case <-backend.eofs:
	case <-time.After(5 * time.Second):
		t.Fatal("the backend never saw EOF")
	}
}
