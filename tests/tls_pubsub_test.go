package tests

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestPubSubOverTLS: topic messages reach wss and TLS raw subscribers
// encrypted, beside plaintext ones on the same port.
func TestPubSubOverTLS(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, testdata(t, "pubsub/rooms.lua"))
	secure := psDialURL(t, websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: pki.clientConfig("localhost")}, "wss://"+srv.Addr+"/room/a")
	deflated := psDialURL(t, websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: pki.clientConfig("localhost"), EnableCompression: true}, "wss://"+srv.Addr+"/room/a")
	plain := psDial(t, srv.Addr, "/room/a")
	for i, m := range []string{"first", strings.Repeat("long and compressible ", 200)} {
		if got := plain.do("pub room.a " + m); !strings.HasPrefix(got, "ok") {
			t.Fatalf("publish %d: %q", i, got)
		}
		for _, c := range []*psClient{secure, deflated} {
			if got := c.next(); got != m {
				t.Fatalf("wss subscriber %d got %.40q, want %.40q", i, got, m)
			}
		}
	}
}

// TestPubSubHeldBeforeStart: subscriptions taken in accept(info) end with
// a connection that never starts (refused, or its TLS handshake never
// done), and raw subscribers over TLS get deliveries encrypted, one
// published as soon as the client's handshake is through included.
func TestPubSubHeldBeforeStart(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, testdata(t, "pubsub/held.lua"))
	for i := 0; i < 3; i++ { // refused by accept
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("refused connection %d read %d bytes", i, n)
		}
		c.Close()
	}
	half, err := net.Dial("tcp", srv.Addr) // accepted; its handshake never completes
	if err != nil {
		t.Fatal(err)
	}
	half.Write(clientHello(t, "localhost")[:50])
	time.Sleep(100 * time.Millisecond)
	half.Close()

	secure, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", srv.Addr, pki.clientConfig("localhost"))
	if err != nil {
		t.Fatal(err)
	}
	defer secure.Close()
	plain, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	lines := bufio.NewReader(plain)
	count := ""
	waitFor(t, 10*time.Second, "only the two open connections subscribed", func() bool {
		plain.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(plain, "count\n")
		count, _ = lines.ReadString('\n')
		return count == "2\n"
	})
	// The client's handshake may end before the server's: what comes
	// before start() waits for it (TestPubSubEarlyTLS).
	secureLines := bufio.NewReader(secure)
	io.WriteString(plain, "pub hello\n")
	for name, r := range map[string]*bufio.Reader{"plaintext": lines, "TLS": secureLines} {
		secure.SetReadDeadline(time.Now().Add(10 * time.Second))
		if got, err := r.ReadString('\n'); got != "hello\n" {
			t.Fatalf("%s subscriber got %q, %v", name, got, err)
		}
	}
}
