package tests

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestHTTPHandlerReturnValues: a bare string is a 200 body, a table is JSON,
// and anything unusable is a 500 whose log line names the route and why,
// with the connection kept.
func TestHTTPHandlerReturnValues(t *testing.T) {
	srv := batteryServer(t, "epoll", scriptFrom(t, "", "newcomer/site.lua", true))
	base := "http://" + srv.Addr

	if code, body := httpStatus(t, base+"/ok"); code != 200 || body != "ok" {
		t.Fatalf("return \"ok\": %d %q, want 200 ok", code, body)
	}
	resp := httpHead(t, base+"/table")
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("table body Content-Type %q, want application/json", ct)
	}
	if code, body := httpStatus(t, base+"/table"); code != 200 || body != `{"a":1,"list":[1,2]}` {
		t.Fatalf("table body: %d %q", code, body)
	}
	if code, body := httpStatus(t, base+"/sent-table"); code != 200 || body != `{"sent":true}` {
		t.Fatalf("res:send with a table: %d %q", code, body)
	}
	if ct := httpHead(t, base+"/typed").Header.Get("Content-Type"); ct != "application/vnd.x+json" {
		t.Fatalf("a handler's own Content-Type was replaced: %q", ct)
	}
	for path, why := range map[string]string{
		"/cycle":     "table body cannot be sent as JSON",
		"/fn":        "body must be a string, a number or a table",
		"/badstatus": "status must be a number from 100 to 599, got string ok",
		"/bigstatus": "status must be a number from 100 to 599, got number 1000",
	} {
		code, body := httpStatus(t, base+path)
		if code != 500 || strings.Contains(body, "table: 0x") || strings.Contains(body, "function:") {
			t.Errorf("%s: %d %q, want 500", path, code, body)
		}
		rawWaitLogs(t, srv, 10*time.Second, 1, "unusable response", "route=\"GET "+path+"\"", why)
	}
	// The connection survives a 500: two requests on one connection.
	r := curlOK(t, "-o", "/dev/null", "-o", "/dev/null", "--write-out", "%{http_code} %{num_connects}\n", base+"/fn", base+"/ok")
	if r.stdout != "500 1\n200 0\n" {
		t.Fatalf("500 then 200 on one connection: %q", r.stdout)
	}
	if strings.Contains(srv.Logs(), "attempt to compare") {
		t.Fatalf("a Lua error leaked from httpd.lua; logs:\n%s", srv.Logs())
	}
}

// TestHTTPAccessLog: every answer has an access line with the bytes that
// went out, including a 413, a WebSocket upgrade (101) and the 400 a plain
// GET gets on a WebSocket route; no line names a battery's file:line.
func TestHTTPAccessLog(t *testing.T) {
	srv := batteryServer(t, "epoll", scriptFrom(t, "", "newcomer/site.lua", true))
	base := "http://" + srv.Addr

	if code, _ := httpStatus(t, base+"/ok", "-d", strings.Repeat("x", 100)); code != 413 {
		t.Fatalf("large body: %d", code)
	}
	lines := rawWaitLogs(t, srv, 10*time.Second, 1, "msg=http ", "status=413")
	if strings.Contains(lines[0], "bytes=0") || !strings.Contains(lines[0], "method=POST path=/ok") {
		t.Fatalf("413 access line %q: want the method, the path and the bytes sent", lines[0])
	}

	if code, _ := httpStatus(t, base+"/ws"); code != 400 {
		t.Fatalf("plain GET on a WebSocket route: %d, want 400", code)
	}
	rawWaitLogs(t, srv, 10*time.Second, 1, "msg=http ", "method=GET path=/ws status=400")

	c, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.WriteMessage(websocket.TextMessage, []byte("hi"))
	if _, m, err := c.ReadMessage(); err != nil || string(m) != "hi" {
		t.Fatalf("echo after upgrade: %q %v", m, err)
	}
	c.Close()
	rawWaitLogs(t, srv, 10*time.Second, 1, "msg=http ", "method=GET path=/ws status=101")

	if code, _ := httpStatus(t, base+"/ok"); code != 200 {
		t.Fatal(code)
	}
	rawWaitLogs(t, srv, 10*time.Second, 1, "msg=http ", "path=/ok status=200 bytes=2")
	for _, l := range rawLogLines(srv, "msg=http") {
		if strings.Contains(l, "at=embedded:") {
			t.Fatalf("access line names the battery's file:line: %q", l)
		}
	}
}

// TestHTTPDeniedLoggedWithoutAccessLog: a 401 from a route, a 403 from a
// WebSocket class's authorize are logged ("http denied", warn) even when
// the access log is off; a 200 is not.
func TestHTTPDeniedLoggedWithoutAccessLog(t *testing.T) {
	srv := batteryServer(t, "epoll", scriptFrom(t, "", "newcomer/site.lua", false))
	base := "http://" + srv.Addr
	if code, _ := httpStatus(t, base+"/secret"); code != 401 {
		t.Fatal(code)
	}
	rawWaitLogs(t, srv, 10*time.Second, 1, "level=WARN", `msg="http denied"`, "path=/secret status=401")

	_, resp, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr+"/guarded?key=wrong", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong key: %v %v, want 403", resp, err)
	}
	rawWaitLogs(t, srv, 10*time.Second, 1, "level=WARN", `msg="http denied"`, `path="/guarded?key=wrong" status=403`)
	c, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr+"/guarded?key=right", nil)
	if err != nil {
		t.Fatalf("right key: %v", err)
	}
	c.Close()
	if code, _ := httpStatus(t, base+"/ok"); code != 200 {
		t.Fatal(code)
	}
	if l := rawLogLines(srv, "msg=http "); len(l) != 0 {
		t.Fatalf("access lines with access_log off: %q", l)
	}
}
