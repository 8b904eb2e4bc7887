package tests

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestHTTPRoutes: Lua handlers for exact paths and patterns, request
// bodies (Content-Length and chunked), deferred answers, handler errors.
func TestHTTPRoutes(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		root, _ := httpSite(t)
		srv := batteryServer(t, poller, httpScript(t, root, ""))
		base := "http://" + srv.Addr

		for _, c := range []struct {
			args []string
			url  string
			code int
			body string
		}{
			{nil, "/api/hello?name=ann%20lee", 200, "hello ann lee\n"},
			{nil, "/api/hello", 200, "hello nobody\n"},
			{nil, "/users/42", 200, "user 42\n"},
			{nil, "/users/x", 404, "Not Found\n"},
			{[]string{"-X", "DELETE"}, "/any/thing", 200, "DELETE thing\n"},
			{nil, "/api/later", 202, "answered later\n"},
			{nil, "/api/boom", 500, "Internal Server Error\n"},
			{nil, "/api/nothing", 500, "handler returned no response\n"},
			{[]string{"--data-binary", "posted"}, "/api/echo", 200, "posted"},
		} {
			code, body := httpStatus(t, base+c.url, c.args...)
			if code != c.code || body != c.body {
				t.Errorf("%v %s = %d %q, want %d %q", c.args, c.url, code, body, c.code, c.body)
			}
		}
		resp := httpHead(t, base+"/users/7", "--head")
		if resp.StatusCode != 200 || resp.ContentLength != int64(len("user 7\n")) {
			t.Errorf("HEAD on a GET route = %d, length %d", resp.StatusCode, resp.ContentLength)
		}
		// A chunked upload from curl (a file of unknown length on stdin).
		data := rawPattern(60000, 3)
		path := filepath.Join(t.TempDir(), "up")
		os.WriteFile(path, data, 0o644)
		r := curlOK(t, "-H", "Transfer-Encoding: chunked", "--data-binary", "@"+path, "--dump-header", "-", base+"/api/echo")
		head, body, _ := strings.Cut(r.stdout, "\r\n\r\n")
		if body != string(data) || !strings.Contains(head, "X-Body-Length: 60000") {
			t.Errorf("chunked upload: head %q, body %s", head, rawFirstDiff([]byte(body), data))
		}
		if strings.Count(srv.Logs(), "http handler failed") != 1 || !strings.Contains(srv.Logs(), "boom") {
			t.Errorf("the failing handler was not logged once:\n%s", srv.Logs())
		}
		srv.stop()
	})
}

// TestHTTPPipelining: several requests in one write are answered in
// order on one connection, including bodies and a streamed file between
// them, and Connection: close / HTTP/1.0 end the connection.
func TestHTTPPipelining(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		root, _ := httpSite(t)
		bigSum := httpBigFile(t, filepath.Join(root, "mid.bin"), 300<<10) // streamed in 64 KiB chunks
		srv := batteryServer(t, poller, httpScript(t, root, ""))
		c := httpDialRaw(t, srv.Addr)
		c.send("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n" +
			"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst" +
			"GET /mid.bin HTTP/1.1\r\nHost: x\r\n\r\n" +
			"\r\n" + // a stray empty line between requests is allowed
			"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nsec\r\n3\r\nond\r\n0\r\nTrailer: 1\r\n\r\n" +
			"HEAD /index.html HTTP/1.1\r\nHost: x\r\n\r\n" +
			"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n" +
			"GET /users/9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" +
			"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n") // after close: never answered
		want := []struct {
			method string
			code   int
			body   string
		}{
			{"GET", 200, "hello from pocketlua\n"},
			{"POST", 200, "first"},
			{"GET", 200, ""}, // checked by hash below
			{"POST", 200, "second"},
			{"HEAD", 200, ""},
			{"GET", 404, "Not Found\n"},
			{"GET", 200, "user 9\n"},
		}
		for i, w := range want {
			resp, body := c.next(w.method)
			if i == 2 {
				if sumOf([]byte(body)) != bigSum {
					t.Errorf("response %d: streamed file differs: %d bytes", i, len(body))
				}
				body = ""
			}
			if resp.StatusCode != w.code || body != w.body {
				t.Errorf("response %d: %d %q, want %d %q", i, resp.StatusCode, body, w.code, w.body)
			}
			if i == len(want)-1 && !resp.Close {
				t.Errorf("last response lacks Connection: close")
			}
		}
		c.expectEOF(5 * time.Second)

		// A client that half-closes after its requests still gets every
		// response whole, streamed ones included (3 MiB: several drains).
		threeSum := httpBigFile(t, filepath.Join(root, "three.bin"), 3<<20)
		c = httpDialRaw(t, srv.Addr)
		c.send("GET /three.bin HTTP/1.1\r\nHost: x\r\n\r\n" +
			"GET /mid.bin HTTP/1.1\r\nHost: x\r\n\r\n" +
			"GET /three.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		for i, want := range [][32]byte{threeSum, bigSum, threeSum} {
			resp, body := c.next("GET")
			if resp.StatusCode != 200 || sumOf([]byte(body)) != want {
				t.Errorf("half-closed client, response %d: %d, %d bytes differ", i, resp.StatusCode, len(body))
			}
		}
		c.expectEOF(5 * time.Second)

		// HTTP/1.0: close after the response unless keep-alive is asked for.
		c = httpDialRaw(t, srv.Addr)
		c.send("GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /hello.txt HTTP/1.0\r\n\r\n")
		resp, _ := c.next("GET")
		if resp.Header.Get("Connection") != "keep-alive" {
			t.Errorf("HTTP/1.0 keep-alive answered with Connection %q", resp.Header.Get("Connection"))
		}
		resp, body := c.next("GET")
		if resp.StatusCode != 200 || body != "hello from pocketlua\n" {
			t.Errorf("second HTTP/1.0 request: %d %q", resp.StatusCode, body)
		}
		c.expectEOF(5 * time.Second)
		srv.stop()
	})
}

// TestHTTPWebSocket: an Upgrade: websocket request hands the connection to
// a WebSocket class (a route to a class, or Site.websocket for any path),
// with the bytes already read (the head and a first frame) replayed.
func TestHTTPWebSocket(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		root, _ := httpSite(t)
		srv := batteryServer(t, poller, httpScript(t, root, "shout.lua"))
		for path, want := range map[string]string{"/chat": "hello", "/elsewhere": "HELLO"} {
			ws, resp, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr+path, nil)
			if err != nil {
				t.Fatalf("dial %s: %v (%v)", path, err, resp)
			}
			ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			if err := ws.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
				t.Fatal(err)
			}
			_, got, err := ws.ReadMessage()
			if err != nil || string(got) != want {
				t.Errorf("%s: echo %q, %v; want %q", path, got, err, want)
			}
			ws.Close()
		}

		// A keep-alive connection that served a file first, then upgrades,
		// with the first frame in the same segment as the handshake.
		c := httpDialRaw(t, srv.Addr)
		c.send("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := c.next("GET"); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		key := wsKey()
		c.send(strings.Replace(wsUpgradeRequest(srv.Addr, key), "GET /chat ", "GET /shout ", 1) + string(wsFrame(true, 1, []byte("early"))))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(c.r, nil)
		if err != nil || resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		ws := &wsClient{t: t, Conn: c.Conn, r: c.r}
		ws.expectFrame(1, []byte("EARLY"))
		c.Close()

		// A plain GET to the WebSocket route reaches the class, which refuses it.
		code, _ := httpStatus(t, "http://"+srv.Addr+"/chat")
		if code != 400 {
			t.Errorf("plain GET /chat = %d, want 400 from websocket.lua", code)
		}
		srv.stop()
	})
}

// TestHTTPAndFTPViaBecome: both batteries take over a connection another
// class accepted, as mux.lua hands them over: Httpd with the bytes already
// read replayed (a whole pipelined request and half of the next), Ftp after
// the client stayed silent (its start sends the greeting late).
func TestHTTPAndFTPViaBecome(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		root, _ := httpSite(t)
		ftpRoot, _ := ftpSite(t)
		srv := batteryServer(t, poller, scriptFrom(t, "", "http/sniff.lua", map[string]string{"Root": root, "FTPRoot": ftpRoot}))
		c := httpDialRaw(t, srv.Addr)
		c.send("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /sub/ HTTP/1.1\r\n")
		time.Sleep(50 * time.Millisecond)
		c.send("Host: x\r\nConnection: close\r\n\r\n")
		if resp, body := c.next("GET"); resp.StatusCode != 200 || body != "hello from pocketlua\n" {
			t.Errorf("first replayed request: %d %q", resp.StatusCode, body)
		}
		if resp, body := c.next("GET"); resp.StatusCode != 200 || !strings.Contains(body, "sub folder") {
			t.Errorf("second request, half replayed: %d %q", resp.StatusCode, body)
		}
		c.expectEOF(5 * time.Second)

		f := ftpDial(t, srv.Addr) // silent: Files greets after 0.3 s
		f.login("anonymous", "x")
		d := f.epsv()
		f.cmd("RETR hello.txt", 150)
		if got := ftpReadAll(t, d); got != "hello from pocketlua\n" {
			t.Errorf("RETR = %q", got)
		}
		f.expect(226)
		f.quit()
		srv.stop()
	})
}
