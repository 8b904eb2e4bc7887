package tests

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRawAcceptRefuses: accept(info) gets the peer and local addresses and
// a numeric id; returning false closes the connection at once (the client
// reads EOF with no bytes) without calling start or closed, counts in
// server.stats().refused, and does not count as a connection; returning
// true again serves new connections.
func TestRawAcceptRefuses(t *testing.T) {
	rawQuickExit(t)
	script := testdata(t, "raw/gatekeeper.lua")
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, script)
		ctl := dialRaw(t, srv.Addr)
		ctl.expect("hello")
		ctlPeer := "peer=" + ctl.LocalAddr().String() + " "
		acc := rawWaitLogs(t, srv, 5*time.Second, 1, `msg=accept`, ctlPeer)
		for _, want := range []string{"local_addr=" + srv.Addr + " ", "id_type=number ", "refusing=false"} {
			if !strings.Contains(acc[0], want) {
				t.Fatalf("accept log lacks %q:\n%s", want, acc[0])
			}
		}

		ctl.roundTrip("refuse", "ok")
		refused := dialRaw(t, srv.Addr)
		took := refused.expectEOF(2 * time.Second)
		peer := "peer=" + refused.LocalAddr().String() + " "
		rawWaitLogs(t, srv, 5*time.Second, 1, `msg=accept`, peer, "refusing=true")
		ctl.roundTrip("stats", "refused=1 count=1")
		if l := rawLogLines(srv, `msg=start`, peer); len(l) > 0 {
			t.Fatalf("start ran for a refused connection: %s", l[0])
		}
		if l := rawLogLines(srv, `msg=closed`, peer); len(l) > 0 {
			t.Fatalf("closed ran for a refused connection: %s", l[0])
		}
		t.Logf("refused connection saw EOF after %s", took)

		ctl.roundTrip("admit", "ok")
		admitted := dialRaw(t, srv.Addr)
		admitted.expect("hello")
		admitted.roundTrip("in", "in")
		rawWaitLogs(t, srv, 5*time.Second, 1, `msg=start`, "peer="+admitted.LocalAddr().String()+" ")
		ctl.roundTrip("stats", "refused=1 count=2")
		if l := rawLogLines(srv, "lua handler failed"); len(l) > 0 {
			t.Fatalf("unexpected Lua error: %s", l[0])
		}
		admitted.Close()
		ctl.Close()
		srv.stop()
	})
}

var rawAddrField = regexp.MustCompile(`addr=(\S+) same=(\S+)`)

// TestRawSocketBindClasses: listeners opened from Lua, at load time with
// server.socket_bind(host, 0, Class) and server.listen{host, port=0, class}
// and at run time from a handler, each serve their own class on a real free
// port (socket_bind returns the listener, its host and port, and
// listener.host/port agree), while the -l listener, the only one named in
// the listening line, serves the main class; socket_bind() without
// arguments binds 127.0.0.1 on a free port with the main class.
func TestRawSocketBindClasses(t *testing.T) {
	rawQuickExit(t)
	script := testdata(t, "raw/listeners.lua")
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, script)
		addrOf := func(msg string) string {
			t.Helper()
			line := rawWaitLogs(t, srv, 5*time.Second, 1, `msg="`+msg+`"`)[0]
			m := rawAddrField.FindStringSubmatch(line)
			if m == nil || m[2] != "true" || !strings.HasPrefix(m[1], "127.0.0.1:") || strings.HasSuffix(m[1], ":0") {
				t.Fatalf("bad %s log line:\n%s", msg, line)
			}
			return m[1]
		}
		side, third := addrOf("side listener"), addrOf("third listener")
		if side == third {
			t.Fatalf("both Lua listeners on %s", side)
		}
		// The listening line names the -l listener, not the script's.
		if len(srv.All) != 1 || srv.Addr == side || srv.Addr == third {
			t.Fatalf("listening line names %q; want just the -l listener (the script's are %s and %s)", srv.All, side, third)
		}
		main := srv.Addr

		s := dialRaw(t, side)
		s.expect("side hello")
		s.roundTrip("x", "side:x")
		th := dialRaw(t, third)
		th.roundTrip("y", "third:y")
		m := dialRaw(t, main)
		m.roundTrip("z", "main:z")

		m.send("bind\n")
		late := strings.TrimPrefix(m.line(), "late ")
		if !strings.HasPrefix(late, "127.0.0.1:") || late == side || late == third || late == main {
			t.Fatalf("socket_bind at run time answered %q", late)
		}
		l := dialRaw(t, late)
		l.roundTrip("q", "late:q")

		m.send("bind default\n")
		def := m.line()
		if !strings.HasPrefix(def, "default 127.0.0.1:") || strings.HasSuffix(def, ":0") {
			t.Fatalf("socket_bind() answered %q, want 127.0.0.1 and a real port", def)
		}
		d := dialRaw(t, strings.TrimPrefix(def, "default "))
		d.roundTrip("w", "main:w")

		// Every class still answers on its own listener.
		s.roundTrip("x2", "side:x2")
		th.roundTrip("y2", "third:y2")
		if l := rawLogLines(srv, "lua handler failed"); len(l) > 0 {
			t.Fatalf("unexpected Lua error: %s", l[0])
		}
		for _, c := range []*rawClient{s, th, m, l, d} {
			c.Close()
		}
		srv.stop()
	})
}
