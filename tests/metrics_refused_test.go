package tests

import (
	"net"
	"os/exec"
	"testing"
	"time"
)

// TestMetricsRefusals: connections closed over --max-conns and accepts
// that ran out of descriptors are counted under their reasons.
func TestMetricsRefusals(t *testing.T) {
	script := metricsApp(t, "", "counter", "v1")
	t.Run("max_conns", func(t *testing.T) {
		srv := startServer(t, "epoll", "--metrics", "127.0.0.1:0", "--max-conns", "3", script)
		maddr := metricsAddr(t, srv.Logs)
		for i := 0; i < 3; i++ {
			dialRaw(t, srv.Addr).roundTrip("hi", "hi") // kept open until the test ends
		}
		over := dialRaw(t, srv.Addr)
		over.expectEOF(5 * time.Second)
		m := scrape(t, maddr)
		m.want(t, 1, "pocketlua_connections_refused_total", "worker=1", "reason=max_conns")
		m.want(t, 3, "pocketlua_connections_open", "worker=1")
		m.want(t, 3, "pocketlua_connections_accepted_total", "worker=1")
		srv.stop()
	})
	t.Run("fd_limit", func(t *testing.T) {
		wrapper := []string{"prlimit", "--nofile=64:64"}
		if _, err := exec.LookPath("prlimit"); err != nil {
			wrapper = []string{"sh", "-c", `ulimit -n 64 && exec "$0" "$@"`}
		}
		srv := launch{poller: "epoll", wrapper: wrapper}.start(t, "--metrics", "127.0.0.1:0", script)
		maddr := metricsAddr(t, srv.Logs)
		var extras []net.Conn
		for i := 0; i < 80; i++ {
			c, err := net.DialTimeout("tcp", srv.Addr, 10*time.Second)
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			extras = append(extras, c)
		}
		rawWaitLogs(t, srv, 10*time.Second, 1, "accept paused: out of resources")
		for _, c := range extras {
			c.Close()
		}
		// The scrape needs a descriptor too: once the clients are gone it gets one.
		var m scraped
		waitFor(t, 10*time.Second, "the backlog drained", func() bool {
			m = scrape(t, maddr)
			return m.value(t, "pocketlua_connections_open", "worker=1") == 0 &&
				m.value(t, "pocketlua_connections_accepted_total", "worker=1") == 80
		})
		if n := m.value(t, "pocketlua_connections_refused_total", "worker=1", "reason=fd_limit"); n < 1 {
			t.Errorf("fd_limit refusals = %v after the accept pause, want at least 1", n)
		}
		srv.stop()
	})
}
