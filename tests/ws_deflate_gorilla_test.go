package tests

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
)

// wsDialGorillaDeflate connects gorilla/websocket's client with
// EnableCompression: it offers permessage-deflate with no context
// takeover both ways and compresses every message it sends.
func wsDialGorillaDeflate(t *testing.T, addr string) (*websocket.Conn, string) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: wsIOTimeout, EnableCompression: true}
	conn, resp, err := d.Dial("ws://"+addr+"/", nil)
	if err != nil {
		t.Fatalf("gorilla dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, resp.Header.Get("Sec-WebSocket-Extensions")
}

// TestDeflateInteropGorilla: gorilla's compressing client against the
// compressing echo: the answer it got, then text and binary messages of
// many sizes (gorilla fragments big ones into 4 KiB frames), several
// clients at once, and a raw client offering what gorilla offers to see
// the RSV1 bit on the server's frames.
func TestDeflateInteropGorilla(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		srv := wsStartDeflate(t, poller, "compress_min_size = 32")
		conn, ext := wsDialGorillaDeflate(t, srv.Addr)
		const want = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
		if ext != want {
			t.Fatalf("gorilla got Sec-WebSocket-Extensions %q, want %q", ext, want)
		}
		sizes := []int{0, 1, 31, 32, 125, 126, 4095, 4096, 4097, 65535, 65536, 200_000, 1 << 20}
		if poller == "epoll" {
			sizes = append(sizes, 4<<20)
		}
		for _, n := range sizes {
			for _, kind := range []int{websocket.TextMessage, websocket.BinaryMessage} {
				payload := wsTextOf(n, uint64(n))
				if kind == websocket.BinaryMessage {
					payload = wsRandom(n)
				}
				if err := wsGorillaEcho(conn, kind, payload); err != nil {
					t.Fatalf("%d-byte %s: %v", n, wsKindName(kind), err)
				}
			}
		}
		// JSON chat, and every compression level gorilla has.
		for level := -2; level <= 9; level++ {
			if level == 0 || level == -1 {
				continue
			}
			if err := conn.SetCompressionLevel(level); err != nil {
				t.Fatal(err)
			}
			for _, m := range wsChatMessages(50, uint64(level+10)) {
				if err := wsGorillaEcho(conn, websocket.TextMessage, m); err != nil {
					t.Fatalf("level %d: %v", level, err)
				}
			}
		}
		// Compression off for some messages on a compressed connection.
		conn.EnableWriteCompression(false)
		if err := wsGorillaEcho(conn, websocket.TextMessage, wsTextOf(5000, 1)); err != nil {
			t.Fatal(err)
		}
		conn.EnableWriteCompression(true)
		if err := wsGorillaClose(conn, 1000, "bye"); !websocket.IsCloseError(err, 1000) {
			t.Fatalf("close: %v", err)
		}

		t.Run("20-concurrent-clients", func(t *testing.T) {
			const clients, perClient = 20, 50
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for i := range clients {
				c, _ := wsDialGorillaDeflate(t, srv.Addr)
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(i), 11))
					for j := range perClient {
						payload := wsTextOf(r.IntN(3000), uint64(i*perClient+j))
						if err := wsGorillaEcho(c, websocket.TextMessage, payload); err != nil {
							errs <- fmt.Errorf("client %d message %d: %w", i, j, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})

		t.Run("server-frames-carry-rsv1", func(t *testing.T) {
			c := wsDialDeflate(t, srv.Addr, "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
			if c.ext != want {
				t.Fatalf("answer %q", c.ext)
			}
			msg := wsTextOf(2000, 5)
			c.sendCompressed(wsOpText, msg, 0)
			f := c.readFrame()
			if !f.fin || f.rsv != 0x40 || f.op != wsOpText || len(f.payload) >= len(msg) {
				t.Fatalf("server frame %v: want FIN, RSV1 and a compressed payload", f)
			}
			got, err := c.inflate(f.payload)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("inflated %d bytes, err %v", len(got), err)
			}
			small := []byte("tiny")
			c.sendCompressed(wsOpText, small, 0)
			if f := c.readFrame(); f.rsv != 0 || !bytes.Equal(f.payload, small) {
				t.Fatalf("a message below compress_min_size came back as %v", f)
			}
		})
		srv.stop()
	})
}
