package tests

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestTLSOutbound: server.connect with tls verifies the peer against a
// given CA (or the system roots, which do not know the test CA), sends a
// client certificate when asked, and reports a verification failure to
// Lua as closed(nil, reason). The peer is Go's own crypto/tls server.
func TestTLSOutbound(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	clientCert, clientKey, _ := pki.issue(t, "client", "pocketlua-client", true)
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair},
		ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pki.pool})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				who := "anonymous"
				if st := c.(*tls.Conn).ConnectionState(); len(st.PeerCertificates) > 0 {
					who = st.PeerCertificates[0].Subject.CommonName
				}
				fmt.Fprintf(c, "%s-to-%s\n", strings.Fields(line)[0], who)
			}()
		}
	}()
	_, p, _ := net.SplitHostPort(ln.Addr().String())

	script := scriptFrom(t, "", "tls/outbound.lua", map[string]string{"CA": pki.caFile, "Cert": clientCert, "Key": clientKey})
	srv := startServer(t, "", script)
	c := dialRaw(t, srv.Addr)
	for how, want := range map[string]string{
		"good":      "got hello-to-anonymous over TLS 1.3",
		"cert":      "got hello-to-pocketlua-client over TLS 1.3",
		"system":    "closed tls: failed to verify certificate: x509: certificate signed by unknown authority",
		"wrongname": "closed tls: failed to verify certificate: x509: certificate is valid for localhost, not elsewhere.test",
	} {
		t.Log(how)
		c.send("GO " + p + " " + how + "\n")
		if got := c.line(); got != want {
			t.Fatalf("%s: %q, want %q", how, got, want)
		}
		if how == "good" || how == "cert" {
			if got := c.line(); got != "closed closed" {
				t.Fatalf("%s: then %q", how, got)
			}
		}
	}
	srv.stop()
}
