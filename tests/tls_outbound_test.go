package tests

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTLSOutbound: server.connect with tls verifies the peer against a
// given CA (or the system roots, which do not know the test CA), sends a
// client certificate when asked, and reports a verification failure to
// Lua as closed(nil, reason). The peer is Go's own crypto/tls server.
// The ca, cert and key files are read off the loop: a ca file that blocks
// (a FIFO nobody writes yet, as a stalled disk would) does not stop the
// loop; a file that cannot be read or parsed is closed(nil, reason)
// naming it; a changed file is read again.
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

	fifo := filepath.Join(t.TempDir(), "ca-fifo.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	script := scriptFrom(t, "", "tls/outbound.lua", map[string]string{"CA": pki.caFile, "Cert": clientCert, "Key": clientKey,
		"Fifo": fifo, "Missing": missing})
	srv := startServer(t, "", script)
	c := dialRaw(t, srv.Addr)
	for how, want := range map[string]string{
		"good":      "got hello-to-anonymous over TLS 1.3",
		"cert":      "got hello-to-pocketlua-client over TLS 1.3",
		"system":    "closed tls: failed to verify certificate: x509: certificate signed by unknown authority",
		"wrongname": "closed tls: failed to verify certificate: x509: certificate is valid for localhost, not elsewhere.test",
		"missing":   "closed tls: ca " + missing + ": no such file or directory",
		"badkey":    "closed tls: certificate " + clientCert + " with key " + pki.caFile + ": tls: found a certificate rather than a key in the PEM for the private key",
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

	// A ca file that blocks: the loop goes on; both connections waiting
	// for it (one reading of the file serves them) complete once it can
	// be read.
	c.send("GO " + p + " slowca\nGO " + p + " slowca\n")
	c.send("PING\n")
	if got := c.line(); got != "PONG" {
		t.Fatalf("while the ca file blocks: %q, want PONG", got)
	}
	caPEM, err := os.ReadFile(pki.caFile)
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // waits for the reader
	if err != nil {
		t.Fatal(err)
	}
	w.Write(caPEM)
	w.Close()
	var lines []string
	for range 4 {
		lines = append(lines, c.line())
	}
	slices.Sort(lines)
	if want := []string{"closed closed", "closed closed", "got hello-to-anonymous over TLS 1.3", "got hello-to-anonymous over TLS 1.3"}; !slices.Equal(lines, want) {
		t.Fatalf("slowca: %q, want %q", lines, want)
	}

	// A changed ca file is read again: another CA, then the right one.
	stranger := newTestPKI(t)
	strangerPEM, err := os.ReadFile(stranger.caFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		pem  []byte
		want string
	}{
		{strangerPEM, "closed tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{caPEM, "got hello-to-anonymous over TLS 1.3"},
	} {
		if err := os.WriteFile(pki.caFile, step.pem, 0o600); err != nil {
			t.Fatal(err)
		}
		c.send("GO " + p + " good\n")
		if got := c.line(); !strings.HasPrefix(got, step.want) {
			t.Fatalf("after the ca file changed: %q, want %q", got, step.want)
		}
	}
	srv.stop()
}
