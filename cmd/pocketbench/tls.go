package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// clientTLS builds the crypto/tls client configuration of a --tls run;
// nil for plaintext. Each connection gets its own session cache only with
// --tls-resume (connect mode), so every other handshake is a full one.
func (c *Config) clientTLS(host string) (*tls.Config, error) {
	if !c.TLS {
		return nil, nil
	}
	// Full-sized records from the first byte: a message of 16 KiB reaches
	// the server as one 16 KiB record, the most its input buffer holds.
	cfg := &tls.Config{InsecureSkipVerify: c.TLSInsecure, ServerName: c.TLSServerName, MinVersion: tls.VersionTLS12,
		DynamicRecordSizingDisabled: true}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if c.TLSCA != "" {
		b, err := os.ReadFile(c.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", c.TLSCA)
		}
	}
	return cfg, nil
}

func (c *Config) validateTLS() error {
	switch {
	case !c.TLS && (c.TLSInsecure || c.TLSCA != "" || c.TLSResume || c.TLSServerName != ""):
		return errors.New("--tls-insecure, --tls-ca, --tls-server-name and --tls-resume need --tls (or a wss:// --url)")
	case c.TLS && c.Raw != "":
		return errors.New("--tls speaks wss; --raw is not supported")
	case c.TLS && c.Mode == "fanout":
		return errors.New("fanout mode does not support --tls")
	case c.TLSResume && c.Mode != "connect":
		return errors.New("--tls-resume applies to connect mode")
	case c.TLSInsecure && c.TLSCA != "":
		return errors.New("--tls-insecure and --tls-ca exclude each other")
	}
	return nil
}

// newTarget is parseTarget plus the TLS settings of cfg.
func newTarget(cfg *Config) (*target, error) {
	t, err := parseTarget(cfg.URL, cfg.Raw, cfg.Sources)
	if err != nil {
		return nil, err
	}
	if t.secure {
		cfg.TLS = true
	}
	if err := cfg.validateTLS(); err != nil {
		return nil, err
	}
	if !cfg.TLS {
		return t, nil
	}
	t.secure = true
	cfg.Loops = 0 // the epoll loops read raw sockets: TLS runs a goroutine per connection
	host, _, err := net.SplitHostPort(t.host)
	if err != nil {
		host = t.host
	}
	t.tls, err = cfg.clientTLS(host)
	return t, err
}

// connect dials connection i and, on a wss target, runs the TLS handshake
// with cfg (the target's when nil), all within timeout.
func (t *target) connect(i int, timeout time.Duration, cfg *tls.Config) (net.Conn, error) {
	c, err := t.dial(i, timeout)
	if err != nil {
		return nil, kerr(errDial, err)
	}
	if !t.secure {
		return c, nil
	}
	if cfg == nil {
		cfg = t.tls
	}
	tc := tls.Client(c, cfg)
	_ = c.SetDeadline(time.Now().Add(timeout))
	if err := tc.Handshake(); err != nil {
		c.Close()
		return nil, kerr(errTLS, err)
	}
	_ = c.SetDeadline(time.Time{})
	return tc, nil
}

// tlsVersionOf names the protocol version of a TLS connection; "" for
// plaintext.
func tlsVersionOf(c net.Conn) string {
	if tc, ok := c.(*tls.Conn); ok {
		return tls.VersionName(tc.ConnectionState().Version)
	}
	return ""
}

// didResume reports whether a TLS connection resumed a session.
func didResume(c net.Conn) bool {
	tc, ok := c.(*tls.Conn)
	return ok && tc.ConnectionState().DidResume
}

// echoOnce sends one binary message (payload, masked into frame's buffer)
// and reads its echo into buf, checking every byte. Idle mode: the buffers
// are lent, the connection keeps none.
func echoOnce(c net.Conn, payload []byte, frame, buf []byte, timeout time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	frame = appendClientFrame(frame[:0], opBinary, payload, idleMask)
	if _, err := c.Write(frame); err != nil {
		return classify(err, "write")
	}
	var fr frameReader
	got := 0
	for range 1 << 16 { // each round reads bytes or fails by the deadline
		n, err := c.Read(buf)
		for b := buf[:n]; len(b) > 0; {
			res, perr := fr.next(b)
			b = b[res.n:]
			if perr != nil {
				return kerr(errProtocol, perr)
			}
			if res.msgOp != 0 && res.msgOp != opBinary {
				return kerr(errEcho, fmt.Errorf("echo has opcode %d, sent %d", res.msgOp, opBinary))
			}
			if len(res.data) > 0 {
				if got+len(res.data) > len(payload) || !bytes.Equal(res.data, payload[got:got+len(res.data)]) {
					return kerr(errEcho, fmt.Errorf("echo of %d bytes differs at or after byte %d", len(payload), got))
				}
				got += len(res.data)
			}
			if res.msgEnd {
				if got != len(payload) {
					return kerr(errEcho, fmt.Errorf("echo of %d bytes came back with %d", len(payload), got))
				}
				if len(b) > 0 {
					return kerr(errProtocol, fmt.Errorf("%d bytes after the echo", len(b)))
				}
				return nil
			}
			if res.ctrl == opClose {
				return kerr(errClosed, fmt.Errorf("server sent close %s instead of the echo", closeText(fr.ctrl[:fr.ctrlN])))
			}
		}
		if err != nil {
			return classify(err, "waiting for the echo")
		}
	}
	return kerr(errEcho, errors.New("no end of the echo"))
}
