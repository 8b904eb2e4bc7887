package main

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
)

// fault makes the test echo server misbehave on one message.
type fault int

const (
	faultNone    fault = iota
	faultCorrupt       // flip one byte of the echo
	faultDrop          // do not echo the message
	faultClose         // close the connection instead of echoing
)

// faultAt is the per-connection message index that triggers a fault.
const faultAt = 5

// wsEchoServer starts a gorilla/websocket echo server on 127.0.0.1:0 and
// returns its ws:// URL. Only connection 0 misbehaves, so a test can tell
// detection from collateral damage.
func wsEchoServer(t testing.TB, f fault) string {
	t.Helper()
	up := websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096}
	var nconn atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/echo" {
			http.NotFound(w, r)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadLimit(1 << 24)
		id := nconn.Add(1) - 1
		for i := 0; i < 1<<30; i++ {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return // includes the client's close, which gorilla answers
			}
			if id == 0 && i == faultAt {
				switch f {
				case faultCorrupt:
					if len(msg) > 0 {
						msg[len(msg)-1] ^= 0x40
					}
				case faultDrop:
					continue
				case faultClose:
					return
				}
			}
			if err := c.WriteMessage(mt, msg); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws://" + strings.TrimPrefix(srv.URL, "http://") + "/echo"
}

// rawEchoServer starts a TCP echo server on 127.0.0.1:0; with faultCorrupt
// the first connection gets one flipped byte at stream offset 1000.
func rawEchoServer(t testing.TB, f fault) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var nconn atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				flip := int64(-1)
				if nconn.Add(1) == 1 && f == faultCorrupt {
					flip = 1000
				}
				var off int64
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if flip >= off && flip < off+int64(n) {
							buf[flip-off] ^= 1
						}
						off += int64(n)
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

func isUsage(err error) bool { return errors.Is(err, errUsage) }
