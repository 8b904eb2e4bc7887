package tests

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stalledConn holds a Go TLS client's write number at (1-based) after its
// first keep bytes until release is closed: the server's side of the
// handshake waits meanwhile, and its connection is not started.
type stalledConn struct {
	net.Conn
	at, keep, n int
	stalled     chan struct{} // closed once the write is held
	release     chan struct{}
}

func (c *stalledConn) Write(p []byte) (int, error) {
	c.n++
	if c.n != c.at {
		return c.Conn.Write(p)
	}
	k := min(c.keep, len(p))
	if _, err := c.Conn.Write(p[:k]); err != nil {
		return 0, err
	}
	close(c.stalled)
	select {
	case <-c.release:
	case <-time.After(rawIOTimeout):
		return k, errors.New("stalled write never released")
	}
	n, err := c.Conn.Write(p[k:])
	return k + n, err
}

// earlyTLS is a TLS client of early.lua whose handshake is held at a
// write (see stalledConn) once dialTLSStalled returns.
type earlyTLS struct {
	raw  net.Conn
	sc   *stalledConn
	tc   *tls.Conn
	done chan error
}

// dialTLSStalled connects, sends head (a PROXY header, say) and runs the
// handshake until it is held.
func dialTLSStalled(t *testing.T, pki *testPKI, addr string, head []byte, at, keep int) *earlyTLS {
	t.Helper()
	raw, err := net.DialTimeout("tcp", addr, rawIOTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	if len(head) > 0 {
		raw.Write(head)
	}
	return stallTLS(t, pki, raw, at, keep)
}

func stallTLS(t *testing.T, pki *testPKI, raw net.Conn, at, keep int) *earlyTLS {
	t.Helper()
	sc := &stalledConn{Conn: raw, at: at, keep: keep, stalled: make(chan struct{}), release: make(chan struct{})}
	e := &earlyTLS{raw: raw, sc: sc, tc: tls.Client(sc, pki.clientConfig("localhost")), done: make(chan error, 1)}
	e.tc.SetDeadline(time.Now().Add(2 * rawIOTimeout))
	go func() { e.done <- e.tc.Handshake() }()
	select {
	case <-sc.stalled:
	case err := <-e.done:
		t.Fatalf("handshake ended before its write %d: %v", at, err)
	case <-time.After(rawIOTimeout):
		t.Fatal("the handshake never reached its held write")
	}
	return e
}

// finish lets the handshake end and returns a line client over TLS.
func (e *earlyTLS) finish(t *testing.T) *rawClient {
	t.Helper()
	close(e.sc.release)
	if err := <-e.done; err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return &rawClient{t: t, Conn: e.tc, r: bufio.NewReader(e.tc)}
}

// earlyPublisher is a plaintext client of early.lua on the same port,
// subscribed to "mark" only.
func earlyPublisher(t *testing.T, addr, head string) *rawClient {
	t.Helper()
	p := dialRaw(t, addr)
	p.send(head + "quiet\n")
	p.expect("hello")
	p.expect("quiet")
	return p
}

// publish sends n messages of size bytes tagged tag and waits until the
// worker has delivered them (the "mark" that follows them came back).
func publishEarly(p *rawClient, tag string, n, size int) {
	p.t.Helper()
	p.roundTrip(fmt.Sprintf("pub %s %d %d", tag, n, size), "published")
}

// earlyStats is early.lua's pubsub_dropped and delivered.
func earlyStats(p *rawClient) (dropped, delivered int) {
	p.t.Helper()
	p.send("stats\n")
	line := p.line()
	if _, err := fmt.Sscanf(line, "dropped=%d delivered=%d", &dropped, &delivered); err != nil {
		p.t.Fatalf("stats: %q", line)
	}
	return dropped, delivered
}

// expectEarly reads the message tag-i of size bytes.
func expectEarly(c *rawClient, tag string, i, size int) {
	c.t.Helper()
	head := fmt.Sprintf("%s-%d ", tag, i)
	c.expect(head + strings.Repeat("x", size-len(head)-1))
}

// TestPubSubEarlyTLS: a connection subscribed in accept(info) gets what
// is published while its TLS handshake runs (the ClientHello half sent,
// or the client's Finished held) once start() has run, after start's
// greeting, in order; through a published handler too. Kept messages
// are bounded by --max-queued-bytes, each counted as topic, data and 128
// bytes: of 9 of 10000 bytes under 64 KiB, 6 arrive and 3 count in
// pubsub_dropped; of 500 of 16 bytes, 439. A client that resets during its
// handshake drops what was kept for it, counted, and the server goes on.
func TestPubSubEarlyTLS(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key,
		"--max-queued-bytes", "64KiB", "--high-water", "32KiB", "--low-water", "8KiB", testdata(t, "pubsub/early.lua"))
	pub := earlyPublisher(t, srv.Addr, "")

	for _, tc := range []struct {
		name     string
		at, keep int
		filtered bool
	}{
		{"ClientHello half sent", 1, 50, false},
		{"client Finished held", 2, 0, false},
		{"published handler", 2, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub.t = t
			if tc.filtered {
				pub.roundTrip("filtered", "filtered")
			}
			e := dialTLSStalled(t, pki, srv.Addr, nil, tc.at, tc.keep)
			pub.roundTrip("count", "1")
			publishEarly(pub, "a", 2, 20)
			c := e.finish(t)
			c.expect("hello")
			for i := 1; i <= 2; i++ {
				if tc.filtered {
					c.expect(fmt.Sprintf("got a-%d %s", i, strings.Repeat("x", 20-5)))
				} else {
					expectEarly(c, "a", i, 20)
				}
			}
			e.raw.Close()
			waitFor(t, 10*time.Second, "the subscriber to go", func() bool { pub.send("count\n"); return pub.line() == "0" })
		})
	}
	// The bound: 6 of 10000 bytes fit in 64 KiB, 3 more do not.
	t.Run("bound", func(t *testing.T) {
		pub.t = t
		dropped0, delivered0 := earlyStats(pub)
		e := dialTLSStalled(t, pki, srv.Addr, nil, 2, 0)
		publishEarly(pub, "b", 9, 10000)
		c := e.finish(t)
		c.expect("hello")
		for i := 1; i <= 6; i++ {
			expectEarly(c, "b", i, 10000)
		}
		publishEarly(pub, "c", 1, 20) // started now: delivered at once, after b-6
		expectEarly(c, "c", 1, 20)
		dropped, delivered := earlyStats(pub)
		// 10 to the subscriber (6 + 1 delivered, 3 dropped), 2 marks to pub.
		if dropped-dropped0 != 3 || delivered-delivered0 != 9 {
			t.Fatalf("%d dropped, %d delivered; want 3 and 9", dropped-dropped0, delivered-delivered0)
		}
	})

	// Tiny messages count as the broker's queues count them (topic, data
	// and 128 bytes), not by their data alone: of 500 of 16 bytes to
	// "early", 65536 / (5 + 16 + 128) = 439 fit in 64 KiB.
	t.Run("bound by message size", func(t *testing.T) {
		pub.t = t
		waitFor(t, 10*time.Second, "no subscriber left", func() bool { pub.send("count\n"); return pub.line() == "0" })
		dropped0, _ := earlyStats(pub)
		e := dialTLSStalled(t, pki, srv.Addr, nil, 2, 0)
		const sent, fit = 500, 65536 / (5 + 16 + 128)
		publishEarly(pub, "d", sent, 16)
		c := e.finish(t)
		c.expect("hello")
		for i := 1; i <= fit; i++ {
			expectEarly(c, "d", i, 16)
		}
		publishEarly(pub, "c", 1, 20) // started now: right after d-439
		expectEarly(c, "c", 1, 20)
		if dropped, _ := earlyStats(pub); dropped-dropped0 != sent-fit {
			t.Fatalf("%d dropped; want %d", dropped-dropped0, sent-fit)
		}
		e.raw.Close()
	})

	// A reset mid-handshake: what was kept for it is dropped and counted.
	t.Run("reset", func(t *testing.T) {
		pub.t = t
		waitFor(t, 10*time.Second, "no subscriber left", func() bool { pub.send("count\n"); return pub.line() == "0" })
		dropped0, _ := earlyStats(pub)
		e := dialTLSStalled(t, pki, srv.Addr, nil, 2, 0)
		publishEarly(pub, "d", 4, 20)
		faultLinger0(e.raw)
		e.raw.Close()
		close(e.sc.release)
		waitFor(t, 10*time.Second, "the reset's 4 kept messages counted", func() bool {
			d, _ := earlyStats(pub)
			return d == dropped0+4
		})
		pub.roundTrip("count", "0")
		whole, err := tls.DialWithDialer(&net.Dialer{Timeout: rawIOTimeout}, "tcp", srv.Addr, pki.clientConfig("localhost"))
		if err != nil {
			t.Fatal(err)
		}
		defer whole.Close()
		after := &rawClient{t: t, Conn: whole, r: bufio.NewReader(whole)}
		after.expect("hello")
		after.roundTrip("count", "1")
		if d, _ := earlyStats(pub); d != dropped0+4 {
			t.Fatalf("dropped %d after the reset, want %d", d, dropped0+4)
		}
	})
}

// TestPubSubEarlyProxy: behind --proxy-protocol, accept(info) runs once
// the header is in, so a message published before a late header is not
// for the connection; one published after it, while the TLS handshake
// that follows runs, arrives after start's greeting.
func TestPubSubEarlyProxy(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--proxy-protocol", "--tls-cert", cert, "--tls-key", key, testdata(t, "pubsub/early.lua"))
	pub := earlyPublisher(t, srv.Addr, "PROXY TCP4 203.0.113.7 127.0.0.1 56324 443\r\n")
	for _, v := range []struct {
		name string
		head []byte
	}{
		{"v1", []byte("PROXY TCP4 203.0.113.8 127.0.0.1 56325 443\r\n")},
		{"v2", proxyV2(netip.MustParseAddrPort("[2001:db8::2]:8443"), netip.MustParseAddrPort("[::1]:443"))},
	} {
		t.Run(v.name, func(t *testing.T) {
			pub.t = t
			raw, err := net.DialTimeout("tcp", srv.Addr, rawIOTimeout)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			publishEarly(pub, "before", 1, 20)
			// The ClientHello right after the header: a pause there would
			// start the connection in plaintext.
			raw.Write(v.head)
			e := stallTLS(t, pki, raw, 2, 0)
			pub.roundTrip("count", "1")
			publishEarly(pub, "after", 1, 20)
			c := e.finish(t)
			c.expect("hello")
			expectEarly(c, "after", 1, 20)
			raw.Close()
			waitFor(t, 10*time.Second, "the subscriber to go", func() bool { pub.send("count\n"); return pub.line() == "0" })
		})
	}
}

// TestPubSubEarlyOutbound: a server.connect connection subscribed before
// its TLS handshake is over (the peer holds it) gets what was published
// meanwhile after its start's greeting.
func TestPubSubEarlyOutbound(t *testing.T) {
	pki := newTestPKI(t)
	certFile, keyFile, _ := pki.issue(t, "server", "localhost", false)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(rawIOTimeout))
	srv := startServer(t, "", testdata(t, "pubsub/early.lua"))
	pub := earlyPublisher(t, srv.Addr, "")
	pub.roundTrip(fmt.Sprintf("connect %d", ln.Addr().(*net.TCPAddr).Port), "connecting")
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	pub.roundTrip("count", "1")
	publishEarly(pub, "o", 2, 20)
	tc := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{cert}})
	tc.SetDeadline(time.Now().Add(rawIOTimeout))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, Conn: tc, r: bufio.NewReader(tc)}
	c.expect("hello")
	expectEarly(c, "o", 1, 20)
	expectEarly(c, "o", 2, 20)
}

// TestPubSubSSHDropped: an SSH connection subscribed to a topic gets no
// topic bytes on its socket, where they would break the SSH stream, which
// goes on; each delivery to it counts in pubsub_dropped.
func TestPubSubSSHDropped(t *testing.T) {
	site := newSSHSite(t)
	t.Setenv("XDG_STATE_HOME", filepath.Join(site.dir, "state"))
	srv := batteryServer(t, "epoll", scriptFrom(t, "", "pubsub/sshsub.lua",
		map[string]string{"AuthorizedKeys": filepath.Join(site.dir, "authorized_keys")}))
	c := site.goClient(t, srv.Addr)
	exec := func(cmd string) string {
		t.Helper()
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		out, err := sess.Output(cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		return string(out)
	}
	for i := 1; i <= 2; i++ {
		if got := exec("pub"); got != "published\n" {
			t.Fatalf("pub: %q", got)
		}
		want := fmt.Sprintf("dropped=%d delivered=0\n", i)
		waitFor(t, 10*time.Second, want, func() bool { return exec("stats") == want })
	}
}
