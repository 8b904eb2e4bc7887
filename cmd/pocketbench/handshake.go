package main

import (
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"time"
)

// target is where the load goes: a ws:// URL or a raw host:port.
type target struct {
	raw     bool
	addr    *net.TCPAddr
	host    string // Host header value
	path    string // request target (path + query)
	sources []*net.TCPAddr

	secure bool        // wss: TLS before the upgrade
	tls    *tls.Config // the client's; per connection a clone with --tls-resume
}

// parseTarget resolves the destination and refuses anything but loopback:
// pocketbench is a local benchmark tool, never a load generator for other hosts.
func parseTarget(wsURL, raw string, sources int) (*target, error) {
	t := &target{}
	hostport := raw
	if raw != "" {
		t.raw = true
	} else {
		u, err := url.Parse(wsURL)
		if err != nil {
			return nil, fmt.Errorf("--url: %v", err)
		}
		switch u.Scheme {
		case "ws":
		case "wss":
			t.secure = true
		default:
			return nil, fmt.Errorf("--url: scheme %q not supported (ws:// or wss://)", u.Scheme)
		}
		hostport = u.Host
		if u.Port() == "" {
			port := "80"
			if t.secure {
				port = "443"
			}
			hostport = net.JoinHostPort(u.Hostname(), port)
		}
		t.host = u.Host
		t.path = u.RequestURI()
	}
	addr, err := net.ResolveTCPAddr("tcp", hostport)
	if err != nil {
		return nil, fmt.Errorf("target %q: %v", hostport, err)
	}
	if !addr.IP.IsLoopback() {
		return nil, fmt.Errorf("target %s is not a loopback address; pocketbench only targets 127.0.0.0/8 and ::1", addr)
	}
	t.addr = addr
	// Spreading over 127.0.0.1..N multiplies the ~28k ephemeral ports per
	// source address; it only applies to an IPv4 loopback target.
	if sources > 1 && addr.IP.To4() != nil {
		if sources > 254 {
			return nil, fmt.Errorf("--sources %d: at most 254", sources)
		}
		for i := 1; i <= sources; i++ {
			t.sources = append(t.sources, &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(i))})
		}
	}
	return t, nil
}

// dial opens connection number i, bound to its source address.
func (t *target) dial(i int, timeout time.Duration) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: timeout}
	if len(t.sources) > 0 {
		d.LocalAddr = t.sources[i%len(t.sources)]
	}
	c, err := d.Dial("tcp", t.addr.String())
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	_ = tc.SetNoDelay(true)
	return tc, nil
}

const (
	wsGUID          = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
	maxResponseHead = 8 << 10
)

var errHandshakeTooLarge = errors.New("handshake response head larger than 8 KiB")

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// handshake performs the client side of the opening handshake on c. It
// returns any bytes the server sent after the response head (the start of
// the first frame), which belong to the frame stream.
func (t *target) handshake(c net.Conn, buf []byte) (rest []byte, err error) {
	var k [16]byte
	for i := range k {
		k[i] = byte(rand.Uint32())
	}
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET " + t.path + " HTTP/1.1\r\nHost: " + t.host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		return nil, err
	}
	if cap(buf) < maxResponseHead {
		buf = make([]byte, maxResponseHead)
	}
	buf = buf[:maxResponseHead]
	n := 0
	for n < len(buf) { // bounded by the buffer size and the connection deadline
		m, err := c.Read(buf[n:])
		n += m
		if i := bytes.Index(buf[:n], []byte("\r\n\r\n")); i >= 0 {
			if err := checkResponse(buf[:i], key); err != nil {
				return nil, err
			}
			return buf[i+4 : n], nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading handshake response: %w", err)
		}
	}
	return nil, errHandshakeTooLarge
}

// checkResponse validates the status line, Upgrade, Connection and
// Sec-WebSocket-Accept of a response head (without the final CRLFCRLF).
func checkResponse(head []byte, key string) error {
	lines := strings.Split(string(head), "\r\n")
	status := strings.SplitN(lines[0], " ", 3)
	if len(status) < 2 || !strings.HasPrefix(status[0], "HTTP/1.") || status[1] != "101" {
		return fmt.Errorf("handshake: want 101, got %q", lines[0])
	}
	var upgrade, connection, accept bool
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return fmt.Errorf("handshake: malformed header line %q", l)
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "upgrade":
			upgrade = strings.EqualFold(value, "websocket")
		case "connection":
			for _, tok := range strings.Split(value, ",") {
				if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
					connection = true
				}
			}
		case "sec-websocket-accept":
			if value != acceptKey(key) {
				return fmt.Errorf("handshake: Sec-WebSocket-Accept %q, want %q", value, acceptKey(key))
			}
			accept = true
		case "sec-websocket-extensions":
			return fmt.Errorf("handshake: server negotiated extensions %q that were not offered", value)
		}
	}
	switch {
	case !upgrade:
		return errors.New("handshake: missing Upgrade: websocket")
	case !connection:
		return errors.New("handshake: missing Connection: Upgrade")
	case !accept:
		return errors.New("handshake: missing Sec-WebSocket-Accept")
	}
	return nil
}

func (t *target) String() string {
	if t.raw {
		return "tcp://" + t.addr.String()
	}
	if t.secure {
		return "wss://" + t.host + t.path
	}
	return "ws://" + t.host + t.path
}
