package tests

import (
	"crypto/tls"
	"encoding/pem"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lateReader is a client socket whose first read waits: the server's
// flight piles up in the socket meanwhile, and the client's Finished
// leaves late.
type lateReader struct {
	net.Conn
	wait time.Duration
	once sync.Once
}

func (c *lateReader) Read(p []byte) (int, error) {
	c.once.Do(func() { time.Sleep(c.wait) })
	return c.Conn.Read(p)
}

// smallWindowDialer dials with a small receive buffer, set before the
// connection exists so the window it announces stays small.
var smallWindowDialer = net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
	})
	if err != nil {
		return err
	}
	return serr
}}

// TestTLSDirectFlights: the handshake goroutine writes its flight to the
// socket itself. A long one (a certificate chain of about 60 KB) to
// clients with a small window that read it, and send their Finished,
// late; clients that reset the connection right after their ClientHello
// (the flight's write may meet the reset) or after the flight's first
// bytes: none leaves a handshake or a goroutine behind, and a healthy
// client is served after. (Loopback's socket takes such a flight whole;
// one the socket cannot take is transport's TestSessionDirectWriteFallsBack.)
func TestTLSDirectFlights(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	// The chain the server sends: its certificate, then the CA's, many
	// times over (the client's verifier ignores the repeats).
	chain, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.ca.Raw})
	for range 60 << 10 / len(pki.ca.Raw) {
		chain = append(chain, caPEM...)
	}
	if err := os.WriteFile(cert, chain, 0o600); err != nil {
		t.Fatal(err)
	}
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "--tls-cert", cert, "--tls-key", key, "--tls-required",
			"--metrics", "127.0.0.1:0", testdata(t, "tls/app.lua"))
		maddr := metricsAddr(t, srv.Logs)
		metric := func(name string, labels ...string) float64 { return scrape(t, maddr).value(t, name, labels...) }
		base := metric("go_goroutines")

		// Slow readers: several at once, each handshake on its own goroutine.
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		conns := make([]*tls.Conn, 4)
		for i := range conns {
			raw, err := smallWindowDialer.Dial("tcp", srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { raw.Close() })
			conns[i] = tls.Client(&lateReader{Conn: raw, wait: 300 * time.Millisecond}, pki.clientConfig("localhost"))
			wg.Add(1)
			go func() {
				defer wg.Done()
				conns[i].SetDeadline(time.Now().Add(15 * time.Second))
				errs <- conns[i].Handshake()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("handshake with a late reader: %v", err)
			}
		}
		for _, c := range conns {
			if got := len(c.ConnectionState().PeerCertificates); got < 10 {
				t.Fatalf("the client got %d certificates, want the long chain", got)
			}
			if info := infoOver(t, c); !info.TLS || info.Version != "TLS 1.3" {
				t.Fatalf("GET /info after a late read: %+v", info)
			}
		}

		// Clients that reset, before the flight or once it is coming.
		hello := clientHello(t, "localhost")
		for i := range 20 {
			raw, err := smallWindowDialer.Dial("tcp", srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Write(hello); err != nil {
				t.Fatal(err)
			}
			if i%2 == 1 {
				buf := make([]byte, 512)
				raw.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := raw.Read(buf); err != nil {
					t.Fatalf("no flight: %v", err)
				}
			}
			raw.(*net.TCPConn).SetLinger(0) // RST
			raw.Close()
		}
		waitFor(t, 10*time.Second, "no handshake in flight", func() bool {
			return metric("pocketlua_tls_handshakes_in_flight", "worker=1") == 0
		})
		// Parked handshake goroutines: two per CPU at most.
		waitFor(t, 10*time.Second, "the handshake goroutines gone", func() bool {
			return metric("go_goroutines") <= base+2*float64(runtime.NumCPU())
		})
		if info, err := getInfo(t, srv.Addr, pki.clientConfig("localhost")); err != nil || !info.TLS {
			t.Fatalf("a healthy client after the resets: %+v %v", info, err)
		}
		srv.stop()
	})
}
