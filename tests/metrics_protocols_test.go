package tests

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// countingConn counts the bytes a client wrote and read.
type countingConn struct {
	net.Conn
	read, written atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// listenerAddr is the address of the listener a script logged as
// "<name> listening" with its port.
func listenerAddr(t *testing.T, srv *server, name string) string {
	t.Helper()
	line := rawWaitLogs(t, srv, 10*time.Second, 1, `msg="`+name+` listening"`)[0]
	return "127.0.0.1:" + regexp.MustCompile(`port=(\d+)`).FindStringSubmatch(line)[1]
}

// kernelSendBufferMax is tcp_wmem's maximum: how much of a stream the
// kernel may buffer for a peer that does not read.
func kernelSendBufferMax(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_wmem")
	f := strings.Fields(string(b))
	if err != nil || len(f) != 3 {
		t.Fatalf("tcp_wmem: %q %v", b, err)
	}
	n, err := strconv.Atoi(f[2])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMetricsProtocolsAndCauses: WebSocket traffic counted to the byte
// under protocol=websocket, an FTP download under protocol=ftp, and the
// close causes timeout (WebSocket idle_timeout), slow_consumer (a client
// that never reads, past --max-queued-bytes), memory_limit (with
// limit=memory) and shutdown; meanwhile
// pocketlua_queued_output_bytes holds what waits for a client that never
// reads.
func TestMetricsProtocolsAndCauses(t *testing.T) {
	root := t.TempDir()
	file := strings.Repeat("f", 10000)
	rawWriteFile(t, root, "big.txt", file)
	script := scriptFrom(t, "", "metrics/protocols.lua", map[string]string{"Root": root})
	// The kernel's send buffer takes up to tcp_wmem's maximum of what a
	// client never reads: the held output must be larger to be queued.
	hold := kernelSendBufferMax(t) + 1<<20
	maxQueued := hold + 1<<20
	// Room for the flood's copies under the memory cap the hog passes.
	maxMemory := 4*maxQueued + 64<<20
	srv := startServer(t, "epoll", "--metrics", "127.0.0.1:0", "--shutdown-grace", "10s",
		"--max-queued-bytes", strconv.Itoa(maxQueued), "--max-memory", strconv.Itoa(maxMemory), script)
	maddr := metricsAddr(t, srv.Logs)
	w := "worker=1"

	// WebSocket: gorilla over a connection that counts the bytes.
	var counted *countingConn
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.DialTimeout(network, addr, 10*time.Second)
		if err == nil {
			counted = &countingConn{Conn: c}
			return counted, nil
		}
		return nil, err
	}}
	ws, _, err := d.Dial("ws://"+srv.Addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	wsEchoRoundTrip(t, ws, "one", "one")
	wsEchoRoundTrip(t, ws, "three", "three")
	m := scrape(t, maddr)
	m.want(t, float64(counted.written.Load()), "pocketlua_received_bytes_total", w, "protocol=websocket")
	m.want(t, float64(counted.read.Load()), "pocketlua_sent_bytes_total", w, "protocol=websocket")
	m.want(t, 1+2, "pocketlua_received_messages_total", w, "protocol=websocket") // the handshake, two messages
	m.want(t, 1+2, "pocketlua_sent_messages_total", w, "protocol=websocket")     // the 101, two echoes

	// FTP: curl downloads a 10000-byte file; the data connection counts
	// under ftp like the control connection.
	if r := curlOK(t, "--silent", "ftp://alice:s3cret@"+listenerAddr(t, srv, "ftp")+"/big.txt"); r.stdout != file {
		t.Fatalf("curl got %d bytes, want the 10000 of big.txt", len(r.stdout))
	}
	m = scrape(t, maddr)
	if out := m.value(t, "pocketlua_sent_bytes_total", w, "protocol=ftp"); out < 10000 || out > 10000+2048 {
		t.Errorf("ftp bytes out = %v, want the file's 10000 and the replies", out)
	}
	if in := m.value(t, "pocketlua_received_bytes_total", w, "protocol=ftp"); in < float64(len("USER alice\r\nPASS s3cret\r\nRETR big.txt\r\n")) || in > 1024 {
		t.Errorf("ftp bytes in = %v, want the commands", in)
	}

	// timeout: a WebSocket that stays silent past its idle_timeout.
	idle := wsEchoDial(t, listenerAddr(t, srv, "idle"))
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := idle.ReadMessage(); !websocket.IsCloseError(err, 1001) {
		t.Fatalf("the idle WebSocket: %v, want close 1001", err)
	}
	waitFor(t, 10*time.Second, "cause=timeout", func() bool {
		return scrape(t, maddr).value(t, "pocketlua_connections_closed_total", w, "cause=timeout") == 1
	})

	// Raw clients that never read (a 16 KiB receive buffer): twice
	// --max-queued-bytes passes it (slow_consumer); less stays queued.
	sink := listenerAddr(t, srv, "sink")
	neverReads := func(n int) net.Conn {
		d := &net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10) })
		}}
		c, err := d.Dial("tcp", sink)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "%d\n", n)
		return c
	}
	neverReads(2 * maxQueued)
	waitFor(t, 10*time.Second, "cause=slow_consumer", func() bool {
		return scrape(t, maddr).value(t, "pocketlua_connections_closed_total", w, "cause=slow_consumer") == 1
	})
	if q := scrape(t, maddr).value(t, "pocketlua_queued_output_bytes", w); q != 0 {
		t.Fatalf("queued output %v with no client waiting, want 0", q)
	}
	held := neverReads(hold)
	var queued float64
	waitFor(t, 10*time.Second, "output queued for the client that never reads", func() bool {
		m = scrape(t, maddr)
		queued = m.value(t, "pocketlua_queued_output_bytes", w)
		return queued > 0 && m.value(t, "pocketlua_connections_open", w) == 2
	})
	if queued > float64(hold) {
		t.Fatalf("queued output %v, more than the %d bytes sent", queued, hold)
	}

	// memory_limit: a handler that allocates without end.
	hog, err := net.DialTimeout("tcp", sink, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer hog.Close()
	hog.Write([]byte("hog\n"))
	hog.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := hog.Read(make([]byte, 1)); err == nil {
		t.Fatalf("the hog's connection read %d bytes, want it closed", n)
	}
	waitFor(t, 10*time.Second, "cause=memory_limit", func() bool {
		return scrape(t, maddr).value(t, "pocketlua_connections_closed_total", w, "cause=memory_limit") == 1
	})
	scrape(t, maddr).want(t, 1, "pocketlua_lua_handlers_interrupted_total", w, "limit=memory")

	// shutdown: both open connections (the WebSocket and the held sink,
	// whose queue keeps the drain going while the scrape runs).
	srv.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, 10*time.Second, "cause=shutdown", func() bool {
		return scrape(t, maddr).value(t, "pocketlua_connections_closed_total", w, "cause=shutdown") == 2
	})
	m = scrape(t, maddr)
	m.want(t, 1, "pocketlua_connections_closed_total", w, "cause=timeout")
	m.want(t, 1, "pocketlua_connections_closed_total", w, "cause=slow_consumer")
	held.Close()
	ws.Close()
	if code, ok := srv.rawExitWithin(15 * time.Second); !ok || code != 0 {
		t.Fatalf("exit %d after the drain, want 0; logs:\n%s", code, srv.Logs())
	}
}
