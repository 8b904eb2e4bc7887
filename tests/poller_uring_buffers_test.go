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

	"github.com/gorilla/websocket"
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

// uringFields are server.stats()'s buffer ring fields with the metrics
// that carry the same figures.
var uringFields = [][2]string{
	{"uring_buffers", "pocketlua_uring_buffers"},
	{"uring_buffers_peak", "pocketlua_uring_buffers_peak"},
	{"uring_buffers_max", "pocketlua_uring_buffers_max"},
	{"uring_ring_grown", "pocketlua_uring_ring_grown_total"},
	{"uring_ring_shrunk", "pocketlua_uring_ring_shrunk_total"},
}

// TestPollerUringRingObserved: many WebSocket clients (gorilla) sending
// at once run the io_uring ring of 128 buffers dry, so it grows; both
// server.stats() and /metrics show how far (above 128, within
// --uring-buffers) and how often, the same figures. On epoll every field
// is there and 0.
func TestPollerUringRingObserved(t *testing.T) {
	if !uringAllowed() {
		t.Skip("io_uring refused here")
	}
	srv := startServer(t, "io_uring", "--uring-buffers", "512", "--metrics", "127.0.0.1:0", testdata(t, "fault/fault.lua"))
	before := faultStats(t, srv.Addr)
	if before["uring_buffers_max"] == 0 {
		t.Skip("io_uring without completion I/O here (Linux 6.3 or later)")
	}
	if before["uring_buffers"] != 128 || before["uring_buffers_peak"] != 128 || before["uring_buffers_max"] != 512 || before["uring_ring_grown"] != 0 {
		t.Fatalf("before any load: %v; want 128 buffers, peak 128, max 512, grown 0", pick(before, uringFields))
	}

	const clients, size = 200, 128 << 10
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		c, err := faultDial(srv.Addr, "/load")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*clients)
	start := make(chan struct{})
	for i, c := range conns {
		data := make([]byte, size)
		rand.New(rand.NewSource(int64(i))).Read(data)
		c.SetWriteDeadline(time.Now().Add(60 * time.Second))
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			if err := c.WriteMessage(websocket.BinaryMessage, data); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			if _, got, err := c.ReadMessage(); err != nil {
				errs <- fmt.Errorf("client %d: %v", i, err)
			} else if !bytes.Equal(got, data) {
				errs <- fmt.Errorf("client %d: echo differs", i)
			}
		}()
	}
	// The clients write while the loop is busy in Lua: their data fills
	// the ring's 128 buffers (2 MiB of the 25 MiB) and runs it dry, which
	// a loop keeping up with slower clients (a race build's) need not see.
	control, err := faultDial(srv.Addr, "/control")
	if err != nil {
		t.Fatal(err)
	}
	defer control.Close()
	control.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := control.WriteMessage(websocket.TextMessage, []byte("hold 1500")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := control.ReadMessage(); err != nil || string(got) != "holding" {
		t.Fatalf("hold: %q, %v", got, err)
	}
	time.Sleep(100 * time.Millisecond) // the hold begins 50 ms after its answer
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	after := faultStats(t, srv.Addr)
	t.Logf("after %d clients sent %d KiB each: %v", clients, size>>10, pick(after, uringFields))
	if after["uring_ring_grown"] == 0 || after["uring_buffers_peak"] <= 128 || after["uring_buffers_peak"] > 512 {
		t.Fatalf("ring not seen growing: %v; want grown above 0, peak in 129..512", pick(after, uringFields))
	}
	if b := after["uring_buffers"]; b < 128 || b > after["uring_buffers_peak"] || after["uring_buffers_max"] != 512 {
		t.Fatalf("after the load: %v; want buffers from 128 to the peak, max 512", pick(after, uringFields))
	}
	// The load is over: the figures that only rise under it match.
	m := scrape(t, metricsAddr(t, srv.Logs))
	for _, f := range uringFields[1:4] {
		if got := m.value(t, f[1], "worker=1"); got != after[f[0]] {
			t.Errorf("%s = %v, server.stats().%s = %v", f[1], got, f[0], after[f[0]])
		}
	}

	epoll := startServer(t, "epoll", "--metrics", "127.0.0.1:0", testdata(t, "fault/fault.lua"))
	st := faultStats(t, epoll.Addr)
	m = scrape(t, metricsAddr(t, epoll.Logs))
	for _, f := range uringFields {
		if v, ok := st[f[0]]; !ok || v != 0 {
			t.Errorf("epoll: server.stats().%s = %v (present %v), want 0", f[0], v, ok)
		}
		if v := m.value(t, f[1], "worker=1"); v != 0 {
			t.Errorf("epoll: %s = %v, want 0", f[1], v)
		}
	}
}

// pick is the stats named by fields' first column.
func pick(st map[string]float64, fields [][2]string) map[string]float64 {
	out := map[string]float64{}
	for _, f := range fields {
		out[f[0]] = st[f[0]]
	}
	return out
}
