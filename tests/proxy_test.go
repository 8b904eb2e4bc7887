package tests

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// proxyV2 is a PROXY protocol v2 header for a TCP connection from src.
func proxyV2(src, dst netip.AddrPort) []byte {
	h := []byte("\r\n\r\n\x00\r\nQUIT\n\x21")
	var body []byte
	if src.Addr().Is4() {
		h = append(h, 0x11)
		body = append(append(body, src.Addr().AsSlice()...), dst.Addr().AsSlice()...)
	} else {
		h = append(h, 0x21)
		body = append(append(body, src.Addr().AsSlice()...), dst.Addr().AsSlice()...)
	}
	body = append(body, byte(src.Port()>>8), byte(src.Port()), byte(dst.Port()>>8), byte(dst.Port()))
	h = append(h, byte(len(body)>>8), byte(len(body)))
	return append(h, body...)
}

// TestProxyProtocol: behind --proxy-protocol, conn.peer is the address
// the v1 or v2 header names (curl's --haproxy-protocol, a v2 header
// before TLS); a connection without a header, one whose header does not
// come in time, and one from outside --proxy-from are closed and counted.
func TestProxyProtocol(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--proxy-protocol", "--proxy-header-timeout", "1s", "--tls-cert", cert, "--tls-key", key,
		"--metrics", "127.0.0.1:0", testdata(t, "tls/app.lua"))
	maddr := metricsAddr(t, srv.Logs)

	// curl sends a v1 header with its own address.
	r := curlOK(t, "--haproxy-protocol", "http://"+srv.Addr+"/info")
	if info := decodeInfo(t, r.stdout); !strings.HasPrefix(info.Peer, "127.0.0.1:") || info.TLS {
		t.Fatalf("curl --haproxy-protocol: /info = %+v", info)
	}

	// A hand-written v1 header names another client.
	c := dialRaw(t, srv.Addr)
	c.send("PROXY TCP4 203.0.113.7 127.0.0.1 56324 443\r\nGET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	all, _ := io.ReadAll(c.Conn)
	body := string(all)
	if !strings.Contains(body, `"peer":"203.0.113.7:56324"`) {
		t.Fatalf("v1 header: %s", body)
	}

	// v2 over IPv6, then TLS on the same connection.
	raw, err := net.DialTimeout("tcp", srv.Addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.Write(proxyV2(netip.MustParseAddrPort("[2001:db8::2]:8443"), netip.MustParseAddrPort("[::1]:443")))
	tc := tls.Client(raw, pki.clientConfig("localhost"))
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if info := infoOver(t, tc); info.Peer != "[2001:db8::2]:8443" || !info.TLS {
		t.Fatalf("v2 header then TLS: /info = %+v", info)
	}

	// No header: closed unanswered. Half a header: closed at the timeout.
	plain := dialRaw(t, srv.Addr)
	plain.send("GET /info HTTP/1.1\r\nHost: x\r\n\r\n")
	if n := readUntilClosed(t, plain.Conn); n != 0 {
		t.Fatalf("no header: %d bytes of answer", n)
	}
	half := dialRaw(t, srv.Addr)
	half.send("PROXY TCP4 203.0.113.7")
	if n := readUntilClosed(t, half.Conn); n != 0 {
		t.Fatalf("half a header: %d bytes of answer", n)
	}
	m := scrape(t, maddr)
	for reason, want := range map[string]float64{"malformed": 1, "timeout": 1, "source": 0} {
		if got := m.value(t, "pocketlua_proxy_refused_total", "worker=1", "reason="+reason); got != want {
			t.Errorf("proxy refused %s = %v, want %v", reason, got, want)
		}
	}
	srv.stop()

	// Only from --proxy-from: 127.0.0.1 is not in 10.0.0.0/8.
	far := startServer(t, "", "--proxy-protocol", "--proxy-from", "10.0.0.0/8", testdata(t, "tls/app.lua"))
	c = dialRaw(t, far.Addr)
	c.send("PROXY TCP4 203.0.113.7 127.0.0.1 56324 443\r\nGET /info HTTP/1.1\r\nHost: x\r\n\r\n")
	if n := readUntilClosed(t, c.Conn); n != 0 {
		t.Fatalf("from outside --proxy-from: %d bytes of answer", n)
	}
	far.stop()
}

// TestProxyProtocolMaxConns: connections still waiting for their PROXY
// header count toward --max-conns, so a flood of header-less connections
// cannot hold more descriptors than the cap; once they go, a proxied
// client is served again.
func TestProxyProtocolMaxConns(t *testing.T) {
	const maxConns, flood = 5, 15
	srv := startServer(t, "", "--proxy-protocol", "--proxy-header-timeout", "60s", "--max-conns", fmt.Sprint(maxConns),
		"--metrics", "127.0.0.1:0", testdata(t, "tls/app.lua"))
	maddr := metricsAddr(t, srv.Logs)
	var silent []*rawClient
	for range maxConns {
		silent = append(silent, dialRaw(t, srv.Addr))
	}
	// Every connection past the cap is closed at once, long before the
	// header timeout; a valid header changes nothing while the cap is full.
	for i := range flood {
		c := dialRaw(t, srv.Addr)
		if i == flood-1 {
			c.send("PROXY TCP4 203.0.113.7 127.0.0.1 56324 443\r\nGET /info HTTP/1.1\r\nHost: x\r\n\r\n")
		}
		if n := readUntilClosed(t, c.Conn); n != 0 {
			t.Fatalf("connection %d over --max-conns: %d bytes of answer", maxConns+i+1, n)
		}
	}
	if got := scrape(t, maddr).value(t, "pocketlua_connections_refused_total", "worker=1", "reason=max_conns"); got != flood {
		t.Fatalf("refused over --max-conns: %v, want %d", got, flood)
	}
	for _, c := range silent {
		c.Close()
	}
	waitFor(t, 10*time.Second, "a proxied request served once the stallers left", func() bool {
		c, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "PROXY TCP4 203.0.113.7 127.0.0.1 56324 443\r\nGET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		all, _ := io.ReadAll(c)
		return strings.Contains(string(all), `"peer":"203.0.113.7:56324"`)
	})
	srv.stop()
}
