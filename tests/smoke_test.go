package tests

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// TestRawEchoSmoke: the tcp_echo battery echoes bytes over plain TCP.
func TestRawEchoSmoke(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "../scripts/tcp_echo.lua")
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		msg := []byte("hello, pocketlua")
		c.Write(msg)
		got := make([]byte, len(msg))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo = %q, %v", got, err)
		}
		srv.stop()
	})
}
