package tests

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestSendKindDefaultIsText: conn:send and websocket.lua's self:send both
// send text when no kind is given; bytes that are not UTF-8 raise (the
// connection closes with 1011 and the log says to send them as binary);
// "binary" is binary.
func TestSendKindDefaultIsText(t *testing.T) {
	script := testdata(t, "newcomer/kinds.lua")
	srv := startServer(t, "epoll", script)
	c, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, tc := range []struct {
		ask  string
		kind int
		want string
	}{
		{"conn", websocket.TextMessage, "café"},
		{"self", websocket.TextMessage, "self text"},
		{"binary", websocket.BinaryMessage, "\xff\x00"},
	} {
		c.WriteMessage(websocket.TextMessage, []byte(tc.ask))
		kind, m, err := c.ReadMessage()
		if err != nil || kind != tc.kind || string(m) != tc.want {
			t.Fatalf("%s: kind %d %q %v, want kind %d %q", tc.ask, kind, m, err, tc.kind, tc.want)
		}
	}
	c.WriteMessage(websocket.TextMessage, []byte("bad"))
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 1011 {
		t.Fatalf("send of invalid UTF-8 without a kind: %v, want close 1011", err)
	}
	rawWaitLogs(t, srv, 10*time.Second, 1, "lua handler failed", `send it as \"binary\"`)
	if strings.Contains(srv.Logs(), "panic") {
		t.Fatalf("logs:\n%s", srv.Logs())
	}
}
