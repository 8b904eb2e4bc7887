package engine

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"pocketlua/bindings"
	"pocketlua/ws"
)

// readPeer runs loop rounds until the peer has read want bytes or a second
// passes, and returns what it read.
func readPeer(t *testing.T, s *Server, fd, want int) []byte {
	t.Helper()
	var got []byte
	buf := make([]byte, 4096)
	for deadline := time.Now().Add(time.Second); len(got) < want && time.Now().Before(deadline); {
		if err := s.loop.Round(10); err != nil {
			t.Fatal(err)
		}
		if n, err := unix.Read(fd, buf); n > 0 {
			got = append(got, buf[:n]...)
		} else if err != nil && err != unix.EAGAIN {
			break
		}
	}
	return got
}

// TestUpgradeOptions drives the engine's WebSocket code with Go options,
// no Lua table: a script's limits lower the server's flags but never raise
// them, the deflate settings reach the decoder and compressor, and a frame
// over the lowered limit is answered with close 1009.
func TestUpgradeOptions(t *testing.T) {
	s, c, peer := benchServer(t, `return {}`, 0)
	if err := c.Upgrade("websocket", &bindings.UpgradeOptions{MaxMessage: 1 << 40, MaxFrame: 100,
		PingInterval: time.Hour, Deflate: &bindings.Deflate{
			Params:  ws.DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15},
			MinSize: bindings.DefaultCompressMinSize}}, ""); err != nil {
		t.Fatal(err)
	}
	w := c.ws
	if w.dec.MaxMessage != DefaultMaxMessage || w.dec.MaxFrame != 100 || w.pingInterval != time.Hour ||
		!w.dec.AllowRSV1 || w.inf == nil || w.def == nil {
		t.Fatalf("decoder limits %d/%d, ping %s, rsv1 %v, deflate %v/%v", w.dec.MaxMessage, w.dec.MaxFrame,
			w.pingInterval, w.dec.AllowRSV1, w.inf != nil, w.def != nil)
	}
	if err := c.Upgrade("websocket", nil, ""); err == nil {
		t.Fatal("a second upgrade was accepted")
	}
	c.Data(clientFrame(0x2, make([]byte, 101), false))
	want := ws.AppendClose(nil, ws.CloseTooBig, "frame too big")
	if got := readPeer(t, s, peer, len(want)); !bytes.Equal(got, want) {
		t.Fatalf("peer read % x, want the 1009 close % x", got, want)
	}
	if c.Open() {
		t.Fatal("connection still open after the protocol error")
	}
}

// TestUpgradeWithoutOptions takes the server's flags.
func TestUpgradeWithoutOptions(t *testing.T) {
	_, c, _ := benchServer(t, `return {}`, 0)
	if err := c.Upgrade("sse", nil, ""); err == nil {
		t.Fatal("an unknown mode was accepted")
	}
	if err := c.Upgrade("websocket", nil, ""); err != nil {
		t.Fatal(err)
	}
	if w := c.ws; w.dec.MaxMessage != DefaultMaxMessage || w.dec.MaxFrame != DefaultMaxMessage || w.def != nil || w.keepalive != nil {
		t.Fatalf("limits %d/%d, deflate %v, keepalive %v", w.dec.MaxMessage, w.dec.MaxFrame, w.def != nil, w.keepalive != nil)
	}
}

// TestConnStates walks a connection through its states: raw after start,
// websocket after the upgrade, closing once our close is out (closed has
// run, nothing more is sent), ended when the peer answers; a move the
// engine never makes panics.
func TestConnStates(t *testing.T) {
	s, c, peer := benchServer(t, `local C = {} function C:closed(code, reason) closed_with = code .. " " .. reason end return C`, 0)
	if c.state != stateRaw {
		t.Fatalf("after start: %s", c.state)
	}
	if err := c.Upgrade("websocket", nil, ""); err != nil || c.state != stateWebSocket {
		t.Fatalf("after upgrade: %s, %v", c.state, err)
	}
	if err := c.Close(4000, "bye"); err != nil || c.state != stateClosing {
		t.Fatalf("after close: %s, %v", c.state, err)
	}
	if got := s.L.GetGlobal("closed_with").String(); got != "4000 bye" {
		t.Fatalf("closed ran with %q", got)
	}
	if ok, err := c.Send("late", "text"); ok || err != nil {
		t.Fatalf("send while closing: %v, %v", ok, err)
	}
	want := ws.AppendClose(nil, 4000, "bye")
	if got := readPeer(t, s, peer, len(want)); !bytes.Equal(got, want) {
		t.Fatalf("peer read % x, want % x", got, want)
	}
	c.Data(clientFrame(0x8, []byte{0x0f, 0xa0}, false)) // the peer's answer: 4000
	if c.state != stateEnded || c.pc.Open() {
		t.Fatalf("after the peer's close: %s, socket open %v", c.state, c.pc.Open())
	}
	defer func() {
		if recover() == nil {
			t.Fatal("ended -> raw did not panic")
		}
	}()
	c.setState(stateRaw)
}
