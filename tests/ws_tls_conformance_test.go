package tests

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The conformance suite's raw RFC 6455 client (ws_frames_test.go) and the
// fault cases again, over crypto/tls against the engine's TLS: only the
// cases whose bytes take another path through it, since the frame logic
// above the transport is the same. What differs under TLS: input comes
// as records, decrypted one at a time (a frame split across records, one
// record holding many frames, one-byte records); output is encrypted into
// the queue (large frames cross record boundaries, send's answer and the
// slow-consumer cap count ciphertext); a connection can end inside a
// record.

// wsDialTLS opens a raw conformance client over TLS; rcvbuf > 0 shrinks
// the socket's receive buffer first.
func wsDialTLS(t *testing.T, addr string, cfg *tls.Config, rcvbuf int) *wsClient {
	t.Helper()
	raw := wsDialRaw(t, addr, rcvbuf)
	tc := tls.Client(raw, cfg)
	tc.SetDeadline(time.Now().Add(wsIOTimeout))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("tls handshake: %v", err)
	}
	tc.SetDeadline(time.Time{})
	return &wsClient{t: t, Conn: tc, r: bufio.NewReaderSize(tc, 64<<10)}
}

func wsDialRaw(t *testing.T, addr string, rcvbuf int) *net.TCPConn {
	t.Helper()
	d := &net.Dialer{Timeout: wsIOTimeout}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf) })
		}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	raw := c.(*net.TCPConn)
	raw.SetNoDelay(true)
	t.Cleanup(func() { raw.Close() })
	return raw
}

// cutConn passes writes through, except that once cut is set the next
// write sends only its first cut bytes (and reports them all sent): the
// connection then ends inside a TLS record.
type cutConn struct {
	*net.TCPConn
	cut atomic.Int32
}

func (c *cutConn) Write(p []byte) (int, error) {
	if n := int(c.cut.Swap(0)); n > 0 && n < len(p) {
		if _, err := c.TCPConn.Write(p[:n]); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.TCPConn.Write(p)
}

// TestWSConformanceTLS: the raw conformance client over TLS against
// fault.lua (the echo battery, logging each connection's end) with
// --tls-required: every length class both ways (1 MiB is 64 records each
// way), a frame sent one byte per record, frames cut across records at
// odd places and many frames in one record, a fragmented message with a
// ping between its fragments, protocol errors answered with an encrypted
// close frame and then the connection's end, and connections that end
// inside a record (FIN and RST): closed by the server, which goes on
// serving.
func TestWSConformanceTLS(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, "--tls-required", testdata(t, "fault/fault.lua"))
	cfg := pki.clientConfig("localhost")
	dial := func(t *testing.T) *wsClient {
		t.Helper()
		return wsHandshake(wsDialTLS(t, srv.Addr, cfg, 0), srv.Addr)
	}

	t.Run("sizes", func(t *testing.T) {
		c := dial(t)
		for _, op := range []byte{wsOpText, wsOpBinary} {
			for _, n := range wsSizeClasses {
				payload := wsRandom(n)
				if op == wsOpText {
					payload = wsPattern(n)
				}
				done := c.sendAsync(wsFrame(true, op, payload))
				c.expectFrame(op, payload)
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
		}
		c.closeCleanly()
		c.expectEOF()
	})

	t.Run("one byte per record", func(t *testing.T) {
		c := dial(t)
		// Header, mask key and payload each split at every position,
		// every byte its own record.
		for _, n := range []int{5, 130} {
			msg := wsPattern(n)
			c.sendBytewise(wsFrame(true, wsOpText, msg), 0)
			c.expectFrame(wsOpText, msg)
		}
		c.closeCleanly()
	})

	t.Run("frames across records", func(t *testing.T) {
		c := dial(t)
		var stream []byte
		var msgs [][]byte
		for i := range 40 {
			msg := wsRandom((i * 977) % 20000)
			msgs = append(msgs, msg)
			stream = append(stream, wsFrame(true, wsOpBinary, msg)...)
		}
		done := make(chan error, 1)
		go func() {
			// Records of 1000 bytes, then of 7: frame and record boundaries
			// never meet, and a record holds several small frames.
			c.SetWriteDeadline(time.Now().Add(4 * wsIOTimeout))
			for i, step := 0, 1000; i < len(stream); i += step {
				if i > len(stream)/2 {
					step = 7
				}
				if _, err := c.Write(stream[i:min(i+step, len(stream))]); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		for _, msg := range msgs {
			c.expectFrame(wsOpBinary, msg)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// Many small frames in one record.
		var batch []byte
		for i := range 50 {
			batch = append(batch, wsFrame(true, wsOpText, []byte(fmt.Sprint("m", i)))...)
		}
		c.send(batch)
		for i := range 50 {
			c.expectFrame(wsOpText, []byte(fmt.Sprint("m", i)))
		}
		c.closeCleanly()
	})

	t.Run("fragments and a ping", func(t *testing.T) {
		c := dial(t)
		msg := wsPattern(100 << 10)
		frags := wsFragments(wsOpText, msg, 30000)
		cut := len(wsFrame(false, wsOpText, msg[:30000]))
		c.send(append(append(append([]byte(nil), frags[:cut]...), wsFrame(true, wsOpPing, []byte("mid"))...), frags[cut:]...))
		c.expectFrame(wsOpPong, []byte("mid"))
		c.expectFrame(wsOpText, msg)
		c.closeCleanly()
	})

	t.Run("protocol errors", func(t *testing.T) {
		c := dial(t)
		c.send(wsFrameWith(true, wsOpText, []byte("bare"), wsFrameOpts{unmasked: true}))
		c.expectClose(1002)
		c.expectEOF()
		c = dial(t)
		c.send(wsFrame(true, wsOpText, []byte{0xff, 0xfe}))
		c.expectClose(1007)
		c.expectEOF()
	})

	// A connection that ends inside a record: after a FIN the server
	// closes its end (it does not wait for the rest of the record); after
	// an RST it cleans up. Either way it goes on serving.
	for _, how := range []string{"fin", "rst"} {
		t.Run("cut mid-record/"+how, func(t *testing.T) {
			raw := wsDialRaw(t, srv.Addr, 0)
			cc := &cutConn{TCPConn: raw}
			tc := tls.Client(cc, cfg)
			tc.SetDeadline(time.Now().Add(wsIOTimeout))
			c := wsHandshake(&wsClient{t: t, Conn: tc, r: bufio.NewReaderSize(tc, 64<<10)}, srv.Addr)
			c.echo(wsOpText, []byte("before the cut"))
			cc.cut.Store(40) // the record header and part of the frame
			c.send(wsFrame(true, wsOpBinary, wsRandom(1000)))
			reason := map[string]string{"fin": `reason="peer closed"`, "rst": `reason="connection reset by peer"`}[how]
			before := faultLogCount(srv, `msg="fault closed"`, "path=/chat", reason)
			if how == "fin" {
				raw.CloseWrite()
				if n := readUntilClosed(t, raw); n != 0 {
					t.Fatalf("%d bytes after a truncated record", n)
				}
			} else {
				faultLinger0(raw)
				raw.Close()
			}
			waitFor(t, 10*time.Second, "the server's end of the connection", func() bool {
				return faultLogCount(srv, `msg="fault closed"`, "path=/chat", reason) == before+1
			})
			dial(t).echo(wsOpText, []byte("still serving"))
		})
	}
	if t.Failed() {
		t.Logf("server logs:\n%s", rlTail(srv.Logs(), 4000))
	}
	srv.stop()
}

// TestWSBackpressureTLS: TestWSBackpressure over TLS: a client writes
// without reading through a small receive window until the encrypted
// queue passes --high-water (send returns false and reading pauses), then
// reads everything: every message comes back once, whole, in order.
func TestWSBackpressureTLS(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, "--high-water", "262144", "--low-water", "65536",
		testdata(t, "ws/probe.lua"))
	c := wsHandshake(wsDialTLS(t, srv.Addr, pki.clientConfig("localhost"), 16<<10), srv.Addr)
	const most, size = 64, 256 << 10
	msgs := make([][]byte, most)
	for i := range msgs {
		msgs[i] = wsRandom(size)
	}
	over := func() bool { return strings.Contains(srv.Logs(), "probe: over high water") }
	var sent atomic.Int32
	done := make(chan error, 1)
	go func() {
		c.SetWriteDeadline(time.Now().Add(4 * wsIOTimeout))
		for i := 0; i < most && !over(); i++ {
			if _, err := c.Write(wsFrame(true, wsOpBinary, msgs[i])); err != nil {
				done <- err
				return
			}
			sent.Add(1)
		}
		done <- nil
	}()
	waitFor(t, 4*wsIOTimeout, "the queue over high water", func() bool { return over() || sent.Load() == most })
	// The writer may be blocked in a write the paused server does not
	// read: reading unblocks it.
	for i := 0; ; i++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			done = nil
		default:
		}
		if done == nil && i == int(sent.Load()) {
			break
		}
		f := c.readFrame()
		if f.op != wsOpBinary || !f.fin || !bytes.Equal(f.payload, msgs[i]) {
			t.Fatalf("message %d of %d: got %v", i, sent.Load(), f)
		}
	}
	c.closeCleanly()
	if !over() || !strings.Contains(srv.Logs(), "probe: drain") {
		t.Fatalf("the encrypted queue never passed the high-water mark, so pause and drain went untested; logs:\n%s", srv.Logs())
	}
	srv.stop()
}

// TestFaultNeverReadingClientsTLS: TestFaultNeverReadingClients over
// TLS, smaller: wss clients that never read while a timer broadcasts
// 64 KiB every 10 ms are dropped as slow consumers once their encrypted
// queue passes --max-queued-bytes; a wss client that reads keeps its
// echoes meanwhile.
func TestFaultNeverReadingClientsTLS(t *testing.T) {
	const sinks, maxQueued = 10, 1 << 20
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "epoll", "--tls-cert", cert, "--tls-key", key, "--tls-required",
		"--max-queued-bytes", fmt.Sprint(maxQueued), "--high-water", fmt.Sprint(maxQueued/4), "--low-water", fmt.Sprint(maxQueued/16),
		testdata(t, "fault/broadcaster.lua"))
	cfg := pki.clientConfig("localhost")
	side, _, err := (&websocket.Dialer{TLSClientConfig: cfg, HandshakeTimeout: wsIOTimeout}).Dial("wss://"+srv.Addr+"/side", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer side.Close()
	var wg sync.WaitGroup
	for range sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw := wsDialRaw(t, srv.Addr, 16<<10)
			tc := tls.Client(raw, cfg)
			tc.SetDeadline(time.Now().Add(wsIOTimeout))
			if _, err := tc.Write([]byte(wsUpgradeRequest(srv.Addr, wsKey()))); err != nil {
				t.Error(err)
			}
			// Read nothing, not even the 101.
		}()
	}
	wg.Wait()
	stop := make(chan struct{})
	echoes := make(chan error, 1)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				if n == 0 {
					echoes <- fmt.Errorf("no echo while the sinks filled up")
					return
				}
				echoes <- nil
				return
			default:
			}
			msg := fmt.Sprint("side ", n)
			side.SetWriteDeadline(time.Now().Add(wsIOTimeout))
			if err := side.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
				echoes <- err
				return
			}
			for {
				side.SetReadDeadline(time.Now().Add(wsIOTimeout))
				kind, got, err := side.ReadMessage()
				if err != nil {
					echoes <- fmt.Errorf("side echo %d: %w", n, err)
					return
				}
				if kind == websocket.TextMessage {
					if string(got) != msg {
						echoes <- fmt.Errorf("side echo %d: %q", n, got)
						return
					}
					break
				}
			}
			n++
		}
	}()
	dropped := rawWaitLogs(t, srv, 60*time.Second, sinks, `msg="fault closed"`, "path=/chat", "code=1006", `reason="slow consumer"`)
	close(stop)
	if err := <-echoes; err != nil {
		t.Fatal(err)
	}
	if len(dropped) != sinks {
		t.Fatalf("%d slow consumers dropped, want %d", len(dropped), sinks)
	}
	if n := faultLogCount(srv, `msg="fault closed"`, "path=/side"); n != 0 {
		t.Fatal("the reading client was dropped")
	}
	srv.stop()
}

// TestInteropNodeWSS: the npm ws client (tests/interop/client.mjs), which
// runs over Node's own TLS (OpenSSL), against echo.lua over wss, trusting
// the test CA through NODE_EXTRA_CA_CERTS.
func TestInteropNodeWSS(t *testing.T) {
	node, version := wsRequireNode(t)
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, "--tls-required", "../scripts/echo.lua")
	wsRunNodeClient(t, srv, node, version, "wss://"+srv.Addr+"/", []string{"NODE_EXTRA_CA_CERTS=" + pki.caFile})
	srv.stop()
}
