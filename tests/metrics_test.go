package tests

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var httpPortLog = regexp.MustCompile(`msg="http listening" .*port=(\d+)`)

func httpPort(t *testing.T, logs func() string) string {
	t.Helper()
	var port string
	waitFor(t, 10*time.Second, "the http listening line", func() bool {
		m := httpPortLog.FindStringSubmatch(logs())
		if m != nil {
			port = m[1]
		}
		return m != nil
	})
	return port
}

// TestMetricsAfterTraffic: real raw and HTTP traffic, a Lua error, a
// handler timeout, a failed and a good reload; the scrape counts each
// exactly, passes promtool, and /healthz fails while a loop is stuck.
func TestMetricsAfterTraffic(t *testing.T) {
	script := metricsApp(t, "", "counter", "v1")
	srv := startServer(t, "epoll", "--metrics", "127.0.0.1:0", "--handler-timeout", "6s", script)
	maddr := metricsAddr(t, srv.Logs)
	web := "http://127.0.0.1:" + httpPort(t, srv.Logs)

	if status, body := get(t, "http://"+maddr+"/readyz"); status != 200 || body != "ready\n" {
		t.Fatalf("/readyz = %d %q, want 200 ready", status, body)
	}
	if status, body := get(t, "http://"+maddr+"/healthz"); status != 200 || body != "ok\n" {
		t.Fatalf("/healthz = %d %q, want 200 ok", status, body)
	}

	// Raw: three clients echo two lines each; one leaves, one says bye,
	// one fails its handler; the fourth stays connected.
	var sent int
	for i := 0; i < 4; i++ {
		c := dialRaw(t, srv.Addr)
		for j := 0; j < 2; j++ {
			line := fmt.Sprintf("line %d.%d", i, j)
			c.roundTrip(line, line)
			sent += len(line) + 1
		}
		switch i {
		case 0:
			c.Close()
		case 1:
			c.send("bye\n")
			c.expectEOF(5 * time.Second)
		case 2:
			c.send("boom\n")
			c.expectEOF(5 * time.Second)
		}
	}
	// HTTP: two 200s and a 404, each on its own connection.
	client := http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	for _, path := range []string{"/hello", "/hello", "/missing"} {
		res, err := client.Get(web + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}

	var m scraped
	waitFor(t, 10*time.Second, "three closed raw connections", func() bool {
		m = scrape(t, maddr)
		return m.value(t, "pocketlua_connections_open", "worker=1") == 1
	})
	w := "worker=1"
	m.want(t, 1, "pocketlua_worker_up", w)
	m.want(t, 7, "pocketlua_connections_accepted_total", w)
	m.want(t, float64(sent+len("bye\n")+len("boom\n")), "pocketlua_received_bytes_total", w, "protocol=raw")
	m.want(t, float64(sent), "pocketlua_sent_bytes_total", w, "protocol=raw")
	m.want(t, 8, "pocketlua_sent_messages_total", w, "protocol=raw")
	m.want(t, 10, "pocketlua_received_messages_total", w, "protocol=raw")
	// Every class's handlers are timed: the raw clients' and httpd's.
	m.want(t, 10+3, "pocketlua_lua_handler_duration_seconds_count", w, "event=data")
	m.want(t, 4+3, "pocketlua_lua_handler_duration_seconds_count", w, "event=start")
	if in := m.value(t, "pocketlua_received_bytes_total", w, "protocol=http"); in < float64(3*len("GET /hello HTTP/1.1\r\n")) {
		t.Errorf("http bytes in = %v, too few for three requests", in)
	}
	m.want(t, 2, "pocketlua_http_responses_total", w, "class=2xx")
	m.want(t, 1, "pocketlua_http_responses_total", w, "class=4xx")
	m.want(t, 0, "pocketlua_http_responses_total", w, "class=5xx")
	m.want(t, 1, "pocketlua_connections_closed_total", w, "cause=lua_error")
	m.want(t, 1, "pocketlua_lua_errors_total", w)
	if peer := m.value(t, "pocketlua_connections_closed_total", w, "cause=peer"); peer < 1 {
		t.Errorf("closed by peer = %v, want at least the client that left", peer)
	}
	if script := m.value(t, "pocketlua_connections_closed_total", w, "cause=script"); script < 1 {
		t.Errorf("closed by script = %v, want at least the bye", script)
	}
	m.want(t, 0, "pocketlua_connections_refused_total", w, "reason=max_conns")
	m.want(t, 2, "pocketlua_listeners", w)
	// The script's own metrics: no worker label.
	m.want(t, 8, "app_lines_total", "kind=echo")
	m.want(t, 8, "app_line_bytes_count")
	m.want(t, 0, "app_line_bytes_bucket", "le=4")
	m.want(t, 8, "app_line_bytes_bucket", "le=16")
	m.want(t, float64(sent), "app_line_bytes_sum")
	m.want(t, 1, "app_users")
	if m.value(t, "go_goroutines") < 1 || m.value(t, "process_open_fds") < 1 {
		t.Error("the Go and process collectors are missing")
	}

	// A stuck loop: /healthz says so within its bound, /metrics marks the
	// worker down, and both recover once the guard interrupts the handler.
	spinner := dialRaw(t, srv.Addr)
	spinner.send("spin\n")
	// The handler runs for the 6 s handler timeout once the loop reads the line.
	waitFor(t, 5*time.Second, "/healthz to report the stuck loop", func() bool {
		status, body := get(t, "http://"+maddr+"/healthz")
		if status == 503 && !strings.Contains(body, "worker 1: the loop did not answer within 1s") {
			t.Fatalf("/healthz body %q", body)
		}
		return status == 503
	})
	if status, _ := get(t, "http://"+maddr+"/readyz"); status != 503 {
		t.Errorf("/readyz with a stuck loop = %d, want 503", status)
	}
	down := scrape(t, maddr)
	down.want(t, 0, "pocketlua_worker_up", w)
	spinner.expectEOF(15 * time.Second)
	waitFor(t, 10*time.Second, "healthy again", func() bool {
		status, _ := get(t, "http://"+maddr+"/healthz")
		return status == 200
	})
	m = scrape(t, maddr)
	m.want(t, 1, "pocketlua_lua_handlers_interrupted_total", w, "limit=timeout")
	m.want(t, 1, "pocketlua_connections_closed_total", w, "cause=handler_timeout")

	// A reload that redefines a metric with another type fails and keeps
	// the old one; a good reload keeps the values.
	metricsApp(t, filepath.Dir(script), "gauge", "v2")
	srv.cmd.Process.Signal(syscall.SIGHUP)
	rawWaitLogs(t, srv, 10*time.Second, 1, "reload failed", `metric \"app_lines_total\" is already a counter with labels {kind}`)
	metricsApp(t, filepath.Dir(script), "counter", "v2")
	srv.cmd.Process.Signal(syscall.SIGHUP)
	rawWaitLogs(t, srv, 10*time.Second, 1, "reloaded", "version=2")
	m = scrape(t, maddr)
	m.want(t, 1, "pocketlua_reloads_total", w, "result=ok")
	m.want(t, 1, "pocketlua_reloads_total", w, "result=failed")
	m.want(t, 2, "pocketlua_reload_pause_seconds_count", w)
	m.want(t, 2, "pocketlua_script_version", w)
	m.want(t, 8, "app_lines_total", "kind=echo")
	c := dialRaw(t, srv.Addr)
	c.roundTrip("after reload", "after reload")
	waitFor(t, 5*time.Second, "the ninth line counted", func() bool {
		return scrape(t, maddr).value(t, "app_lines_total", "kind=echo") == 9
	})
	srv.stop()
}

// TestMetricsReadyzDrains: /readyz answers 503 as soon as a graceful
// shutdown starts, while connections are still draining.
func TestMetricsReadyzDrains(t *testing.T) {
	srv := startServer(t, "epoll", "--metrics", "127.0.0.1:0", "--shutdown-grace", "10s", metricsApp(t, "", "counter", "v1"))
	maddr := metricsAddr(t, srv.Logs)
	c := dialRaw(t, srv.Addr)
	c.roundTrip("x", "x") // a client that never closes: the drain lasts the linger time
	srv.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, 5*time.Second, "/readyz 503 while draining", func() bool {
		status, body := get(t, "http://"+maddr+"/readyz")
		if status == 503 && body != "not ready: shutting down\n" {
			t.Fatalf("/readyz body %q", body)
		}
		return status == 503
	})
	if status, _ := get(t, "http://"+maddr+"/healthz"); status != 200 {
		t.Errorf("/healthz while draining = %d, want 200 (the process is alive)", status)
	}
	c.expectEOF(10 * time.Second)
	c.Close()
	if code, ok := srv.rawExitWithin(15 * time.Second); !ok || code != 0 {
		t.Fatalf("exit %d after the drain, want 0; logs:\n%s", code, srv.Logs())
	}
}

// TestMetricsWorkersSum: with --workers 2 the engine's series carry a
// worker label and the script's are one series summed over the workers.
func TestMetricsWorkersSum(t *testing.T) {
	srv := startServer(t, "epoll", "--workers", "2", "--metrics", "127.0.0.1:0", metricsApp(t, "", "counter", "v1"))
	maddr := metricsAddr(t, srv.Logs)
	const n = 30
	for i := 0; i < n; i++ {
		c := dialRaw(t, srv.Addr)
		c.roundTrip("hi", "hi")
		c.Close()
	}
	var m scraped
	waitFor(t, 10*time.Second, "every client gone", func() bool {
		m = scrape(t, maddr)
		return m.value(t, "app_users") == 0
	})
	m.want(t, n, "app_lines_total", "kind=echo")
	if got := m.series("app_lines_total"); len(got) != 1 {
		t.Errorf("app_lines_total series %q, want one", got)
	}
	a1 := m.value(t, "pocketlua_connections_accepted_total", "worker=1")
	a2 := m.value(t, "pocketlua_connections_accepted_total", "worker=2")
	if a1+a2 != n {
		t.Errorf("accepted %v + %v, want %d in all", a1, a2, n)
	}
	m.want(t, 1, "pocketlua_worker_up", "worker=2")
	srv.stop()
}

// metricsApp renders testdata/metrics/app.lua into dir ("" for a temp
// dir) with app_lines_total defined as lines ("counter", "gauge").
func metricsApp(t *testing.T, dir, lines, version string) string {
	t.Helper()
	return scriptFrom(t, dir, "metrics/app.lua", map[string]string{"Lines": lines, "Version": version})
}

// TestMetricsScriptErrors: bad definitions and bad updates raise clear Lua
// errors; the label cap holds; nothing half-made is left behind.
func TestMetricsScriptErrors(t *testing.T) {
	script := testdata(t, "metrics/bad.lua")
	srv := startServer(t, "epoll", "--metrics", "127.0.0.1:0", "--metrics-max-series", "3", script)
	rawWaitLogs(t, srv, 10*time.Second, 1, "metrics checks passed")
	m := scrape(t, metricsAddr(t, srv.Logs))
	m.want(t, 7, "g1")
	m.want(t, 2, "capped_total", "user=u1")
	if got := m.series("capped_total"); len(got) != 3 {
		t.Errorf("capped_total series %q, want 3", got)
	}
	if got := m.series("c1"); len(got) != 0 {
		t.Errorf("half-made metrics in the scrape: %q", got)
	}
	srv.stop()

	for _, tc := range []struct{ args, want string }{
		{"--metrics-max-series 0", "--metrics-max-series must be positive"},
		{"--metrics nonsense", `--metrics "nonsense": want host:port`},
	} {
		res := rawRunCLI(t, "", append(strings.Fields(tc.args), script)...)
		if res.code != 2 || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", tc.args, res.code, res.stderr, tc.want)
		}
	}
}
