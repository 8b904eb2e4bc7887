package tests

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestChatChurn: members and rooms come and go by the hundred; membership
// stays exact throughout: every newcomer sees the anchor and itself only.
func TestChatChurn(t *testing.T) {
	srv := batteryServer(t, "epoll", chatServerScript)
	anchor, welcome := chatDial(t, srv.Addr, "lobby", "anchor", false)
	if !slices.Equal(welcome.Members, []string{"anchor"}) {
		t.Fatalf("anchor welcome %v", welcome.Members)
	}
	// The anchor reads the join and leave notices as they come.
	notices := make(chan error, 1)
	go func() {
		for {
			anchor.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, _, err := anchor.ReadMessage(); err != nil {
				notices <- err
				return
			}
		}
	}()
	leave := func(c *websocket.Conn) {
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(wsIOTimeout))
		c.SetReadDeadline(time.Now().Add(wsIOTimeout))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				break // the server's close
			}
		}
		c.Close()
	}
	for i := 0; i < 300; i++ {
		name := fmt.Sprintf("u%d", i)
		c, w := chatDial(t, srv.Addr, "lobby", name, false)
		if want := []string{"anchor", name}; !slices.Equal(w.Members, want) {
			t.Fatalf("newcomer %d saw members %v, want %v", i, w.Members, want)
		}
		// A room of its own too, created and dropped.
		chatSend(t, c, chatMsg{Type: "join", Room: "r" + name, Name: name})
		if w := chatNext(t, c, "welcome"); !slices.Equal(w.Members, []string{name}) {
			t.Fatalf("room r%s: members %v", name, w.Members)
		}
		leave(c)
	}
	last, w := chatDial(t, srv.Addr, "lobby", "last", true)
	if !slices.Equal(w.Members, []string{"anchor", "last"}) {
		t.Fatalf("after the churn: members %v", w.Members)
	}
	leave(last)
	select {
	case err := <-notices:
		t.Fatalf("the anchor stopped reading: %v", err)
	default:
	}
	if n := len(rawLogLines(srv, "level=ERROR")); n != 0 {
		t.Fatalf("%d errors logged:\n%s", n, rlTail(srv.Logs(), 10))
	}
	srv.stop()
}
