package tests

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// reframeConn rewrites the client's first write (its ClientHello record)
// as the test likes: as several handshake records of at most split bytes
// of payload each, sent one byte per write when trickle is set.
type reframeConn struct {
	net.Conn
	split   int
	trickle bool
	done    bool
}

func (c *reframeConn) Write(p []byte) (int, error) {
	if c.done || len(p) < 5 || p[0] != 0x16 {
		return c.Conn.Write(p)
	}
	c.done = true
	out := p
	if c.split > 0 {
		out = nil
		body := p[5:]
		for len(body) > 0 {
			n := min(c.split, len(body))
			out = append(out, 0x16, p[1], p[2], byte(n>>8), byte(n))
			out = append(out, body[:n]...)
			body = body[n:]
		}
	}
	if !c.trickle {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	for i := range out {
		if _, err := c.Conn.Write(out[i : i+1]); err != nil {
			return 0, err
		}
		time.Sleep(time.Millisecond)
	}
	return len(p), nil
}

// TestTLSHostileClientsMore: the ClientHello arriving one byte per
// segment, or spread over many handshake records, is gathered whole and
// served; a half ClientHello followed by FIN, and whole ones whose
// clients reset the connection while their handshake runs, are cleaned
// up at once, long before the handshake timeout (60 s here), and leave
// no handshake or goroutine behind.
func TestTLSHostileClientsMore(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, "--tls-required", "--tls-handshake-timeout", "60s",
		"--metrics", "127.0.0.1:0", testdata(t, "tls/app.lua"))
	maddr := metricsAddr(t, srv.Logs)
	metric := func(name string, labels ...string) float64 { return scrape(t, maddr).value(t, name, labels...) }
	base := metric("go_goroutines")

	for _, rc := range []struct {
		name    string
		split   int
		trickle bool
	}{
		{"one byte per segment", 0, true},
		{"records of 64 bytes", 64, false},
		{"records of one byte", 1, false},
	} {
		t.Run(rc.name, func(t *testing.T) {
			raw, err := net.DialTimeout("tcp", srv.Addr, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			raw.(*net.TCPConn).SetNoDelay(true)
			tc := tls.Client(&reframeConn{Conn: raw, split: rc.split, trickle: rc.trickle}, pki.clientConfig("localhost"))
			tc.SetDeadline(time.Now().Add(20 * time.Second))
			if info := infoOver(t, tc); !info.TLS || info.ServerName != "localhost" {
				t.Fatalf("/info = %+v", info)
			}
		})
	}

	hello := clientHello(t, "localhost")
	dial := func() *net.TCPConn {
		c, err := net.DialTimeout("tcp", srv.Addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.TCPConn)
	}
	// Half a ClientHello, then FIN: closed without an answer.
	for range 5 {
		c := dial()
		c.Write(hello[:len(hello)/2])
		c.CloseWrite()
		if n := readUntilClosed(t, c); n != 0 {
			t.Fatalf("half a ClientHello then FIN: %d bytes of answer", n)
		}
	}
	// A whole ClientHello, then an RST while the handshake runs (once the
	// server's answer is in, so the handshake is in flight).
	const resets = 5
	for range resets {
		c := dial()
		c.Write(hello)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != nil {
			t.Fatalf("no ServerHello: %v", err)
		}
		faultLinger0(c)
		c.Close()
	}
	waitFor(t, 10*time.Second, "no handshake in flight after the resets", func() bool {
		return metric("pocketlua_tls_handshakes_in_flight", "worker=1") == 0
	})
	waitFor(t, 10*time.Second, "the handshake goroutines gone", func() bool { return metric("go_goroutines") <= base+2 })
	if n := metric("pocketlua_tls_handshakes_total", "worker=1", "result=timeout"); n != 0 {
		t.Fatalf("%v handshakes timed out: the ended ones waited for the timeout", n)
	}
	if strings.Contains(srv.Logs(), "panic") {
		t.Fatalf("server logs:\n%s", srv.Logs())
	}
	srv.stop()
}
