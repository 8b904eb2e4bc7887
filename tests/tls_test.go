package tests

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// tlsInfo is what tests/testdata/tls/app.lua's GET /info answers.
type tlsInfo struct {
	Scheme          string `json:"scheme"`
	TLS             bool   `json:"tls"`
	Version         string `json:"version"`
	Cipher          string `json:"cipher"`
	ServerName      string `json:"server_name"`
	ALPN            string `json:"alpn"`
	Resumed         bool   `json:"resumed"`
	PeerSubject     string `json:"peer_subject"`
	PeerIssuer      string `json:"peer_issuer"`
	PeerNotAfter    int64  `json:"peer_not_after"`
	PeerFingerprint string `json:"peer_fingerprint"`
	Peer            string `json:"peer"` // conn.peer
}

func decodeInfo(t *testing.T, body string) tlsInfo {
	t.Helper()
	var info tlsInfo
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatalf("GET /info: %v in %q", err, body)
	}
	return info
}

// getInfo asks GET /info over a Go HTTPS client with cfg; safe from any
// goroutine.
func getInfo(t *testing.T, addr string, cfg *tls.Config) (tlsInfo, error) {
	c := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
	res, err := c.Get("https://" + addr + "/info")
	if err != nil {
		return tlsInfo{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return tlsInfo{}, err
	}
	var info tlsInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return tlsInfo{}, fmt.Errorf("GET /info: %v in %q", err, b)
	}
	return info, nil
}

// infoOver asks GET /info on c, an established TLS connection, and reads
// the answer.
func infoOver(t *testing.T, c net.Conn) tlsInfo {
	t.Helper()
	fmt.Fprintf(c, "GET /info HTTP/1.1\r\nHost: localhost\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET /info: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return decodeInfo(t, string(body))
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// TestTLSOnePort: https (curl, openssl s_client), wss (gorilla) and
// plaintext HTTP and ws on one port at the same time; TLS 1.0 and 1.1
// offers refused.
func TestTLSOnePort(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, testdata(t, "tls/app.lua"))
	p := port(srv.Addr)

	// curl over TLS, with SNI, and over plaintext on the same port.
	_, body := httpStatus(t, "https://localhost:"+p+"/info", "--cacert", pki.caFile, "--resolve", "localhost:"+p+":127.0.0.1")
	info := decodeInfo(t, body)
	if !info.TLS || info.Scheme != "https" || info.ServerName != "localhost" || info.ALPN != "http/1.1" || info.Version != "TLS 1.3" || info.Cipher == "" {
		t.Fatalf("curl https: /info = %+v", info)
	}
	if code, body := httpStatus(t, "http://"+srv.Addr+"/info"); code != 200 || !strings.HasPrefix(decodeInfo(t, body).Peer, "127.0.0.1:") || decodeInfo(t, body).TLS {
		t.Fatalf("curl http: %d %s", code, body)
	}

	// wss and ws open together, messages interleaved; a large message
	// spans many TLS records.
	wss, _, err := (&websocket.Dialer{TLSClientConfig: pki.clientConfig("localhost"), HandshakeTimeout: 10 * time.Second}).Dial("wss://"+srv.Addr+"/echo", nil)
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	defer wss.Close()
	plain, _, err := (&websocket.Dialer{HandshakeTimeout: 10 * time.Second}).Dial("ws://"+srv.Addr+"/echo", nil)
	if err != nil {
		t.Fatalf("ws dial: %v", err)
	}
	defer plain.Close()
	big := bytes.Repeat([]byte("0123456789abcdef"), 40<<10/16*10) // 400 KiB
	for i, msg := range [][]byte{[]byte("one"), big, []byte("three")} {
		for _, c := range []*websocket.Conn{wss, plain} {
			c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
				t.Fatalf("message %d: write: %v", i, err)
			}
		}
		for name, c := range map[string]*websocket.Conn{"wss": wss, "ws": plain} {
			_, got, err := c.ReadMessage()
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("%s message %d: echo of %d bytes, got %d (%v)", name, i, len(msg), len(got), err)
			}
		}
	}

	// Compressed (permessage-deflate) over wss.
	zd := &websocket.Dialer{TLSClientConfig: pki.clientConfig("localhost"), HandshakeTimeout: 10 * time.Second, EnableCompression: true}
	zc, res, err := zd.Dial("wss://"+srv.Addr+"/echo", nil)
	if err != nil {
		t.Fatalf("wss with deflate: %v", err)
	}
	if ext := res.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Fatalf("deflate not agreed: %q", ext)
	}
	for _, n := range []int{10, 1000, 100 << 10} {
		if err := wsGorillaEcho(zc, websocket.TextMessage, wsPattern(n)); err != nil {
			t.Fatalf("deflate over wss, %d bytes: %v", n, err)
		}
	}
	zc.Close()

	// openssl s_client speaks HTTP over the same port.
	out := openssl(t, "GET /info HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
		"s_client", "-connect", srv.Addr, "-servername", "localhost", "-CAfile", pki.caFile, "-verify_return_error", "-quiet")
	if !strings.Contains(out, "HTTP/1.1 200") || !strings.Contains(out, `"scheme":"https"`) {
		t.Fatalf("openssl s_client: %s", out)
	}

	// TLS 1.0 and 1.1 offers are refused with an alert.
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		cfg := pki.clientConfig("localhost")
		cfg.MinVersion, cfg.MaxVersion = v, v
		if _, err := getInfo(t, srv.Addr, cfg); err == nil || !strings.Contains(err.Error(), "protocol version") {
			t.Fatalf("%s offer: want a protocol version alert, got %v", tls.VersionName(v), err)
		}
	}
	out = openssl(t, "", "s_client", "-connect", srv.Addr, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
	if !strings.Contains(out, "Cipher is (NONE)") || !strings.Contains(out, "alert protocol version") {
		t.Fatalf("openssl -tls1_1: want a refused handshake, got:\n%s", out)
	}

	// A renegotiation attempt (openssl's R command, TLS 1.2) is refused
	// with an alert and the connection ends.
	out = openssl(t, "R\n", "s_client", "-connect", srv.Addr, "-tls1_2", "-servername", "localhost", "-CAfile", pki.caFile)
	if !strings.Contains(out, "RENEGOTIATING") || !strings.Contains(out, "alert unexpected message") {
		t.Fatalf("renegotiation: want it refused with an alert, got:\n%s", out)
	}

	// TLS 1.2 is served; sessions resume, in 1.2 and 1.3.
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := pki.clientConfig("localhost")
		cfg.MaxVersion = v
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		for i := range 2 {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", srv.Addr, cfg)
			if err != nil {
				t.Fatalf("%s: %v", tls.VersionName(v), err)
			}
			// A round trip, so the TLS 1.3 ticket (sent after the handshake) is read.
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if info := infoOver(t, c); info.Resumed != (i == 1) {
				t.Fatalf("%s connection %d: conn.tls.resumed %v", tls.VersionName(v), i, info.Resumed)
			}
			st := c.ConnectionState()
			if st.Version != v || st.DidResume != (i == 1) {
				t.Fatalf("%s connection %d: version %s, resumed %v", tls.VersionName(v), i, tls.VersionName(st.Version), st.DidResume)
			}
			c.Close()
		}
	}

	// A client that stays silent past the sniff wait gets start() in
	// plaintext; its ClientHello is still recognised while nothing was sent.
	late, err := net.DialTimeout("tcp", srv.Addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond)
	lateTLS := tls.Client(late, pki.clientConfig("localhost"))
	lateTLS.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(lateTLS, "GET /info HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	lateBody, err := io.ReadAll(lateTLS)
	if err != nil || !strings.Contains(string(lateBody), `"scheme":"https"`) {
		t.Fatalf("a late ClientHello: %v %q", err, lateBody)
	}
	late.Close()

	// A record longer than TLS allows, after the handshake: the server
	// answers with an alert and closes.
	raw, err := net.DialTimeout("tcp", srv.Addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tc := tls.Client(raw, pki.clientConfig("localhost"))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	raw.Write(append([]byte{0x17, 0x03, 0x03, 0x48, 0x01}, make([]byte, 64)...))
	tc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := tc.Read(make([]byte, 10)); err == nil || !strings.Contains(err.Error(), "record overflow") {
		t.Fatalf("an oversized record: want a record_overflow alert, got %v", err)
	}
	srv.stop()
}

// openssl runs the openssl command with input on stdin and returns what
// it printed (stdout and stderr), whatever its exit status.
func openssl(t *testing.T, input string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl not found: install Debian's openssl package (tests/deps)")
	}
	cmd := exec.Command("openssl", args...)
	cmd.Stdin = strings.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan struct{})
	go func() { cmd.Run(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("openssl %q did not finish; output:\n%s", args, out.String())
	}
	return out.String()
}

// TestTLSSNIAndClientCertificates: the certificate is chosen by SNI (the
// first pair by default); client certificates are verified against
// --tls-client-ca, reach Lua as conn.tls.peer, and are required or
// optional as --tls-client-auth says.
func TestTLSSNIAndClientCertificates(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	otherCert, otherKey, _ := pki.issue(t, "other", "other.test", false)
	clientCert, clientKey, clientLeaf := pki.issue(t, "client", "alice", true)
	pair, err := tls.LoadX509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	stranger := newTestPKI(t) // a CA the server does not trust
	sCert, sKey, _ := stranger.issue(t, "mallory", "mallory", true)
	strangerPair, err := tls.LoadX509KeyPair(sCert, sKey)
	if err != nil {
		t.Fatal(err)
	}
	withCert := func(name string, c tls.Certificate) *tls.Config {
		cfg := pki.clientConfig(name)
		cfg.Certificates = []tls.Certificate{c}
		return cfg
	}

	for _, mode := range []string{"required", "optional"} {
		t.Run(mode, func(t *testing.T) {
			srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, "--tls-cert", otherCert, "--tls-key", otherKey,
				"--tls-client-ca", pki.caFile, "--tls-client-auth", mode, testdata(t, "tls/app.lua"))
			// SNI: each name gets its own certificate; no name, the first.
			for name, want := range map[string]string{"localhost": "localhost", "other.test": "other.test", "": "localhost"} {
				c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", srv.Addr,
					&tls.Config{ServerName: name, InsecureSkipVerify: true, Certificates: []tls.Certificate{pair}})
				if err != nil {
					t.Fatalf("SNI %q: %v", name, err)
				}
				if got := c.ConnectionState().PeerCertificates[0].Subject.CommonName; got != want {
					t.Errorf("SNI %q: certificate for %q, want %q", name, got, want)
				}
				c.Close()
			}
			info, err := getInfo(t, srv.Addr, withCert("other.test", pair))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(clientLeaf.Raw)
			if info.ServerName != "other.test" || !strings.Contains(info.PeerSubject, "CN=alice") ||
				!strings.Contains(info.PeerIssuer, "pocketlua test CA") || info.PeerFingerprint != hex.EncodeToString(sum[:]) ||
				info.PeerNotAfter != clientLeaf.NotAfter.Unix() {
				t.Fatalf("with a client certificate: /info = %+v", info)
			}
			if _, err := getInfo(t, srv.Addr, withCert("localhost", strangerPair)); err == nil {
				t.Fatal("a client certificate from an unknown CA was accepted")
			}
			info, err = getInfo(t, srv.Addr, pki.clientConfig("localhost"))
			switch {
			case mode == "required" && err == nil:
				t.Fatal("no client certificate, yet served under --tls-client-auth required")
			case mode == "optional" && err != nil:
				t.Fatalf("no client certificate under optional: %v", err)
			case mode == "optional" && (info.PeerSubject != "" || !info.TLS):
				t.Fatalf("no client certificate: /info = %+v", info)
			}
			srv.stop()
		})
	}
}

// TestTLSRequired: --tls-required closes plaintext connections unserved
// and counts them; TLS goes on.
func TestTLSRequired(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, "--tls-required", "--metrics", "127.0.0.1:0", testdata(t, "tls/app.lua"))
	maddr := metricsAddr(t, srv.Logs)
	if r := runCurl(t, "http://"+srv.Addr+"/info"); r.code == 0 || r.stdout != "" {
		t.Fatalf("plaintext under --tls-required: curl exit %d, %q", r.code, r.stdout)
	}
	if info, err := getInfo(t, srv.Addr, pki.clientConfig("localhost")); err != nil || !info.TLS {
		t.Fatalf("https under --tls-required: %+v %v", info, err)
	}
	m := scrape(t, maddr)
	refused, ok := m.value(t, "pocketlua_tls_plaintext_refused_total", "worker=1"), m.value(t, "pocketlua_tls_handshakes_total", "worker=1", "result=ok")
	if refused != 1 || ok != 1 {
		t.Fatalf("metrics: plaintext refused %v, handshakes ok %v", refused, ok)
	}
	srv.stop()
}

// TestTLSHostileClients: half ClientHellos cost no goroutine and are
// dropped at the handshake timeout; whole ones that stall hold one
// handshake each, capped by --tls-max-startups, and a healthy client is
// served meanwhile; garbage after a ClientHello, a record too long and a
// handshake message that is no ClientHello are closed and counted.
func TestTLSHostileClients(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	const maxStartups = 20
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, "--tls-required", "--tls-handshake-timeout", "3s",
		"--tls-max-startups", fmt.Sprint(maxStartups), "--max-conns", "2000", "--metrics", "127.0.0.1:0", testdata(t, "tls/app.lua"))
	maddr := metricsAddr(t, srv.Logs)
	metric := func(name string, labels ...string) float64 { return scrape(t, maddr).value(t, name, labels...) }
	base := metric("go_goroutines")
	hello := clientHello(t, "localhost")
	dial := func(payload []byte) net.Conn {
		c, err := net.DialTimeout("tcp", srv.Addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write(payload); err != nil {
			t.Fatal(err)
		}
		return c
	}

	// Garbage after a whole ClientHello: the handshake fails, the
	// connection closes. A record too long and a handshake message that
	// is no ClientHello are closed without a handshake.
	garbage := dial(append(append([]byte(nil), hello...), bytes.Repeat([]byte{0xff}, 64)...))
	tooLong := dial([]byte{0x16, 0x03, 0x01, 0xff, 0xff})
	notHello := dial([]byte{0x16, 0x03, 0x01, 0x00, 0x06, 0x02, 0x00, 0x00, 0x02, 0x03, 0x03})
	for name, c := range map[string]net.Conn{"garbage": garbage, "too long": tooLong, "not a ClientHello": notHello} {
		if n := readUntilClosed(t, c); n != 0 && name != "garbage" {
			t.Fatalf("%s: %d bytes of answer", name, n)
		}
	}

	const half = 300
	var halves []net.Conn
	for range half {
		halves = append(halves, dial(hello[:len(hello)/2]))
	}
	var stalled []net.Conn
	for range maxStartups - 1 {
		stalled = append(stalled, dial(hello))
	}
	inFlight := func() float64 { return metric("pocketlua_tls_handshakes_in_flight", "worker=1") }
	waitFor(t, 10*time.Second, "the stalled handshakes in flight", func() bool { return inFlight() == maxStartups-1 })
	// One goroutine per handshake (plus the few parked between
	// handshakes, two per CPU at most), none for the half ClientHellos.
	if g := metric("go_goroutines"); g > base+maxStartups+2*float64(runtime.NumCPU())+10 {
		t.Fatalf("%v goroutines with %d half ClientHellos and %d stalled handshakes; %v before", g, half, maxStartups-1, base)
	}
	if info, err := getInfo(t, srv.Addr, pki.clientConfig("localhost")); err != nil || !info.TLS {
		t.Fatalf("a healthy client among stalled ones: %+v %v", info, err)
	}
	// The last slot, then a drop: closed before any answer.
	stalled = append(stalled, dial(hello))
	waitFor(t, 10*time.Second, "a full handshake table", func() bool { return inFlight() == maxStartups })
	dropped := dial(hello)
	if n := readUntilClosed(t, dropped); n != 0 {
		t.Fatalf("a ClientHello over --tls-max-startups got %d bytes of answer", n)
	}

	// At the timeout every stalled connection is closed and the
	// goroutines are gone.
	for i, c := range append(halves[:10:10], stalled...) {
		readUntilClosed(t, c)
		_ = i
	}
	waitFor(t, 20*time.Second, "no handshake in flight", func() bool { return inFlight() == 0 })
	m := scrape(t, maddr)
	for _, c := range []struct {
		name, label string
		want        float64
	}{
		{"pocketlua_tls_handshakes_dropped_total", "", 1},
		{"pocketlua_tls_handshakes_total", "result=malformed", 2},
		{"pocketlua_tls_handshakes_total", "result=ok", 1},
		{"pocketlua_tls_handshakes_total", "result=timeout", half + maxStartups},
		{"pocketlua_tls_handshakes_total", "result=failed", 1},
		{"pocketlua_tls_plaintext_refused_total", "", 0},
	} {
		labels := []string{"worker=1"}
		if c.label != "" {
			labels = append(labels, c.label)
		}
		if got := m.value(t, c.name, labels...); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.label, got, c.want)
		}
	}
	srv.stop()
}

// readUntilClosed reads c until the server closes it (at most 15 s) and
// returns how many bytes came.
func readUntilClosed(t *testing.T, c net.Conn) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after 15 s (%d bytes read)", n)
	}
	return int(n)
}

// TestTLSCertificateReload: SIGHUP reads the certificate files again: a
// connection open across the reload goes on, a new handshake gets the new
// certificate, and a bad file keeps the pair in use and says why. Under
// load: handshakes go on and wss connections keep echoing across it.
func TestTLSCertificateReload(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, first := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, testdata(t, "tls/app.lua"))
	serial := func() string { return pki.servedSerial(t, srv.Addr) }
	if got := serial(); got != first.SerialNumber.String() {
		t.Fatalf("serial %s, want %s", got, first.SerialNumber)
	}
	open, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", srv.Addr, pki.clientConfig("localhost"))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	br := bufio.NewReader(open)
	request := func() {
		t.Helper()
		open.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(open, "GET /info HTTP/1.1\r\nHost: localhost\r\n\r\n")
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request on the open connection: %v", err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
	}
	request()

	// Clients keep handshaking and asking while the certificate changes,
	// and wss connections opened before it keep echoing: none of them fails.
	stop := make(chan struct{})
	loadErrs := make(chan error, 8)
	var done sync.WaitGroup
	for range 3 {
		ws, _, err := (&websocket.Dialer{TLSClientConfig: pki.clientConfig("localhost"), HandshakeTimeout: 10 * time.Second}).Dial("wss://"+srv.Addr+"/echo", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		done.Add(1)
		go func() {
			defer done.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					if err := wsGorillaClose(ws, 1000, ""); err != nil && !websocket.IsCloseError(err, 1000) {
						loadErrs <- fmt.Errorf("wss close after the reload: %w", err)
					}
					return
				default:
				}
				if err := wsGorillaEcho(ws, websocket.TextMessage, wsPattern(100+i%5000)); err != nil {
					loadErrs <- fmt.Errorf("wss echo %d across the reload: %w", i, err)
					return
				}
			}
		}()
	}
	for range 4 {
		done.Add(1)
		go func() {
			defer done.Done()
			cfg := pki.clientConfig("localhost")
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := getInfo(t, srv.Addr, cfg); err != nil {
					loadErrs <- err
					return
				}
			}
		}()
	}
	_, _, second := pki.issue(t, "server", "localhost", false) // the same files, new contents
	srv.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, "the reload line", func() bool { return strings.Contains(srv.Logs(), "tls certificates reloaded") })
	time.Sleep(200 * time.Millisecond) // more handshakes, with the new certificate
	close(stop)
	done.Wait()
	close(loadErrs)
	for err := range loadErrs {
		t.Fatalf("a client under reload: %v", err)
	}
	if got := serial(); got != second.SerialNumber.String() {
		t.Fatalf("after SIGHUP: serial %s, want %s", got, second.SerialNumber)
	}
	request()

	if err := os.WriteFile(key, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, "the failed reload line", func() bool {
		return strings.Contains(srv.Logs(), "tls reload failed") && strings.Contains(srv.Logs(), key)
	})
	if got := serial(); got != second.SerialNumber.String() {
		t.Fatalf("after a bad key: serial %s, want %s still", got, second.SerialNumber)
	}
	request()
	srv.stop()
}

// TestTLSReloadOffLoop: SIGHUP reads the certificate files off the
// loop: while the certificate file blocks (a FIFO nobody writes yet, as a
// stalled disk would), the worker goes on serving handshakes and requests;
// once the file can be read, the new pair is in use.
func TestTLSReloadOffLoop(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, first := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, testdata(t, "tls/app.lua"))
	nextCert, nextKey, second := pki.issue(t, "next", "localhost", false)
	if err := os.Remove(cert); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(cert, 0o600); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, "the script reload", func() bool { return strings.Contains(srv.Logs(), "msg=reloaded") })
	for range 3 {
		if info, err := getInfo(t, srv.Addr, pki.clientConfig("localhost")); err != nil || !info.TLS {
			t.Fatalf("a request while the reload waits for its file: %+v %v", info, err)
		}
	}
	if got := pki.servedSerial(t, srv.Addr); got != first.SerialNumber.String() {
		t.Fatalf("serial %s while the reload waits, want %s", got, first.SerialNumber)
	}
	if err := os.Rename(nextKey, key); err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(nextCert)
	if err != nil {
		t.Fatal(err)
	}
	fifo, err := os.OpenFile(cert, os.O_WRONLY, 0) // waits for the reload to open it
	if err != nil {
		t.Fatal(err)
	}
	fifo.Write(pem)
	fifo.Close()
	waitFor(t, 10*time.Second, "the reload line", func() bool { return strings.Contains(srv.Logs(), "tls certificates reloaded") })
	if got := pki.servedSerial(t, srv.Addr); got != second.SerialNumber.String() {
		t.Fatalf("after the file came: serial %s, want %s", got, second.SerialNumber)
	}
	srv.stop()
}

// TestTLSWatchReload: under --watch a changed certificate file is read
// again without reloading the script.
func TestTLSWatchReload(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, first := pki.issue(t, "server", "localhost", false)
	script := scriptFrom(t, "", "tls/app.lua", nil)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, "--watch", script)
	serial := func() string { return pki.servedSerial(t, srv.Addr) }
	if got := serial(); got != first.SerialNumber.String() {
		t.Fatalf("serial %s, want %s", got, first.SerialNumber)
	}
	_, _, second := pki.issue(t, "server", "localhost", false)
	waitFor(t, 10*time.Second, "the watch reload", func() bool {
		return strings.Contains(srv.Logs(), `msg="tls certificates reloaded" trigger=watch`)
	})
	if got := serial(); got != second.SerialNumber.String() {
		t.Fatalf("after the change: serial %s, want %s", got, second.SerialNumber)
	}
	if strings.Contains(srv.Logs(), "msg=reloaded") {
		t.Fatalf("a certificate change reloaded the script:\n%s", srv.Logs())
	}
	srv.stop()
}

// TestTLSHTTPSRedirect: httpd.lua's https_redirect answers plaintext with
// 308 to the same URL over https (same port), and https responses carry
// Strict-Transport-Security; curl -L follows it.
func TestTLSHTTPSRedirect(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, testdata(t, "tls/redirect.lua"))
	p := port(srv.Addr)
	resolve := []string{"--cacert", pki.caFile, "--resolve", "localhost:" + p + ":127.0.0.1"}
	r := curlOK(t, append(resolve, "--include", "http://localhost:"+p+"/hello?x=1")...)
	if !strings.HasPrefix(r.stdout, "HTTP/1.1 308") || !strings.Contains(r.stdout, "Location: https://localhost:"+p+"/hello?x=1\r\n") ||
		strings.Contains(r.stdout, "Strict-Transport-Security") {
		t.Fatalf("plaintext request: %q", r.stdout)
	}
	r = curlOK(t, append(resolve, "--include", "--location", "http://localhost:"+p+"/hello")...)
	if !strings.Contains(r.stdout, "Strict-Transport-Security: max-age=600\r\n") || !strings.HasSuffix(r.stdout, "hello over https\n") {
		t.Fatalf("followed to https: %q", r.stdout)
	}
	srv.stop()

	// Without a certificate there is nowhere to send them: served, and said once.
	srv = startServer(t, "", testdata(t, "tls/redirect.lua"))
	for range 2 {
		if code, body := httpStatus(t, "http://"+srv.Addr+"/hello"); code != 200 || body != "hello over http\n" {
			t.Fatalf("https_redirect without --tls-cert: %d %q", code, body)
		}
	}
	if n := strings.Count(srv.Logs(), "https_redirect is set but no certificate"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, srv.Logs())
	}
	srv.stop()
}

// TestTLSScriptListeners: socket_bind with tls = true serves TLS beside
// plaintext like a --listen port; a script listener without it stays
// plaintext, where mux.lua's Mux.tls route refuses a ClientHello.
func TestTLSScriptListeners(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, testdata(t, "tls/bind.lua"))
	m := regexp.MustCompile(`script_listeners=(\S+),(\S+)`).FindStringSubmatch(srv.Logs())
	if m == nil {
		t.Fatalf("no script listeners in the startup line:\n%s", srv.Logs())
	}
	withTLS, plain := m[1], m[2]
	if info, err := getInfo(t, withTLS, pki.clientConfig("localhost")); err != nil || !info.TLS {
		t.Fatalf("socket_bind with tls: %+v %v", info, err)
	}
	if _, err := getInfo(t, plain, pki.clientConfig("localhost")); err == nil || !strings.Contains(err.Error(), "handshake failure") {
		t.Fatalf("plaintext socket_bind: want Mux.RefuseTLS's alert, got %v", err)
	}
	for _, addr := range []string{withTLS, plain} {
		if code, body := httpStatus(t, "http://"+addr+"/info"); code != 200 || decodeInfo(t, body).TLS {
			t.Fatalf("plaintext on %s: %d %s", addr, code, body)
		}
	}
	srv.stop()
}

// TestTLSWorkers: with --workers 2 every worker serves TLS with the one
// certificate store, and a SIGHUP reload reaches handshakes on both.
func TestTLSWorkers(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--workers", "2", "--tls-cert", cert, "--tls-key", key, testdata(t, "tls/app.lua"))
	serials := func() map[string]bool {
		seen := map[string]bool{}
		for range 20 {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", srv.Addr, pki.clientConfig("localhost"))
			if err != nil {
				t.Fatal(err)
			}
			seen[c.ConnectionState().PeerCertificates[0].SerialNumber.String()] = true
			c.Close()
		}
		return seen
	}
	before := serials()
	_, _, second := pki.issue(t, "server", "localhost", false)
	srv.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, "the reload line", func() bool { return strings.Contains(srv.Logs(), "tls certificates reloaded") })
	after := serials()
	if len(before) != 1 || len(after) != 1 || !after[second.SerialNumber.String()] {
		t.Fatalf("serials before %v, after %v (want only %s)", before, after, second.SerialNumber)
	}
	if n := strings.Count(srv.Logs(), "tls certificates reloaded"); n != 1 {
		t.Fatalf("the certificates were read %d times for one SIGHUP", n)
	}
	srv.stop()
}

// TestTLSLifecycle: on a TLS port accept(info) runs at once, start()
// after the handshake (with conn.tls), and a connection that goes before
// its handshake is through gets no start() and so no closed().
func TestTLSLifecycle(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	srv := startServer(t, "", "--tls-cert", cert, "--tls-key", key, testdata(t, "tls/lifecycle.lua"))
	events := func(id int) []string {
		var out []string
		for _, m := range regexp.MustCompile(`msg=event .*name=(\w+) id=`+strconv.Itoa(id)+`\b(.*)`).FindAllStringSubmatch(srv.Logs(), -1) {
			out = append(out, m[1]+strings.TrimRight(m[2], " "))
		}
		return out
	}
	half, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	half.Write(clientHello(t, "localhost")[:50])
	waitFor(t, 10*time.Second, "accept of the first", func() bool { return len(events(1)) == 1 })
	half.Close()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", srv.Addr, pki.clientConfig("localhost"))
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("ping"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitFor(t, 10*time.Second, "closed of the second", func() bool { return len(events(2)) == 3 })
	if got := strings.Join(events(1), "; "); got != "accept" {
		t.Errorf("half a ClientHello, then gone: %s", got)
	}
	if got := strings.Join(events(2), "; "); got != `accept; start tls=true; closed reason="peer closed"` {
		t.Errorf("a TLS connection: %s", got)
	}
	srv.stop()
}

// TestTLSBadFilesAtStartup: a missing or unreadable certificate stops the
// server at once with a message naming the file.
func TestTLSBadFilesAtStartup(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", "localhost", false)
	junk := pki.dir + "/junk.pem"
	os.WriteFile(junk, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n"), 0o600)
	for name, args := range map[string][]string{
		"missing cert": {"--tls-cert", pki.dir + "/nope.pem", "--tls-key", key},
		"junk cert":    {"--tls-cert", junk, "--tls-key", key},
		"missing CA":   {"--tls-cert", cert, "--tls-key", key, "--tls-client-ca", pki.dir + "/noca.pem", "--tls-client-auth", "required"},
	} {
		cmd := exec.Command(binary, append(args, "-l", "127.0.0.1:0")...)
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Fatalf("%s: want exit 1, got %v: %s", name, err, out)
		}
		if want := args[1]; name == "missing CA" && !strings.Contains(string(out), pki.dir+"/noca.pem") || name != "missing CA" && !strings.Contains(string(out), want) {
			t.Fatalf("%s: the message does not name the file: %s", name, out)
		}
	}
	cmd := exec.Command(binary, "--tls-cert", cert, "-l", "127.0.0.1:0")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "--tls-key") {
		t.Fatalf("a cert without a key: %v %s", err, out)
	}
}
