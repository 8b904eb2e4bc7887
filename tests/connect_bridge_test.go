package tests

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"pocketlua/internal/loopback"
)

// examplesDir holds the example scripts (bridge.lua, chat/).
var examplesDir, _ = filepath.Abs("../scripts/examples")

// bridgeEcho is a TCP echo backend written in Go for the bridge tests. It
// records when each connection sees EOF, and can hang up on demand.
type bridgeEcho struct {
	ln   net.Listener
	port int
	mu   sync.Mutex
	live []net.Conn
	eofs chan struct{} // one per connection whose client closed
}

func newBridgeEcho(t *testing.T) *bridgeEcho {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &bridgeEcho{ln: ln, port: ln.Addr().(*net.TCPAddr).Port, eofs: make(chan struct{}, 64)}
	t.Cleanup(func() {
		ln.Close()
		e.mu.Lock()
		for _, c := range e.live {
			c.Close()
		}
		e.mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.live = append(e.live, c)
			e.mu.Unlock()
			go func() {
				_, err := io.Copy(c, c)
				if err == nil { // the bridge closed its side: EOF
					e.eofs <- struct{}{}
				}
				c.Close()
			}()
		}
	}()
	return e
}

// hangUp closes every backend connection from the backend's side.
func (e *bridgeEcho) hangUp() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.live {
		c.Close()
	}
	e.live = nil
}

// startBridge runs scripts/examples/bridge.lua towards backend with a
// small high-water mark and a 4 MiB queue limit, so a bridge without
// backpressure would drop its clients as slow consumers. The handler
// timeout is generous (batteryServer): a race-built server on a loaded
// machine spends up to a few hundred ms copying one 1 MiB message.
func startBridge(t *testing.T, poller, backend string) *server {
	t.Helper()
	script := scriptFrom(t, "", "connect/bridge_to.lua", backend)
	return batteryServer(t, poller, "-I", examplesDir,
		"--high-water", "262144", "--low-water", "65536", "--max-queued-bytes", "4194304", script)
}

func dialBridge(t *testing.T, addr string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: wsIOTimeout, ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	conn, _, err := d.Dial("ws://"+addr+"/", nil)
	if err != nil {
		t.Fatalf("dial the bridge: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestBridgeEcho: gorilla WebSocket clients talk to a TCP echo through the
// bridge: text and binary messages from 1 byte to 1 MiB, 6 MiB per client
// with three clients at once, the clients reading only after a pause so
// both directions back up; every byte comes back in order and no
// connection is dropped as a slow consumer. Then closing works both ways:
// a client's close ends its backend connection (the echo sees EOF), and a
// backend hang-up sends the client close 1000 "backend peer closed".
func TestBridgeEcho(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		echo := newBridgeEcho(t)
		srv := startBridge(t, poller, "127.0.0.1:"+strconv.Itoa(echo.port))

		const clients = 3
		sizes := []int{1, 100, 4 << 10, 64 << 10, 1 << 20, 1<<20 - 1, 300 << 10, 1 << 20}
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for i := 0; i < clients; i++ {
			conn := dialBridge(t, srv.Addr)
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs <- bridgePump(conn, i, sizes, 6<<20)
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if lines := rawLogLines(srv, "slow consumer"); len(lines) > 0 {
			t.Fatalf("a bridge side was dropped as a slow consumer: %s", lines[0])
		}

		// Client closes: the backend connection ends with EOF.
		drainEOFs(echo)
		conn := dialBridge(t, srv.Addr)
		bridgeRoundTrip(t, conn, "before close")
		if err := wsGorillaClose(conn, 1000, "done"); !websocket.IsCloseError(err, 1000) {
			t.Fatalf("client close: %v", err)
		}
		select {
		case <-echo.eofs:
		case <-time.After(5 * time.Second):
			t.Fatal("the backend never saw EOF after the client closed")
		}

		// Backend hangs up: the client gets a close frame.
		conn = dialBridge(t, srv.Addr)
		bridgeRoundTrip(t, conn, "before hang-up")
		echo.hangUp()
		conn.SetReadDeadline(time.Now().Add(wsIOTimeout))
		_, _, err := conn.ReadMessage()
		var ce *websocket.CloseError
		if !asCloseError(err, &ce) || ce.Code != 1000 || ce.Text != "backend peer closed" {
			t.Fatalf("after the backend hung up: %v, want close 1000 \"backend peer closed\"", err)
		}
		srv.stop()
	})
}

// TestBridgeBackendDown: a bridge whose backend refuses, or never answers,
// closes the WebSocket with 1011 and the reason, and serves other clients.
func TestBridgeBackendDown(t *testing.T) {
	for _, tc := range []struct {
		name, backend, reason string
	}{
		{"refused", "127.0.0.1:" + strconv.Itoa(loopback.ClosedPort(t)), "backend connection refused"},
		{"timeout", "127.0.0.1:" + strconv.Itoa(loopback.BlackholePort(t)), "backend connect timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startBridge(t, "epoll", tc.backend)
			conn := dialBridge(t, srv.Addr)
			conn.WriteMessage(websocket.BinaryMessage, []byte("queued while connecting"))
			conn.SetReadDeadline(time.Now().Add(wsIOTimeout))
			_, _, err := conn.ReadMessage()
			var ce *websocket.CloseError
			if !asCloseError(err, &ce) || ce.Code != 1011 || ce.Text != tc.reason {
				t.Fatalf("got %v, want close 1011 %q", err, tc.reason)
			}
		})
	}
}

func asCloseError(err error, ce **websocket.CloseError) bool {
	c, ok := err.(*websocket.CloseError)
	if ok {
		*ce = c
	}
	return ok
}

func drainEOFs(e *bridgeEcho) {
	for {
		select {
		case <-e.eofs:
		default:
			return
		}
	}
}

func bridgeRoundTrip(t *testing.T, conn *websocket.Conn, text string) {
	t.Helper()
	conn.SetWriteDeadline(time.Now().Add(wsIOTimeout))
	if err := conn.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		t.Fatal(err)
	}
	var got []byte
	conn.SetReadDeadline(time.Now().Add(wsIOTimeout))
	for len(got) < len(text) {
		kind, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("echo of %q: %v", text, err)
		}
		if kind != websocket.BinaryMessage {
			t.Fatalf("the bridge sent a message of type %d, want binary", kind)
		}
		got = append(got, msg...)
	}
	if string(got) != text {
		t.Fatalf("echo %q, want %q", got, text)
	}
}

// bridgePump writes total bytes as messages of the given sizes (text and
// binary alternately) while reading, after a 300 ms head start that makes
// the queues back up, and checks the byte stream comes back intact.
func bridgePump(conn *websocket.Conn, seed int, sizes []int, total int) error {
	want := rawPattern(total, seed+1)
	type message struct {
		kind int
		data []byte
	}
	var msgs []message
	for off, i := 0, 0; off < total; i++ {
		n := min(sizes[i%len(sizes)], total-off)
		m := message{websocket.BinaryMessage, want[off : off+n]}
		if i%2 == 1 { // text must be UTF-8: a run of one letter
			m.kind = websocket.TextMessage
			copy(m.data, bytes.Repeat([]byte{'a' + byte(i%26)}, n))
		}
		msgs = append(msgs, m)
		off += n
	}
	deadline := time.Now().Add(60 * time.Second)
	conn.SetWriteDeadline(deadline)
	conn.SetReadDeadline(deadline)
	werr := make(chan error, 1)
	go func() {
		for _, m := range msgs {
			if err := conn.WriteMessage(m.kind, m.data); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	time.Sleep(300 * time.Millisecond)
	got := make([]byte, 0, total)
	for len(got) < total {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			return fmt.Errorf("client %d after %d bytes: %w", seed, len(got), err)
		}
		if len(msg) > 64<<10 {
			return fmt.Errorf("a message of %d bytes: the bridge forwards each read (at most 64 KiB)", len(msg))
		}
		got = append(got, msg...)
	}
	if err := <-werr; err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("client %d: %s", seed, rawFirstDiff(got, want))
	}
	return nil
}
