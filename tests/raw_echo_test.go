package tests

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// rawEchoConcurrently writes data on c from a goroutine while the test
// goroutine reads the echo; with halfClose the writer then calls CloseWrite
// and the reader reads until EOF. It returns what came back.
func rawEchoConcurrently(t *testing.T, c net.Conn, data []byte, halfClose bool) []byte {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	c.SetDeadline(deadline)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil && halfClose {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	var got []byte
	var err error
	if halfClose {
		got, err = io.ReadAll(c)
	} else {
		got = make([]byte, len(data))
		var n int
		n, err = io.ReadFull(c, got)
		got = got[:n]
	}
	if err != nil {
		t.Fatalf("echo of %d bytes: read: %v (%s)", len(data), err, rawFirstDiff(got, data))
	}
	if err := <-werr; err != nil {
		t.Fatalf("echo of %d bytes: write: %v", len(data), err)
	}
	return got
}

// TestRawEchoSizes: tcp_echo.lua returns every byte, in order, for writes of
// 1 B up to 16 MiB with the reader running concurrently to the writer.
func TestRawEchoSizes(t *testing.T) {
	sizes := []int{1, 1 << 10, 64 << 10, 1 << 20, 16 << 20}
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "../scripts/tcp_echo.lua")
		for _, n := range sizes {
			data := rawPattern(n, n)
			c := dialRaw(t, srv.Addr)
			got := rawEchoConcurrently(t, c.Conn, data, false)
			if !bytes.Equal(got, data) {
				t.Fatalf("echo of %d bytes: %s", n, rawFirstDiff(got, data))
			}
			c.Close()
		}
		srv.stop()
	})
}

// TestRawEchoHalfClose: a client that half-closes after writing still gets
// every byte back, then EOF: written all at once before reading (64 KiB fits
// the socket buffers), and written concurrently with reading (4 MiB, which
// makes the server pause and resume reading on the way).
func TestRawEchoHalfClose(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "../scripts/tcp_echo.lua")

		// Write everything, half-close, and only then read.
		for _, n := range []int{1, 64 << 10} {
			data := rawPattern(n, 7+n)
			c := dialRaw(t, srv.Addr)
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.Write(data); err != nil {
				t.Fatalf("write %d bytes: %v", n, err)
			}
			if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("after half-close, echo of %d bytes: %v, %s", n, err, rawFirstDiff(got, data))
			}
		}

		// Concurrent writer that half-closes at the end.
		data := rawPattern(4<<20, 99)
		c := dialRaw(t, srv.Addr)
		got := rawEchoConcurrently(t, c.Conn, data, true)
		if !bytes.Equal(got, data) {
			t.Fatalf("half-closed echo of %d bytes: %s", len(data), rawFirstDiff(got, data))
		}
		srv.stop()
	})
}

// TestRawThousandConnections: 1,000 clients connect at once, each echoes
// three distinct messages (every byte checked); with all of them open
// server.count() is 1001 (they plus the asker), after they all close it is
// back to 1 (the asker alone), and the server's descriptors are back to
// where they were.
func TestRawThousandConnections(t *testing.T) {
	const clients, msgs = 1000, 3
	script := testdata(t, "raw/counting_echo.lua")
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, script)
		fdsBefore := srv.openFDs()

		errs := make(chan error, clients)
		release := make(chan struct{})
		var echoed, closed sync.WaitGroup
		echoed.Add(clients)
		closed.Add(clients)
		for i := 0; i < clients; i++ {
			go func(i int) {
				defer closed.Done()
				done := false
				defer func() {
					if !done {
						echoed.Done()
					}
				}()
				c, err := net.DialTimeout("tcp", srv.Addr, 20*time.Second)
				if err != nil {
					errs <- fmt.Errorf("client %d: dial: %v", i, err)
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(60 * time.Second))
				for m := 0; m < msgs; m++ {
					msg := fmt.Appendf(nil, "client %d message %d ", i, m)
					msg = append(msg, rawPattern(100+i%50+m*300, i*msgs+m)...)
					if _, err := c.Write(msg); err != nil {
						errs <- fmt.Errorf("client %d: write: %v", i, err)
						return
					}
					got := make([]byte, len(msg))
					if n, err := io.ReadFull(c, got); err != nil {
						errs <- fmt.Errorf("client %d message %d: read after %d bytes: %v", i, m, n, err)
						return
					}
					if !bytes.Equal(got, msg) {
						errs <- fmt.Errorf("client %d message %d: %s", i, m, rawFirstDiff(got, msg))
						return
					}
				}
				done = true
				echoed.Done()
				<-release
			}(i)
		}
		allEchoed := make(chan struct{})
		go func() { echoed.Wait(); close(allEchoed) }()
		select {
		case <-allEchoed:
		case <-time.After(90 * time.Second):
			close(release)
			t.Fatalf("clients did not finish echoing within 90s")
		}
		select {
		case err := <-errs:
			close(release)
			t.Fatalf("%v (and %d more errors)", err, len(errs))
		default:
		}

		asker := dialRaw(t, srv.Addr)
		asker.roundTrip("count", strconv.Itoa(clients+1))

		close(release)
		closed.Wait()
		deadline := time.Now().Add(10 * time.Second)
		for {
			asker.send("count\n")
			n := asker.line()
			if n == "1" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("server.count() = %s 10s after every client closed, want 1", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		asker.Close()
		waitFor(t, 10*time.Second, fmt.Sprintf("server descriptors back to %d", fdsBefore), func() bool {
			return srv.openFDs() == fdsBefore
		})
		srv.stop()
	})
}
