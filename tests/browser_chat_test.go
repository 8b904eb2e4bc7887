package tests

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
)

// chatServerScript is the chat example's main script: httpd.lua serves
// www/index.html and hands "Upgrade: websocket" to chat.lua.
var chatServerScript = filepath.Join(examplesDir, "chat", "server.lua")

// chatMsg is one JSON message of the chat protocol.
type chatMsg struct {
	Type    string   `json:"type"`
	Room    string   `json:"room,omitempty"`
	Name    string   `json:"name,omitempty"`
	Text    string   `json:"text,omitempty"`
	Members []string `json:"members,omitempty"`
	Online  int      `json:"online,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// chatDial joins the chat with gorilla: by the URL when join is false, by
// a first JSON message otherwise. It returns the welcome.
func chatDial(t *testing.T, addr, room, name string, join bool) (*websocket.Conn, chatMsg) {
	t.Helper()
	url := "ws://" + addr + "/chat"
	if !join {
		url += "?room=" + room + "&name=" + name
	}
	d := websocket.Dialer{HandshakeTimeout: wsIOTimeout}
	conn, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("chat dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	if join {
		chatSend(t, conn, chatMsg{Type: "join", Room: room, Name: name})
	}
	return conn, chatNext(t, conn, "welcome")
}

func chatSend(t *testing.T, conn *websocket.Conn, m chatMsg) {
	t.Helper()
	b, _ := json.Marshal(m)
	conn.SetWriteDeadline(time.Now().Add(wsIOTimeout))
	if err := conn.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
}

// chatNext reads messages until one of type typ arrives.
func chatNext(t *testing.T, conn *websocket.Conn, typ string) chatMsg {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(wsIOTimeout))
	for {
		kind, b, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for a %q message: %v", typ, err)
		}
		if kind != websocket.TextMessage {
			t.Fatalf("chat sent a binary message")
		}
		var m chatMsg
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("chat sent %q: %v", b, err)
		}
		if m.Type == typ {
			return m
		}
	}
}

// chatJoinTab opens the chat page at page (a URL) in tab as name in room
// and waits until the page says it has joined.
func chatJoinTab(t *testing.T, tab context.Context, page, room, name string) {
	t.Helper()
	url := page + "?room=" + room + "&name=" + name
	if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate %s: %v", url, err)
	}
	if err := browserWait(tab, `document.body.dataset.joined === "`+room+`"`, 20*time.Second); err != nil {
		t.Fatalf("%s never joined %s: %v", name, room, err)
	}
}

// chatSay types text into the page's box and presses send.
func chatSay(t *testing.T, tab context.Context, text string) {
	t.Helper()
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.ID("text"), text),
		chromedp.Click(chromedp.ID("send")),
	); err != nil {
		t.Fatalf("typing %q: %v", text, err)
	}
}

// chatSeen is a JavaScript test for a line of the page's log.
func chatSeen(class, text string) string {
	js, _ := json.Marshal(text)
	return `[...document.querySelectorAll("#log li.` + class + `")].some(li => li.textContent === ` + string(js) + `)`
}

// TestBrowserChat: the chat example (scripts/examples/chat) served by
// httpd.lua on one port, in headless Chromium. Two tabs join room r1 (a
// third joins r2); what alice types appears in bob's page and the other
// way round, and not in r2; a gorilla client that joins with a first JSON
// message sees the same room. A reload (SIGHUP) keeps the rooms, since
// they live in server.state; closing bob's tab shows "bob left" to alice.
func TestBrowserChat(t *testing.T) {
	browser := startBrowser(t)
	srv := batteryServer(t, "epoll", chatServerScript)
	alice := newTab(t, browser, "alice")
	bob := newTab(t, browser, "bob")
	carol := newTab(t, browser, "carol")

	page := "http://" + srv.Addr + "/"
	chatJoinTab(t, alice, page, "r1", "alice")
	chatJoinTab(t, bob, page, "r1", "bob")
	chatJoinTab(t, carol, page, "r2", "carol")
	if err := browserWait(alice, chatSeen("notice", "bob joined"), 10*time.Second); err != nil {
		t.Fatalf("alice did not see bob join: %v", err)
	}

	// A gorilla client in r1, joining by message.
	g, welcome := chatDial(t, srv.Addr, "r1", "gopher", true)
	if !slices.Equal(welcome.Members, []string{"alice", "bob", "gopher"}) {
		t.Fatalf("welcome %+v, want members alice, bob, gopher", welcome)
	}

	chatSay(t, alice, "hello from alice")
	if err := browserWait(bob, chatSeen("message", "alice:hello from alice"), 10*time.Second); err != nil {
		t.Fatalf("bob's page does not show alice's message: %v", err)
	}
	if m := chatNext(t, g, "message"); m.Name != "alice" || m.Text != "hello from alice" || m.Room != "r1" {
		t.Fatalf("gorilla got %+v", m)
	}
	chatSay(t, bob, "hi alice, <b>bob</b> here")
	if err := browserWait(alice, chatSeen("message", "bob:hi alice, <b>bob</b> here"), 10*time.Second); err != nil {
		t.Fatalf("alice's page does not show bob's message: %v", err)
	}
	chatNext(t, g, "message")

	// Reload: the rooms survive in server.state.
	srv.cmd.Process.Signal(syscall.SIGHUP)
	rawWaitLogs(t, srv, 10*time.Second, 1, "reloaded", "version=2")
	_, welcome = chatDial(t, srv.Addr, "r1", "dave", false)
	if !slices.Equal(welcome.Members, []string{"alice", "bob", "dave", "gopher"}) {
		t.Fatalf("after reload: welcome %+v, want the members from before", welcome)
	}
	if err := browserWait(alice, chatSeen("notice", "dave joined"), 10*time.Second); err != nil {
		t.Fatalf("after reload, alice did not see dave join: %v", err)
	}
	chatSend(t, g, chatMsg{Type: "say", Text: "after the reload"})
	if err := browserWait(bob, chatSeen("message", "gopher:after the reload"), 10*time.Second); err != nil {
		t.Fatalf("after reload, bob does not see gopher's message: %v", err)
	}

	// carol, in r2, saw none of it.
	n, err := chromedp.Run(carol, chromedp.Evaluate[int](`document.querySelectorAll("#log li.message").length`))
	if err != nil || n != 0 {
		t.Fatalf("carol in r2 sees %d messages (%v), want 0", n, err)
	}
	text, _ := chromedp.Run(carol, chromedp.Evaluate[string](`document.getElementById("log").innerText`))
	if strings.Contains(text, "alice") {
		t.Fatalf("carol's page mentions alice: %q", text)
	}

	// Closing bob's tab: the others see him leave. (Navigating away is not
	// enough: the back/forward cache may keep the page and its socket.)
	if err := chromedp.Cancel(bob); err != nil {
		t.Fatal(err)
	}
	if err := browserWait(alice, chatSeen("notice", "bob left"), 10*time.Second); err != nil {
		t.Fatalf("alice did not see bob leave: %v", err)
	}
	if m := chatNext(t, g, "leave"); m.Name != "bob" {
		t.Fatalf("gorilla: leave of %q, want bob", m.Name)
	}
	srv.stop()
}
