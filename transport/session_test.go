package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// longChainPair writes a self-signed certificate followed by copies of
// itself, about size bytes of chain, and its key.
func longChainPair(t *testing.T, size int) Pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	var chain []byte
	for len(chain) < size {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := Pair{Cert: filepath.Join(t.TempDir(), "cert.pem"), Key: filepath.Join(t.TempDir(), "key.pem")}
	if err := os.WriteFile(p.Cert, chain, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.Key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// lateConn's first read waits, so the server's flight fills the socket.
type lateConn struct {
	net.Conn
	once sync.Once
}

func (c *lateConn) Read(p []byte) (int, error) {
	c.once.Do(func() { time.Sleep(200 * time.Millisecond) })
	return c.Conn.Read(p)
}

// TestSessionDirectWriteFallsBack: a flight larger than the socket takes
// is written directly up to where the socket stops, and the rest goes
// through the loop's write, in order: the client (crypto/tls, reading
// late) completes its handshake and gets the whole chain. The socket is a
// Unix socket pair with a small send buffer, so the socket fills for sure.
func TestSessionDirectWriteFallsBack(t *testing.T) {
	certs, err := New(Options{Pairs: []Pair{longChainPair(t, 48<<10)}})
	if err != nil {
		t.Fatal(err)
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv := fds[0]
	defer syscall.Close(srv)
	if err := syscall.SetsockoptInt(srv, syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096); err != nil {
		t.Fatal(err)
	}
	cc, err := net.FileConn(os.NewFile(uintptr(fds[1]), "client"))
	syscall.Close(fds[1])
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := tls.Client(&lateConn{Conn: cc}, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true})
	client.SetDeadline(time.Now().Add(10 * time.Second))
	clientDone := make(chan error, 1)
	go func() { clientDone <- client.Handshake() }()

	// The loop, as the engine's: posted functions run in order on one
	// goroutine; its writes block here (the engine's are queued).
	tasks := make(chan func(), 64)
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		for fn := range tasks {
			fn()
		}
	}()
	var direct, viaLoop, refused atomic.Int64
	write := func(p []byte) bool {
		viaLoop.Add(int64(len(p)))
		for len(p) > 0 {
			n, err := syscall.Write(srv, p)
			if err != nil {
				return false
			}
			p = p[n:]
		}
		return true
	}

	var hello []byte
	buf := make([]byte, 4096)
	for {
		n, err := syscall.Read(srv, buf)
		if err != nil || n <= 0 {
			t.Fatalf("reading the ClientHello: %d %v", n, err)
		}
		hello = append(hello, buf[:n]...)
		if whole, err := ClientHelloComplete(hello); err != nil {
			t.Fatal(err)
		} else if whole {
			break
		}
	}
	sess := certs.NewSession(hello, func(fn func()) { tasks <- fn }, write, nil)
	sess.WriteDirect(func(p []byte) (int, error) {
		n, err := syscall.SendmsgN(srv, p, nil, nil, syscall.MSG_DONTWAIT)
		if err != nil {
			refused.Add(1)
			return 0, err
		}
		direct.Add(int64(n))
		return n, nil
	})
	// The client's Finished, read from the socket and fed as the loop does.
	go func() {
		for {
			n, err := syscall.Read(srv, buf)
			if err != nil || n <= 0 {
				return
			}
			p := append([]byte(nil), buf[:n]...)
			tasks <- func() { sess.Feed(p) }
		}
	}()
	if err := sess.Handshake(); err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if err := <-clientDone; err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if got := len(client.ConnectionState().PeerCertificates); got < 48<<10/1024 {
		t.Fatalf("the client got %d certificates", got)
	}
	if direct.Load() == 0 || viaLoop.Load() == 0 || refused.Load() != 1 {
		t.Fatalf("%d bytes written directly, %d through the loop, %d refused writes: want both ways and one refusal",
			direct.Load(), viaLoop.Load(), refused.Load())
	}
	sess.Close()
	cc.Close()
	close(tasks)
	<-loopDone
}
