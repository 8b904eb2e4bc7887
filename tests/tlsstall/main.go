//go:build linux

// Command tlsstall checks, at full scale, that clients stalling in the TLS
// handshake cost the server neither goroutines nor memory without bound,
// and that a healthy client is served meanwhile. Not part of CI (the
// tests stall a few hundred: TestTLSHostileClients).
//
//	go run ./tests/tlsstall -half 10000 -whole 1000
//
// It builds pocketlua, makes a throwaway certificate, starts the server
// with --tls-cert and --metrics, then opens -half connections that send
// half a ClientHello and stall and -whole that send a whole one and stall
// (each of those holds a handshake goroutine until --tls-handshake-timeout,
// within --tls-max-startups). It prints the server's goroutines, RSS and
// handshakes in flight, and how long a healthy handshake takes, before,
// during and after the timeout. Run from the repository root; it raises
// its own descriptor limit.
//
// Other measurements, each instead of the stall (docs/PERFORMANCE.md):
//
//	go run ./tests/tlsstall -idle 2000        # RSS per idle connection, TLS and plaintext
//	go run ./tests/tlsstall -handshakes 5s    # full and resumed handshakes per server CPU-second
//	go run ./tests/tlsstall -echo 100         # ws and wss echoes per server CPU-second
//
// Each of those against a wss echo server started elsewhere, measured by
// the CPU time and RSS of the process -pid (tests/bench/tls_compare.sh
// uses pocketbench --tls for that now):
//
//	go run ./tests/tlsstall -target wss://127.0.0.1:PORT/ -pid PID -ca cert.pem -echo 100
//
// Linux only: it reads the server's figures from /proc.
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	half := flag.Int("half", 10000, "connections that send half a ClientHello and stall")
	whole := flag.Int("whole", 1000, "connections that send a whole ClientHello and stall")
	timeout := flag.Duration("timeout", 10*time.Second, "--tls-handshake-timeout")
	idle := flag.Int("idle", 0, "instead: memory per idle connection, TLS and plaintext, with this many connections to tcp_echo.lua")
	handshakes := flag.Duration("handshakes", 0, "instead: full and resumed handshakes per second and per server CPU-second, each for this long")
	echo := flag.Int("echo", 0, "instead: WebSocket echo messages per server CPU-second with this many clients, ws and wss, 5 s each")
	// Against a server started elsewhere.
	targetURL := flag.String("target", "", "with -pid: measure this wss:// echo server instead of starting pocketlua")
	targetPID := flag.Int("pid", 0, "the -target server's process, whose CPU time and RSS are measured")
	caFile := flag.String("ca", "", "PEM certificate the -target is trusted by")
	certDir := flag.String("gencert", "", "instead: write a throwaway ECDSA P-256 cert.pem and key.pem for localhost in this directory")
	flag.Parse()
	var err error
	if *certDir != "" {
		err = writeCertificate(*certDir)
	} else if *targetURL != "" {
		var t *target
		if t, err = newTarget(*targetURL, *targetPID, *caFile); err == nil {
			switch {
			case *echo > 0:
				err = t.echo(*echo, 5*time.Second)
			case *handshakes > 0:
				err = t.handshakes(*handshakes)
			case *idle > 0:
				err = t.idle(*idle)
			default:
				err = errors.New("-target needs -echo, -handshakes or -idle")
			}
		}
	} else if *echo > 0 {
		err = echoRate(*echo, 5*time.Second)
	} else if *handshakes > 0 {
		err = handshakeRate(*handshakes)
	} else if *idle > 0 {
		err = idleMemory(*idle)
	} else {
		err = run(*half, *whole, *timeout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlsstall:", err)
		os.Exit(1)
	}
}

func run(half, whole int, timeout time.Duration) error {
	lim := syscall.Rlimit{Cur: uint64(half+whole) + 4096, Max: uint64(half+whole) + 4096}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raising the descriptor limit to %d: %w (run as root or raise the hard limit)", lim.Cur, err)
	}
	w, err := newWorkspace("tlsstall")
	if err != nil {
		return err
	}
	defer w.close()
	pool := w.pool
	srv, addr, maddr, err := w.start("scripts/echo.lua", "--tls-handshake-timeout", timeout.String(), "--max-conns", strconv.Itoa(half+whole+1000))
	if err != nil {
		return err
	}
	defer srv.Process.Kill()
	hello := clientHello()
	report := func(when string) {
		m := scrape(maddr)
		d, herr := healthy(addr, pool)
		fmt.Printf("%-28s goroutines %5.0f  in flight %5.0f  RSS %7d KiB  healthy handshake %v %v\n",
			when, m["go_goroutines"], m[`pocketlua_tls_handshakes_in_flight{worker="1"}`], rssKiB(srv.Process.Pid), d.Round(time.Millisecond), errText(herr))
	}
	report("idle")
	var conns []net.Conn
	dial := func(payload []byte) error {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		_, err = c.Write(payload)
		return err
	}
	start := time.Now()
	for i := 0; i < half; i++ {
		if err := dial(hello[:len(hello)/2]); err != nil {
			return fmt.Errorf("half ClientHello %d: %w", i, err)
		}
	}
	report(fmt.Sprintf("%d half ClientHellos", half))
	for i := 0; i < whole; i++ {
		if err := dial(hello); err != nil {
			return fmt.Errorf("whole ClientHello %d: %w", i, err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	report(fmt.Sprintf("+ %d whole ClientHellos", whole))
	time.Sleep(timeout - time.Since(start) + 2*time.Second)
	report("after the timeout")
	closed := 0
	for _, c := range conns {
		// The server's first flight may come before its close: read to the end.
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := io.Copy(io.Discard, c); err == nil || !os.IsTimeout(err) {
			closed++
		}
		c.Close()
	}
	fmt.Printf("stalled connections the server closed: %d of %d\n", closed, len(conns))
	return nil
}

// idleMemory prints the server's RSS per connection for n idle
// connections to tcp_echo.lua, plaintext and TLS, after one small echo
// and after one of 16 KiB.
func idleMemory(n int) error {
	lim := syscall.Rlimit{Cur: uint64(n) + 4096, Max: uint64(n) + 4096}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	w, err := newWorkspace("tlsidle")
	if err != nil {
		return err
	}
	defer w.close()
	pool := w.pool
	for _, withTLS := range []bool{false, true} {
		srv, addr, _, err := w.start("scripts/tcp_echo.lua", "--max-conns", strconv.Itoa(n+100))
		if err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond)
		base := rssKiB(srv.Process.Pid)
		var conns []net.Conn
		echo := func(c net.Conn, size int) error {
			msg := make([]byte, size)
			for i := range msg {
				msg[i] = 'a' + byte(i%26)
			}
			c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := c.Write(msg); err != nil {
				return err
			}
			_, err := io.ReadFull(c, msg)
			return err
		}
		for range n {
			var c net.Conn
			if withTLS {
				c, err = tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
			} else {
				c, err = net.DialTimeout("tcp", addr, 10*time.Second)
			}
			if err != nil {
				srv.Process.Kill()
				return err
			}
			if err := echo(c, 16); err != nil {
				srv.Process.Kill()
				return err
			}
			conns = append(conns, c)
		}
		time.Sleep(2 * time.Second) // idle buffers trimmed, garbage collected
		small := rssKiB(srv.Process.Pid)
		for _, c := range conns {
			if err := echo(c, 16<<10); err != nil {
				srv.Process.Kill()
				return err
			}
		}
		time.Sleep(2 * time.Second)
		large := rssKiB(srv.Process.Pid)
		name := "plaintext"
		if withTLS {
			name = "TLS 1.3"
		}
		fmt.Printf("%-9s %d connections: %.1f KiB each after a 16-byte echo, %.1f KiB after a 16 KiB echo (RSS %d -> %d -> %d KiB)\n",
			name, n, float64(small-base)/float64(n), float64(large-base)/float64(n), base, small, large)
		for _, c := range conns {
			c.Close()
		}
		srv.Process.Kill()
		srv.Wait()
	}
	return nil
}

// handshakeRate runs 8 clients doing TLS 1.3 handshakes (ECDSA P-256),
// each followed by a one-byte echo from tcp_echo.lua, for d: full ones,
// then resumed ones (session tickets), and prints the rate and the rate
// per CPU-second the server spent.
func handshakeRate(d time.Duration) error {
	w, err := newWorkspace("tlshs")
	if err != nil {
		return err
	}
	defer w.close()
	pool := w.pool
	srv, addr, _, err := w.start("scripts/tcp_echo.lua")
	if err != nil {
		return err
	}
	defer srv.Process.Kill()
	for _, resumed := range []bool{false, true} {
		cache := tls.NewLRUClientSessionCache(64)
		cpu0 := cpuSeconds(srv.Process.Pid)
		start := time.Now()
		counts := make(chan int, 8)
		for range 8 {
			go func() {
				n := 0
				for time.Since(start) < d {
					cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS13}
					if resumed {
						cfg.ClientSessionCache = cache
					}
					c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
					if err != nil {
						continue
					}
					c.SetDeadline(time.Now().Add(10 * time.Second))
					b := []byte{'x'}
					if _, err := c.Write(b); err == nil {
						if _, err := io.ReadFull(c, b); err == nil && c.ConnectionState().DidResume == resumed {
							n++
						}
					}
					c.Close()
				}
				counts <- n
			}()
		}
		total := 0
		for range 8 {
			total += <-counts
		}
		elapsed := time.Since(start).Seconds()
		cpu := cpuSeconds(srv.Process.Pid) - cpu0
		name := "full"
		if resumed {
			name = "resumed"
		}
		fmt.Printf("%-8s handshakes: %6.0f/s, %6.0f per server CPU-second (%d in %.1f s, server CPU %.2f s)\n",
			name, float64(total)/elapsed, float64(total)/cpu, total, elapsed, cpu)
	}
	return nil
}

// echoRate runs n gorilla clients against scripts/echo.lua, each sending a
// 64-byte message and waiting for its echo in a loop, over ws and then
// wss, and prints the messages per server CPU-second.
func echoRate(n int, d time.Duration) error {
	w, err := newWorkspace("tlsecho")
	if err != nil {
		return err
	}
	defer w.close()
	pool := w.pool
	srv, addr, _, err := w.start("scripts/echo.lua")
	if err != nil {
		return err
	}
	defer srv.Process.Kill()
	for _, scheme := range []string{"ws", "wss"} {
		dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}
		var conns []*websocket.Conn
		for range n {
			c, _, err := dialer.Dial(scheme+"://"+addr+"/", nil)
			if err != nil {
				return err
			}
			conns = append(conns, c)
		}
		cpu0 := cpuSeconds(srv.Process.Pid)
		start := time.Now()
		counts := make(chan int, n)
		msg := make([]byte, 64)
		for _, c := range conns {
			go func() {
				k := 0
				for time.Since(start) < d {
					c.SetWriteDeadline(time.Now().Add(10 * time.Second))
					c.SetReadDeadline(time.Now().Add(10 * time.Second))
					if c.WriteMessage(websocket.BinaryMessage, msg) != nil {
						break
					}
					if _, _, err := c.ReadMessage(); err != nil {
						break
					}
					k++
				}
				counts <- k
			}()
		}
		total := 0
		for range conns {
			total += <-counts
		}
		cpu := cpuSeconds(srv.Process.Pid) - cpu0
		fmt.Printf("%-3s %d clients: %7.0f echoes/s, %7.0f per server CPU-second (server CPU %.2f s)\n",
			scheme, n, float64(total)/time.Since(start).Seconds(), float64(total)/cpu, cpu)
		for _, c := range conns {
			c.Close()
		}
	}
	return nil
}

// cpuSeconds is the user and system time the process used so far.
// workspace is a temporary folder holding a freshly built pocketlua and a
// throwaway certificate for localhost.
type workspace struct {
	dir, bin, cert, key string
	pool                *x509.CertPool
}

func newWorkspace(prefix string) (*workspace, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	w := &workspace{dir: dir, bin: filepath.Join(dir, "pocketlua")}
	if out, err := exec.Command("go", "build", "-o", w.bin, "./cmd/pocketlua").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("build: %v\n%s", err, out)
	}
	if w.cert, w.key, w.pool, err = certificate(dir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return w, nil
}

func (w *workspace) close() { os.RemoveAll(w.dir) }

// start runs the server on script with TLS and --metrics on free ports,
// and returns it with its listening and metrics addresses.
func (w *workspace) start(script string, extra ...string) (*exec.Cmd, string, string, error) {
	args := append([]string{"-l", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--tls-cert", w.cert, "--tls-key", w.key}, extra...)
	srv := exec.Command(w.bin, append(args, script)...)
	stderr, _ := srv.StderrPipe()
	if err := srv.Start(); err != nil {
		return nil, "", "", err
	}
	addr, maddr, err := addresses(stderr)
	if err != nil {
		srv.Process.Kill()
		return nil, "", "", err
	}
	go io.Copy(io.Discard, stderr)
	return srv, addr, maddr, nil
}

func cpuSeconds(pid int) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // clock ticks; 100 per second on Linux
}

func errText(err error) string {
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return ""
}

// healthy times one full handshake.
func healthy(addr string, pool *x509.CertPool) (time.Duration, error) {
	start := time.Now()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		return time.Since(start), err
	}
	c.Close()
	return time.Since(start), nil
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)
var metricsLine = regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)

func addresses(r io.Reader) (addr, maddr string, err error) {
	sc := bufio.NewScanner(r)
	for (addr == "" || maddr == "") && sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
		if m := metricsLine.FindStringSubmatch(sc.Text()); m != nil {
			maddr = m[1]
		}
	}
	if addr == "" || maddr == "" {
		return "", "", errors.New("the server did not start")
	}
	return addr, maddr, nil
}

func scrape(maddr string) map[string]float64 {
	out := map[string]float64{}
	res, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + maddr + "/metrics")
	if err != nil {
		return out
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && !strings.HasPrefix(f[0], "#") {
			v, _ := strconv.ParseFloat(f[1], 64)
			out[f[0]] = v
		}
	}
	return out
}

func rssKiB(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// clientHello is what a Go client sends first.
func clientHello() []byte {
	c := &capture{}
	tls.Client(c, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true}).Handshake()
	return c.first
}

type capture struct {
	net.Conn
	first []byte
}

func (c *capture) Write(p []byte) (int, error) {
	if c.first == nil {
		c.first = append([]byte(nil), p...)
	}
	return 0, io.ErrClosedPipe
}
func (c *capture) Read([]byte) (int, error)         { return 0, io.ErrClosedPipe }
func (c *capture) Close() error                     { return nil }
func (c *capture) SetDeadline(time.Time) error      { return nil }
func (c *capture) SetReadDeadline(time.Time) error  { return nil }
func (c *capture) SetWriteDeadline(time.Time) error { return nil }

// certificate writes a self-signed ECDSA P-256 certificate for localhost.
func certificate(dir string) (certFile, keyFile string, pool *x509.CertPool, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return
	}
	leaf, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(leaf)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	return
}
