package tests

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// psClient is a gorilla WebSocket client of testdata/pubsub/rooms.lua.
type psClient struct {
	t      *testing.T
	c      *websocket.Conn
	worker string // the worker that took it, from "joined worker=W"
}

// psDial joins path (/room/NAME or /filter/NAME) on addr.
func psDial(t *testing.T, addr, path string) *psClient {
	t.Helper()
	return psDialURL(t, websocket.Dialer{HandshakeTimeout: 10 * time.Second}, "ws://"+addr+path)
}

// psDialURL is psDial through d: wss, compression.
func psDialURL(t *testing.T, d websocket.Dialer, url string) *psClient {
	t.Helper()
	c, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	resp.Body.Close()
	t.Cleanup(func() { c.Close() })
	p := &psClient{t: t, c: c}
	p.worker = strings.TrimPrefix(p.next(), "joined worker=")
	return p
}

// next reads one text or binary message.
func (p *psClient) next() string {
	p.t.Helper()
	_, m := p.nextKind()
	return m
}

func (p *psClient) nextKind() (int, string) {
	p.t.Helper()
	p.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	kind, b, err := p.c.ReadMessage()
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	return kind, string(b)
}

func (p *psClient) send(cmd string) {
	p.t.Helper()
	p.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := p.c.WriteMessage(websocket.TextMessage, []byte(cmd)); err != nil {
		p.t.Fatalf("send %q: %v", cmd, err)
	}
}

// do sends a command and returns its answer ("ok ..." or "error ..."),
// skipping deliveries that arrive before it.
func (p *psClient) do(cmd string) string {
	p.t.Helper()
	p.send(cmd)
	for range 10000 {
		m := p.next()
		if strings.HasPrefix(m, "ok ") || strings.HasPrefix(m, "error ") {
			return m
		}
	}
	p.t.Fatalf("%q: no answer", cmd)
	return ""
}
