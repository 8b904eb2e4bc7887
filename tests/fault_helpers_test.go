package tests

// Helpers of the fault suite (tests/fault_*_test.go). Every name starts
// with fault so it cannot collide with the other files of the package.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

var faultNoFileOnce sync.Once

// faultRaceFactor scales RSS bounds: a race-built server also holds the
// race detector's shadow memory for everything it touched.
var faultRaceFactor = func() int {
	if raceEnabled {
		return 4
	}
	return 1
}()

// faultSetup raises this process's soft descriptor limit to the hard one
// (the suite opens thousands of sockets; the server inherits the limit).
func faultSetup(t *testing.T) {
	t.Helper()
	faultNoFileOnce.Do(func() {
		var rl syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return
		}
		if rl.Cur < rl.Max {
			rl.Cur = rl.Max
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		}
	})
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < 12000 {
		t.Skipf("RLIMIT_NOFILE is %d; the fault suite needs about 12000", rl.Cur)
	}
	rawQuickExit(t)
}

// faultStart starts the server on poller ("": the default) with the
// script tests/testdata/fault/<name>.
func faultStart(t *testing.T, poller, name string, args ...string) *server {
	t.Helper()
	return startServer(t, poller, append(args, testdata(t, "fault/"+name))...)
}

// faultEachLoop runs a hostile case once per Linux loop: epoll, and
// io_uring (the default) where the kernel allows it.
func faultEachLoop(t *testing.T, fn func(t *testing.T, poller string)) {
	for _, p := range pollers {
		if p != "poll" {
			t.Run(p, func(t *testing.T) { fn(t, p) })
		}
	}
}

// faultDial opens a WebSocket with gorilla on path.
func faultDial(addr, path string) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, resp, err := d.Dial("ws://"+addr+path, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	return c, err
}

// faultSide is a healthy WebSocket client on the side of a fault: it sends
// a text message about every 50 ms and expects it back, skipping binary
// messages (broadcasts), and records every failure.
type faultSide struct {
	stop, done chan struct{}
	mu         sync.Mutex
	errs       []string
	echoes     int
	worst      time.Duration
}

// faultStartSide starts the side client; an echo slower than maxRTT counts
// as a failure. Call check at the end of the fault.
func faultStartSide(t *testing.T, addr string, maxRTT time.Duration) *faultSide {
	t.Helper()
	c, err := faultDial(addr, "/side")
	if err != nil {
		t.Fatalf("side client: %v", err)
	}
	s := &faultSide{stop: make(chan struct{}), done: make(chan struct{})}
	go s.run(c, maxRTT)
	t.Cleanup(s.halt)
	return s
}

func (s *faultSide) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) < 10 {
		s.errs = append(s.errs, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
	}
}

func (s *faultSide) run(c *websocket.Conn, maxRTT time.Duration) {
	defer close(s.done)
	defer c.Close()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-s.stop:
			c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
			return
		case <-tick.C:
		}
		msg := "side-" + strconv.Itoa(n)
		sent := time.Now()
		c.SetWriteDeadline(sent.Add(maxRTT + 5*time.Second))
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			s.fail("write %s: %v", msg, err)
			return
		}
		for {
			c.SetReadDeadline(sent.Add(maxRTT + 5*time.Second))
			kind, p, err := c.ReadMessage()
			if err != nil {
				s.fail("waiting for %s: %v", msg, err)
				return
			}
			if kind == websocket.BinaryMessage {
				continue
			}
			if string(p) != msg {
				s.fail("echo %q, want %q", p, msg)
				return
			}
			break
		}
		rtt := time.Since(sent)
		s.mu.Lock()
		s.echoes++
		s.worst = max(s.worst, rtt)
		s.mu.Unlock()
		if rtt > maxRTT {
			s.fail("echo of %s took %s (more than %s)", msg, rtt, maxRTT)
		}
	}
}

func (s *faultSide) halt() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// check stops the side client and fails the test on any failure, or if it
// got fewer than minEchoes echoes.
func (s *faultSide) check(t *testing.T, minEchoes int) {
	t.Helper()
	s.halt()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) > 0 {
		t.Fatalf("the side client failed during the fault:\n%s", strings.Join(s.errs, "\n"))
	}
	if s.echoes < minEchoes {
		t.Fatalf("the side client got %d echoes, want at least %d", s.echoes, minEchoes)
	}
	t.Logf("side client: %d echoes, slowest %s", s.echoes, s.worst.Round(time.Millisecond))
}

// faultStats asks the server for server.stats() over a WebSocket.
func faultStats(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	c, err := faultDial(addr, "/stats")
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, []byte("stats")); err != nil {
		t.Fatalf("stats: %v", err)
	}
	var p []byte
	for {
		kind, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("stats: %v", err)
		}
		if kind == websocket.TextMessage {
			p = b
			break
		}
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
	out := map[string]float64{}
	for _, kv := range strings.Fields(string(p)) {
		k, v, _ := strings.Cut(kv, "=")
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[k] = f
		}
	}
	return out
}

// faultWaitCount waits until server.count() is n, not counting the stats
// connection that asks.
func faultWaitCount(t *testing.T, srv *server, d time.Duration, n int) {
	t.Helper()
	var got float64
	deadline := time.Now().Add(d)
	for {
		got = faultStats(t, srv.Addr)["connections"] - 1
		if int(got) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server.count() is %.0f after %s, want %d", got, d, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// faultWaitFDs waits until the server has at most n open descriptors.
func faultWaitFDs(t *testing.T, srv *server, d time.Duration, n int) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		got := srv.openFDs()
		if got <= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server holds %d descriptors after %s, want at most %d", got, d, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// faultNoCrash fails if the server logged a Go panic or exited.
func faultNoCrash(t *testing.T, srv *server) {
	t.Helper()
	select {
	case <-srv.done:
		t.Fatalf("the server exited: %v; logs:\n%s", srv.err, rlTail(srv.Logs(), 40))
	default:
	}
	if logs := srv.Logs(); strings.Contains(logs, "panic:") || strings.Contains(logs, "fatal error:") || strings.Contains(logs, "DATA RACE") {
		t.Fatalf("the server logged a crash or race:\n%s", rlTail(logs, 60))
	}
}

// faultRSSPeak samples the server's RSS every 20 ms until stop is closed and
// returns the highest value seen.
func faultRSSPeak(srv *server, stop <-chan struct{}) <-chan int {
	out := make(chan int, 1)
	go func() {
		peak := 0
		for {
			if kib, err := readProcKiB(srv.cmd.Process.Pid, "VmRSS:"); err == nil {
				peak = max(peak, kib)
			}
			select {
			case <-stop:
				out <- peak
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return out
}

// faultLinger0 makes Close send a reset (SO_LINGER 0).
func faultLinger0(c net.Conn) {
	c.(*net.TCPConn).SetLinger(0)
}

// faultReadHTTP reads one HTTP response head from r.
func faultReadHTTP(r *bufio.Reader) (*http.Response, error) {
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// faultIsReset reports a connection reset or broken pipe.
func faultIsReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// faultCloseCode is the close code of a gorilla read error, or 0.
func faultCloseCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

// faultLogCount counts the server's log lines that contain every one of subs.
func faultLogCount(srv *server, subs ...string) int {
	return len(rawLogLines(srv, subs...))
}
