package transport

import (
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"
)

// goClientHello is what a Go client sends first.
func goClientHello(t *testing.T) []byte {
	t.Helper()
	c := &capture{}
	tls.Client(c, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true}).Handshake()
	return c.first
}

type capture struct {
	net.Conn
	first []byte
}

var errCaptured = errors.New("captured")

func (c *capture) Write(p []byte) (int, error) {
	if c.first == nil {
		c.first = append([]byte(nil), p...)
	}
	return 0, errCaptured
}
func (c *capture) Read([]byte) (int, error)         { return 0, errCaptured }
func (c *capture) Close() error                     { return nil }
func (c *capture) SetDeadline(time.Time) error      { return nil }
func (c *capture) SetReadDeadline(time.Time) error  { return nil }
func (c *capture) SetWriteDeadline(time.Time) error { return nil }

func TestClientHelloComplete(t *testing.T) {
	hello := goClientHello(t)
	for i := 0; i < len(hello); i++ {
		if whole, err := ClientHelloComplete(hello[:i]); whole || err != nil {
			t.Fatalf("%d of %d bytes: whole=%v err=%v", i, len(hello), whole, err)
		}
	}
	if whole, err := ClientHelloComplete(append(hello, 0xff, 0xff)); !whole || err != nil {
		t.Fatalf("whole ClientHello and more: %v %v", whole, err)
	}
	// The same message split over two handshake records, as a client may.
	body := hello[5:]
	split := append([]byte{0x16, 0x03, 0x01, 0x00, 10}, body[:10]...)
	rest := body[10:]
	split = append(split, 0x16, 0x03, 0x01, byte(len(rest)>>8), byte(len(rest)))
	split = append(split, rest...)
	for i := 0; i < len(split); i++ {
		if whole, err := ClientHelloComplete(split[:i]); whole || err != nil {
			t.Fatalf("split, %d bytes: whole=%v err=%v", i, whole, err)
		}
	}
	if whole, err := ClientHelloComplete(split); !whole || err != nil {
		t.Fatalf("split: %v %v", whole, err)
	}
	for name, bad := range map[string][]byte{
		"alert record":       {0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28},
		"not TLS 3.x":        {0x16, 0x02, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00},
		"empty record":       {0x16, 0x03, 0x01, 0x00, 0x00},
		"record too long":    {0x16, 0x03, 0x01, 0xff, 0xff},
		"ServerHello":        {0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00},
		"message over 16KiB": {0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x01, 0x00, 0x01},
	} {
		if _, err := ClientHelloComplete(bad); err != ErrNotClientHello {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestLooksLikeTLS(t *testing.T) {
	for _, c := range []struct {
		in        string
		tls, more bool
	}{
		{"", false, true},
		{"\x16", false, true},
		{"\x16\x03", true, false},
		{"\x16\x01", false, false},
		{"GET / HTTP/1.1", false, false},
		{"SSH-2.0-", false, false},
	} {
		tls, more := LooksLikeTLS([]byte(c.in))
		if tls != c.tls || more != c.more {
			t.Errorf("%q: %v %v, want %v %v", c.in, tls, more, c.tls, c.more)
		}
	}
}

// FuzzClientHelloComplete: no input panics, and a whole answer needs at
// least a record header and a handshake header.
func FuzzClientHelloComplete(f *testing.F) {
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00})
	f.Add([]byte{0x16, 0x03, 0x01, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, p []byte) {
		whole, err := ClientHelloComplete(p)
		if whole && (err != nil || len(p) < recordHeader+handshakeHeader) {
			t.Fatalf("whole on %d bytes, err %v", len(p), err)
		}
	})
}
