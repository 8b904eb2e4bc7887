package tests

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPollerUringBuffers: --uring-buffers sizes the io_uring loop's
// receive buffers. With only 16 for 32 connections all sending at once,
// receives keep finding the ring empty, yet every byte comes back in
// order; a count the kernel's ring cannot take stops the start.
func TestPollerUringBuffers(t *testing.T) {
	if !uringAllowed() {
		t.Skip("io_uring refused here")
	}
	rawQuickExit(t)
	for _, bad := range []string{"1000", "8", "65536", "0"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a server that starts is stopped
		out, err := exec.CommandContext(ctx, binary, "--poller", "io_uring", "--uring-buffers", bad, "-l", "127.0.0.1:0", "../scripts/tcp_echo.lua").CombinedOutput()
		cancel()
		want := fmt.Sprintf("pocketlua: --uring-buffers %s: want a power of two from 16 to 32768", bad)
		if err == nil || !strings.Contains(string(out), want) || announced(string(out)) {
			t.Fatalf("--uring-buffers %s: %v; output lacks %q:\n%s", bad, err, want, out)
		}
	}

	srv := startServer(t, "io_uring", "--uring-buffers", "16", "../scripts/tcp_echo.lua")
	const clients, size = 32, 256 << 10
	conns := make([]net.Conn, clients)
	for i := range conns {
		c, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*clients)
	for i, c := range conns {
		data := make([]byte, size)
		rand.New(rand.NewSource(int64(i))).Read(data)
		c.SetDeadline(time.Now().Add(60 * time.Second))
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := c.Write(data); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			got := make([]byte, size)
			if _, err := io.ReadFull(c, got); err != nil {
				errs <- fmt.Errorf("client %d: %v", i, err)
			} else if !bytes.Equal(got, data) {
				errs <- fmt.Errorf("client %d: echo differs", i)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
