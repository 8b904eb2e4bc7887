package tests

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsDialGorilla connects a github.com/gorilla/websocket client, which checks
// the handshake (101, Sec-WebSocket-Accept) itself.
func wsDialGorilla(t *testing.T, addr string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: wsIOTimeout}
	conn, resp, err := d.Dial("ws://"+addr+"/", nil)
	if err != nil {
		t.Fatalf("gorilla dial: %v", err)
	}
	if resp.StatusCode != 101 {
		t.Fatalf("gorilla handshake status %d", resp.StatusCode)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// wsGorillaEcho sends one message and checks the echo.
func wsGorillaEcho(conn *websocket.Conn, kind int, payload []byte) error {
	// 10 s plus 1 s per MiB: ample for a linear server under -race.
	deadline := time.Now().Add(wsIOTimeout + time.Duration(len(payload)>>20)*time.Second)
	conn.SetWriteDeadline(deadline)
	conn.SetReadDeadline(deadline)
	errc := make(chan error, 1)
	go func() { errc <- conn.WriteMessage(kind, payload) }() // big messages echo while still being written
	gotKind, got, err := conn.ReadMessage()
	if werr := <-errc; werr != nil {
		return fmt.Errorf("write: %w", werr)
	}
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if gotKind != kind {
		return fmt.Errorf("echo of a type %d message came back as type %d", kind, gotKind)
	}
	if !bytes.Equal(got, payload) {
		return fmt.Errorf("echo of %d bytes came back as %d bytes, first difference at %d",
			len(payload), len(got), wsFirstDiff(got, payload))
	}
	return nil
}

// wsGorillaClose runs a clean close from the client and returns the close
// error the client then reads.
func wsGorillaClose(conn *websocket.Conn, code int, reason string) error {
	msg := websocket.FormatCloseMessage(code, reason)
	if err := conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wsIOTimeout)); err != nil {
		return err
	}
	conn.SetReadDeadline(time.Now().Add(wsIOTimeout))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			return err
		}
	}
}

func wsKindName(kind int) string {
	if kind == websocket.TextMessage {
		return "text"
	}
	return "binary"
}

// TestInteropGorilla: the gorilla/websocket client, an implementation
// nobody here wrote, against scripts/echo.lua. Gorilla sends a big message
// as ~4 KiB fragments, so reassembly is exercised too. Both pollers; the
// 8 MiB messages on epoll only.
func TestInteropGorilla(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "../scripts/echo.lua")
		addr := srv.Addr

		sizes := []int{0, 1, 125, 126, 65535, 65536, 1 << 20}
		if poller == "epoll" {
			sizes = append(sizes, 8<<20)
		}
		t.Run("multibyte-text", func(t *testing.T) {
			conn := wsDialGorilla(t, addr)
			for _, v := range wsValidUTF8 {
				if err := wsGorillaEcho(conn, websocket.TextMessage, []byte(v.s)); err != nil {
					t.Fatalf("%s: %v", v.name, err)
				}
			}
		})

		t.Run("50-concurrent-clients", func(t *testing.T) {
			const clients, perClient = 50, 40
			conns := make([]*websocket.Conn, clients)
			for i := range conns {
				conns[i] = wsDialGorilla(t, addr)
			}
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for i, conn := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(i), 7))
					for j := range perClient {
						kind, n := websocket.TextMessage, r.IntN(130)
						payload := wsPattern(n)
						if j%2 == 1 {
							kind, payload = websocket.BinaryMessage, wsRandom(n)
						}
						if err := wsGorillaEcho(conn, kind, payload); err != nil {
							errs <- fmt.Errorf("client %d message %d: %w", i, j, err)
							return
						}
					}
					var ce *websocket.CloseError
					if err := wsGorillaClose(conn, 1000, ""); !errors.As(err, &ce) || ce.Code != 1000 {
						errs <- fmt.Errorf("client %d: close read %v, want close 1000", i, err)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})

		t.Run("ping-pong", func(t *testing.T) {
			conn := wsDialGorilla(t, addr)
			pongs := make(chan string, 4)
			conn.SetPongHandler(func(data string) error {
				pongs <- data
				return nil
			})
			for _, p := range []string{"", "gorilla ping", string(wsPattern(125))} {
				if err := conn.WriteControl(websocket.PingMessage, []byte(p), time.Now().Add(wsIOTimeout)); err != nil {
					t.Fatal(err)
				}
				// Control frames are handled inside ReadMessage: the pong
				// arrives before the echo of a message sent after the ping.
				if err := wsGorillaEcho(conn, websocket.TextMessage, []byte("after ping")); err != nil {
					t.Fatal(err)
				}
				select {
				case got := <-pongs:
					if got != p {
						t.Fatalf("pong payload %q, want %q", got, p)
					}
				default:
					t.Fatalf("no pong for ping %q before the next message", p)
				}
			}
		})

		t.Run("close-codes", func(t *testing.T) {
			for _, code := range []int{1000, 1001, 3000, 4999} {
				conn := wsDialGorilla(t, addr)
				var ce *websocket.CloseError
				if err := wsGorillaClose(conn, code, "bye"); !errors.As(err, &ce) || ce.Code != code {
					t.Fatalf("close %d: client read %v, want the server's close %d", code, err, code)
				}
			}
		})

		// The big messages last: a slow server fails them without
		// starving the small cases.
		for _, kind := range []int{websocket.TextMessage, websocket.BinaryMessage} {
			if t.Failed() {
				break
			}
			t.Run("sizes/"+wsKindName(kind), func(t *testing.T) {
				conn := wsDialGorilla(t, addr)
				for _, n := range sizes {
					payload := wsRandom(n)
					if kind == websocket.TextMessage {
						payload = wsPattern(n)
					}
					if err := wsGorillaEcho(conn, kind, payload); err != nil {
						t.Fatalf("%s message of %d bytes (gorilla writes it as ~4 KiB fragments): %v", wsKindName(kind), n, err)
					}
				}
				var ce *websocket.CloseError
				if err := wsGorillaClose(conn, websocket.CloseNormalClosure, "done"); !errors.As(err, &ce) || ce.Code != 1000 {
					t.Fatalf("after a close 1000 the client read %v, want the server's close 1000", err)
				}
			})
		}

		if t.Failed() {
			return // the loop may still be busy; the cleanup kills the server
		}
		// Last: on SIGTERM the gorilla client sees close 1001.
		conn := wsDialGorilla(t, addr)
		if err := wsGorillaEcho(conn, websocket.TextMessage, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			conn.SetReadDeadline(time.Now().Add(wsIOTimeout))
			_, _, err := conn.ReadMessage() // gorilla answers the close itself
			errc <- err
		}()
		srv.stop()
		var ce *websocket.CloseError
		if err := <-errc; !errors.As(err, &ce) || ce.Code != 1001 {
			t.Fatalf("on shutdown the client read %v, want close 1001", err)
		}
	})
}
