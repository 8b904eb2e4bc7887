package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The --tls modes run against the real server: pocketlua with a
// throwaway ECDSA P-256 certificate, serving scripts/echo.lua over wss.

var (
	pocketluaOnce sync.Once
	pocketluaBin  string
	pocketluaErr  error
)

// buildPocketlua builds the server once for the package's tests.
func buildPocketlua(t *testing.T) string {
	t.Helper()
	pocketluaOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pocketbench-server")
		if err != nil {
			pocketluaErr = err
			return
		}
		pocketluaBin = filepath.Join(dir, "pocketlua")
		out, err := exec.Command("go", "build", "-o", pocketluaBin, "../pocketlua").CombinedOutput()
		if err != nil {
			pocketluaErr = fmt.Errorf("building pocketlua: %v\n%s", err, out)
		}
	})
	if pocketluaErr != nil {
		t.Fatal(pocketluaErr)
	}
	return pocketluaBin
}

// writeCert puts a self-signed ECDSA P-256 certificate for localhost in dir.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

var listeningAddr = regexp.MustCompile(` msg=listening addr=(\S+)`)

// tlsServer starts pocketlua with TLS on a free port and returns its
// wss:// URL, its PID and the certificate (also the CA to trust).
func tlsServer(t *testing.T) (url string, pid int, cert string) {
	t.Helper()
	bin := buildPocketlua(t)
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	cmd := exec.Command(bin, "-l", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key, "../../scripts/echo.lua")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() { // until the server exits
			if m := listeningAddr.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return "wss://" + a + "/", cmd.Process.Pid, cert
	case <-time.After(20 * time.Second):
		t.Fatal("pocketlua did not report its listening address")
	}
	return
}

func tlsConfig(mode, url, ca string, buf *safeBuffer) *Config {
	c := testConfig(mode, buf)
	c.URL, c.TLSCA, c.TLSServerName = url, ca, "localhost"
	return c
}

func TestTLSEcho(t *testing.T) {
	url, pid, ca := tlsServer(t)
	for _, size := range []int{1, 200, 20000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var buf safeBuffer
			c := tlsConfig("echo", url, ca, &buf)
			c.Size, c.PID = size, pid
			res := runProgress(t, c, echoed)
			if res.Errors != 0 || *res.Messages == 0 {
				t.Fatalf("messages %d errors %d %v: %s", *res.Messages, res.Errors, res.ErrorKinds, buf.String())
			}
			if res.MsgsPerServerCPU == nil || res.ServerCPU == nil {
				t.Fatalf("server CPU not measured: %+v", res)
			}
			if res.Target != url {
				t.Fatalf("target %q, want %q", res.Target, url)
			}
		})
	}
}

func TestTLSConnect(t *testing.T) {
	url, pid, ca := tlsServer(t)
	for _, resume := range []bool{false, true} {
		t.Run(fmt.Sprintf("resume=%v", resume), func(t *testing.T) {
			var buf safeBuffer
			c := tlsConfig("connect", url, ca, &buf)
			c.Echo, c.Size, c.PID, c.Conns = true, 1, pid, 2
			c.TLSResume = resume
			res := runProgress(t, c, func(r *Result) bool { return *r.Handshakes > 0 || r.Errors > 0 })
			if *res.Handshakes == 0 || res.Errors != 0 || res.HandshakesPerServerCPU == nil {
				t.Fatalf("handshakes %d errors %d %v: %s", *res.Handshakes, res.Errors, res.ErrorKinds, buf.String())
			}
			if res.TLSVersion != "TLS 1.3" {
				t.Fatalf("TLS version %q", res.TLSVersion)
			}
			if resume != (res.NotResumed != nil) {
				t.Fatalf("resume %v: not_resumed %v", resume, res.NotResumed)
			}
			if resume && *res.NotResumed > *res.Handshakes {
				t.Fatalf("%d resumed, %d full: most dials should resume", *res.Handshakes, *res.NotResumed)
			}
		})
	}
}

func TestTLSIdle(t *testing.T) {
	url, pid, ca := tlsServer(t)
	var buf safeBuffer
	c := tlsConfig("idle", url, ca, &buf)
	c.Conns, c.PID, c.Settle = 20, pid, 100*time.Millisecond
	c.IdleEcho = []int{16, 16 << 10}
	res, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || *res.Open != 20 || res.TLSVersion != "TLS 1.3" {
		t.Fatalf("open %d errors %d %v tls %q: %s", *res.Open, res.Errors, res.ErrorKinds, res.TLSVersion, buf.String())
	}
	if len(res.IdleEcho) != 2 || res.IdleEcho[0].Size != 16 || res.IdleEcho[1].Size != 16<<10 || res.IdleEcho[1].RSS <= 0 {
		t.Fatalf("idle echo rounds: %+v", res.IdleEcho)
	}
}

// Bad input: a certificate that does not verify, TLS against a
// plaintext server, options that do not fit.
func TestTLSFailures(t *testing.T) {
	url, _, ca := tlsServer(t)

	var buf safeBuffer
	c := tlsConfig("echo", url, "", &buf) // system roots do not know the throwaway CA
	res, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if res.ErrorKinds["tls"] != uint64(c.Conns) || !strings.Contains(buf.String(), "certificate") {
		t.Fatalf("want %d tls errors, got %v %q", c.Conns, res.ErrorKinds, buf.String())
	}

	buf.Reset()
	c = tlsConfig("echo", url, "", &buf)
	c.TLSServerName, c.TLSInsecure = "", true
	if res := runProgress(t, c, echoed); res.Errors != 0 || *res.Messages == 0 {
		t.Fatalf("--tls-insecure: messages %d errors %v: %s", *res.Messages, res.ErrorKinds, buf.String())
	}

	buf.Reset()
	c = tlsConfig("echo", url, ca, &buf)
	c.TLSServerName = "" // 127.0.0.1 is not among the certificate's names
	if res, err := Run(c); err != nil || res.ErrorKinds["tls"] != uint64(c.Conns) {
		t.Fatalf("wrong name: want %d tls errors, got %v, %v", c.Conns, res.ErrorKinds, err)
	}

	buf.Reset()
	c = tlsConfig("echo", strings.Replace(wsEchoServer(t, faultNone), "ws://", "wss://", 1), ca, &buf)
	if res, err := Run(c); err != nil || res.ErrorKinds["tls"] != uint64(c.Conns) {
		t.Fatalf("plaintext server: want %d tls errors, got %v, %v", c.Conns, res.ErrorKinds, err)
	}

	for _, args := range [][]string{
		{"echo", "--tls-ca", ca},
		{"echo", "--tls", "--tls-resume"},
		{"connect", "--tls", "--raw", "127.0.0.1:1"},
		{"connect", "--tls", "--tls-insecure", "--tls-ca", ca},
		{"fanout", "--url", url},
		{"echo", "--idle-echo", "16"},
		{"idle", "--idle-echo", "-1"},
	} {
		var out safeBuffer
		if _, _, err := parseArgs(args, &out); !isUsage(err) {
			t.Errorf("%q: want a usage error, got %v", args, err)
		}
	}
	c = tlsConfig("echo", url, filepath.Join(t.TempDir(), "missing.pem"), &buf)
	if _, err := Run(c); err == nil || !strings.Contains(err.Error(), "--tls-ca") {
		t.Fatalf("missing CA file: %v", err)
	}
}

// echoOnce, which idle --idle-echo uses, notices a corrupted, a missing
// and a refused echo (the test server misbehaves on message faultAt).
func TestIdleEchoDetectsFaults(t *testing.T) {
	for _, f := range []struct {
		fault fault
		kind  string
	}{{faultNone, ""}, {faultCorrupt, "bad_echo"}, {faultDrop, "timeout"}, {faultClose, "unexpected_close"}} {
		c := defaultConfig("idle")
		c.URL = wsEchoServer(t, f.fault)
		tgt, err := newTarget(&c)
		if err != nil {
			t.Fatal(err)
		}
		ic, err := openIdle(tgt, 0, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, 300)
		fillPayload(payload, false, 7)
		var got error
		for i := 0; i <= faultAt && got == nil; i++ {
			got = echoOnce(ic.conn, payload, nil, make([]byte, 64), 500*time.Millisecond)
		}
		ic.close()
		switch {
		case f.kind == "" && got != nil:
			t.Errorf("clean server: %v", got)
		case f.kind != "" && (got == nil || errKindNames[kindOf(got)] != f.kind):
			t.Errorf("fault %d: want %s, got %v", f.fault, f.kind, got)
		}
	}
}
