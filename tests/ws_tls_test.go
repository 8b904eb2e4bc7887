package tests

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestInteropGorillaTLS: the gorilla/websocket client over wss against
// scripts/echo.lua, as TestInteropGorilla does over ws: UTF-8 text,
// sizes around the frame length boundaries up to 1 MiB (8 MiB without
// -race), concurrent clients, ping/pong and a clean close.
func TestInteropGorillaTLS(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, "--tls-required", "../scripts/echo.lua")
	dial := func(t *testing.T) *websocket.Conn {
		t.Helper()
		d := websocket.Dialer{HandshakeTimeout: wsIOTimeout, TLSClientConfig: pki.clientConfig("localhost")}
		conn, _, err := d.Dial("wss://"+srv.Addr+"/", nil)
		if err != nil {
			t.Fatalf("wss dial: %v", err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	conn := dial(t)
	for _, v := range wsValidUTF8 {
		if err := wsGorillaEcho(conn, websocket.TextMessage, []byte(v.s)); err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
	}
	sizes := []int{0, 1, 125, 126, 16383, 16384, 16385, 65535, 65536, 1 << 20}
	if !raceEnabled {
		sizes = append(sizes, 8<<20)
	}
	for _, n := range sizes {
		if err := wsGorillaEcho(conn, websocket.BinaryMessage, wsRandom(n)); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
	}
	pongs := make(chan string, 1)
	conn.SetPongHandler(func(data string) error { pongs <- data; return nil })
	conn.WriteControl(websocket.PingMessage, []byte("over tls"), time.Now().Add(wsIOTimeout))
	if err := wsGorillaEcho(conn, websocket.TextMessage, []byte("after ping")); err != nil {
		t.Fatal(err)
	}
	if got := <-pongs; got != "over tls" {
		t.Fatalf("pong %q", got)
	}
	var ce *websocket.CloseError
	if err := wsGorillaClose(conn, 1000, "bye"); !errors.As(err, &ce) || ce.Code != 1000 {
		t.Fatalf("close: %v", err)
	}

	const clients, perClient = 20, 30
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		c := dial(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perClient {
				if err := wsGorillaEcho(c, websocket.TextMessage, wsPattern(i*perClient+j)); err != nil {
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
	srv.stop()
}

// TestTLSBackpressure: over TLS, send's answer and --max-queued-bytes
// count the encrypted bytes in the connection's queue, as for plaintext:
// send refuses above --high-water, and past the cap the connection is
// dropped as a slow consumer.
func TestTLSBackpressure(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, "--tls-required",
		"--max-queued-bytes", "1MiB", "--high-water", "256KiB", "--low-water", "64KiB", testdata(t, "tls/flood.lua"))
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", srv.Addr, pki.clientConfig("localhost"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, 10*time.Second, "the slow consumer's end", func() bool {
		return regexp.MustCompile(`msg="flood closed" .*reason="slow consumer"`).MatchString(srv.Logs())
	})
	logs := srv.Logs()
	m := regexp.MustCompile(`msg="send refused" .*chunk=(\d+) buffered=(\d+)`).FindStringSubmatch(logs)
	if m == nil {
		t.Fatalf("send never refused:\n%s", logs)
	}
	chunk, _ := strconv.Atoi(m[1])
	buffered, _ := strconv.Atoi(m[2])
	// 256 KiB of plaintext is 4 chunks; the records' overhead makes the
	// queue pass the mark at the fifth at the latest.
	if chunk < 4 || chunk > 5 || buffered <= 256<<10 {
		t.Fatalf("send refused at chunk %d with %d bytes queued", chunk, buffered)
	}
	srv.stop()
}
