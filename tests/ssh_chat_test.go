package tests

import (
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestSSHChatExample runs scripts/examples/ssh-chat: a terminal logged in
// with ssh (through a pty) and a browser-side WebSocket client share one
// room on one port, each seeing the other's joins and lines.
func TestSSHChatExample(t *testing.T) {
	site := newSSHSite(t)
	t.Setenv("XDG_STATE_HOME", filepath.Join(site.dir, "state"))
	srv := batteryServer(t, "epoll", "-I", filepath.Join(examplesDir, "chat"),
		filepath.Join(examplesDir, "ssh-chat", "server.lua"))
	addr := srv.Addr

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/chat?room=lobby&name=web", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	next := func(want string) map[string]any {
		t.Helper()
		for {
			ws.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, data, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("waiting for %s: %v", want, err)
			}
			var m map[string]any
			json.Unmarshal(data, &m)
			if m["type"] == want {
				return m
			}
		}
	}
	next("welcome")

	c := site.goClient(t, addr) // any key will do; the user name is the nick
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := sess.StdinPipe()
	out, _ := sess.StdoutPipe()
	var screen syncBuffer
	go io.Copy(&screen, out)
	if err := sess.RequestPty("xterm", 24, 80, nil); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	if m := next("join"); m["name"] != "alice" {
		t.Errorf("join seen by the browser: %v", m)
	}
	waitFor(t, 10*time.Second, "the terminal's welcome", func() bool { return strings.Contains(screen.String(), "here: alice, web") })

	io.WriteString(in, "hello from ssh\r")
	if m := next("message"); m["name"] != "alice" || m["text"] != "hello from ssh" {
		t.Errorf("message seen by the browser: %v", m)
	}
	ws.WriteJSON(map[string]string{"type": "say", "text": "hi alice"})
	waitFor(t, 10*time.Second, "the browser's line in the terminal", func() bool { return strings.Contains(screen.String(), "web: hi alice") })

	io.WriteString(in, "/quit\r")
	if m := next("leave"); m["name"] != "alice" {
		t.Errorf("leave seen by the browser: %v", m)
	}
	if err := sess.Wait(); err != nil {
		t.Errorf("session end: %v", err)
	}
}
