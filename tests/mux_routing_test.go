package tests

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func startMux(t *testing.T, poller, wait string) *server {
	t.Helper()
	return startServer(t, poller, scriptFrom(t, "", "mux/app.lua", wait))
}

// TestMuxRouting: one port, routed by the first bytes: HTTP (whole and in
// pieces), WebSocket (gorilla, and a raw client whose first frame rides
// with the handshake), a prefix route, TLS refused with an alert that Go's
// TLS client reports, and the server-first class for a silent client.
// Unmatched, unrecognised and undecided input is closed with its reason.
func TestMuxRouting(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startMux(t, poller, "0.3")

		t.Run("http", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			c.send("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
			muxExpectBody(t, c, "http saw GET /x HTTP/1.1 via http")
		})
		t.Run("http in pieces", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			for _, piece := range []string{"G", "ET /split HT", "TP/1.1\r\nHost: a\r\n", "\r\n"} {
				c.send(piece)
				time.Sleep(50 * time.Millisecond)
			}
			muxExpectBody(t, c, "http saw GET /split HTTP/1.1 via http")
		})
		t.Run("websocket gorilla", func(t *testing.T) {
			d := websocket.Dialer{HandshakeTimeout: wsIOTimeout}
			conn, _, err := d.Dial("ws://"+srv.Addr+"/room", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetReadDeadline(time.Now().Add(wsIOTimeout))
			if _, msg, err := conn.ReadMessage(); err != nil || string(msg) != "open /room via ws" {
				t.Fatalf("open: %q, %v", msg, err)
			}
			if err := conn.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
				t.Fatal(err)
			}
			if _, msg, err := conn.ReadMessage(); err != nil || string(msg) != "ws:hi" {
				t.Fatalf("echo: %q, %v", msg, err)
			}
			if err := wsGorillaClose(conn, 1000, "bye"); !websocket.IsCloseError(err, 1000) {
				t.Fatalf("close: %v", err)
			}
		})
		t.Run("websocket frame with the handshake", func(t *testing.T) {
			// The mux buffers the head and the first frame; become replays
			// both; websocket.lua passes the frame on as leftover.
			c := wsDial(t, srv.Addr, wsFrame(true, wsOpBinary, []byte("early"))...)
			c.expectFrame(wsOpText, []byte("open /chat via ws"))
			c.expectFrame(wsOpBinary, []byte("ws:early"))
			c.send(wsFrame(true, wsOpText, []byte("later")))
			c.expectFrame(wsOpText, []byte("ws:later"))
			c.closeCleanly()
		})
		t.Run("prefix route", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			c.send("ECHO one\n")
			c.expect("ECHO one")
			c.roundTrip("two", "two")
		})
		t.Run("tls refused", func(t *testing.T) {
			raw, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(10 * time.Second))
			tc := tls.Client(raw, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true})
			err = tc.Handshake()
			if err == nil || !strings.Contains(err.Error(), "handshake failure") {
				t.Fatalf("TLS handshake: %v, want a handshake failure alert", err)
			}
		})
		t.Run("silent client gets server_first", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			start := time.Now()
			c.expect("220 hello, silent client\r")
			if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
				t.Fatalf("greeting after %s, want about 0.3s", d)
			}
			c.send("USER x\n")
			c.expect("got USER x")
		})
		t.Run("no route", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			c.send("HELLO\n")
			c.expectEOF(5 * time.Second)
			rawWaitLogs(t, srv, 5*time.Second, 1, "mux closed", `reason="no protocol matched"`)
		})
		t.Run("undecided past max_head", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			c.send("GET /" + strings.Repeat("a", 1100)) // HTTP, but the head never ends
			c.expectEOF(5 * time.Second)
			rawWaitLogs(t, srv, 5*time.Second, 1, "mux closed", `reason="protocol not recognized"`)
		})
		t.Run("undecided too long", func(t *testing.T) {
			c := dialRaw(t, srv.Addr)
			c.send("GE")
			start := time.Now()
			c.expectEOF(5 * time.Second)
			if d := time.Since(start); d < 900*time.Millisecond {
				t.Fatalf("closed after %s, want the 1 s detection timeout", d)
			}
			rawWaitLogs(t, srv, 5*time.Second, 1, "mux closed", `reason="protocol detection timeout"`)
		})
		srv.stop()
	})
}

// TestMuxWait: Mux.wait decides how long silence lasts before the
// server-first class is chosen, and a byte sent within it wins.
func TestMuxWait(t *testing.T) {
	for _, tc := range []struct {
		wait     string
		min, max time.Duration
	}{{"0.1", 80 * time.Millisecond, 600 * time.Millisecond}, {"1.2", 1150 * time.Millisecond, 3 * time.Second}} {
		t.Run(tc.wait, func(t *testing.T) {
			srv := startMux(t, "epoll", tc.wait)
			c := dialRaw(t, srv.Addr)
			start := time.Now()
			c.expect("220 hello, silent client\r")
			if d := time.Since(start); d < tc.min || d > tc.max {
				t.Fatalf("wait %s: greeting after %s, want %s..%s", tc.wait, d, tc.min, tc.max)
			}
			if tc.wait == "1.2" {
				// A client that speaks within the wait is routed by its bytes.
				c2 := dialRaw(t, srv.Addr)
				time.Sleep(600 * time.Millisecond)
				c2.send("ECHO late but in time\n")
				c2.expect("ECHO late but in time")
			}
		})
	}
}

// muxExpectBody reads one HTTP response and checks its body.
func muxExpectBody(t *testing.T, c *rawClient, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(rawIOTimeout))
	b, err := io.ReadAll(c.r)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.HasPrefix(s, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(s, "\r\n\r\n"+want) {
		t.Fatalf("response %q, want body %q", s, want)
	}
}
