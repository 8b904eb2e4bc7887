package transport

import (
	"net/netip"
	"testing"
)

func TestParseProxyHeader(t *testing.T) {
	v2 := func(verCmd, fam byte, body ...byte) []byte {
		p := append([]byte(nil), proxyV2Sig...)
		p = append(p, verCmd, fam, byte(len(body)>>8), byte(len(body)))
		return append(p, body...)
	}
	for _, c := range []struct {
		name, in string
		src      string // "" for none
		n        int
	}{
		{"v1 tcp4", "PROXY TCP4 203.0.113.7 127.0.0.1 56324 443\r\nGET", "203.0.113.7:56324", 44},
		{"v1 tcp6", "PROXY TCP6 2001:db8::1 ::1 65535 8080\r\n", "[2001:db8::1]:65535", 39},
		{"v1 unknown", "PROXY UNKNOWN ff:ff 1 2 3\r\n", "", 27},
		{"v1 unknown bare", "PROXY UNKNOWN\r\n", "", 15},
		{"v2 tcp4", string(v2(0x21, 0x11, 198, 51, 100, 9, 127, 0, 0, 1, 0x1f, 0x90, 0x01, 0xbb)) + "rest", "198.51.100.9:8080", 28},
		{"v2 tcp6 with a TLV", string(v2(0x21, 0x21, append(append(netip.MustParseAddr("2001:db8::2").AsSlice(), netip.IPv6Loopback().AsSlice()...), 0, 80, 1, 187, 0x04, 0, 1, 'x')...)), "[2001:db8::2]:80", 16 + 40},
		{"v2 local", string(v2(0x20, 0x00)), "", 16},
		{"v2 udp", string(v2(0x21, 0x12, make([]byte, 12)...)), "", 28},
	} {
		h, n, err := ParseProxyHeader([]byte(c.in))
		if err != nil || n != c.n {
			t.Errorf("%s: n=%d err=%v, want n=%d", c.name, n, err, c.n)
			continue
		}
		got := ""
		if h.Source.IsValid() {
			got = h.Source.String()
		}
		if got != c.src {
			t.Errorf("%s: source %q, want %q", c.name, got, c.src)
		}
		for i := range n { // every proper prefix asks for more
			if _, k, err := ParseProxyHeader([]byte(c.in[:i])); k != 0 || err != nil {
				t.Fatalf("%s: %d bytes: n=%d err=%v", c.name, i, k, err)
			}
		}
	}
	for name, in := range map[string]string{
		"http":             "GET / HTTP/1.1\r\n",
		"lowercase":        "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
		"bad family":       "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
		"v4 in TCP6":       "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
		"v6 in TCP4":       "PROXY TCP4 ::1 ::1 1 2\r\n",
		"port too big":     "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
		"leading zero":     "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
		"signed port":      "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
		"missing field":    "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
		"extra field":      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
		"double space":     "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
		"bare LF":          "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
		"too long":         "PROXY UNKNOWN " + string(make([]byte, 100)),
		"zone":             "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",
		"v2 version 1":     string(v2(0x11, 0x11, make([]byte, 12)...)),
		"v2 command 2":     string(v2(0x22, 0x11, make([]byte, 12)...)),
		"v2 short tcp4":    string(v2(0x21, 0x11, make([]byte, 8)...)),
		"v2 short tcp6":    string(v2(0x21, 0x21, make([]byte, 12)...)),
		"v2 huge":          string(proxyV2Sig) + "\x21\x11\xff\xff",
		"v2 bad signature": "\r\n\r\n\x00\r\nQUIT!",
	} {
		if _, n, err := ParseProxyHeader([]byte(in)); err != ErrBadProxyHeader {
			t.Errorf("%s: n=%d err=%v, want ErrBadProxyHeader", name, n, err)
		}
	}
}

// FuzzParseProxyHeader: no input panics; a header found lies within the
// input, and a source address comes with a version.
func FuzzParseProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 203.0.113.7 127.0.0.1 56324 443\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(append(append([]byte(nil), proxyV2Sig...), 0x21, 0x11, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2))
	f.Fuzz(func(t *testing.T, p []byte) {
		h, n, err := ParseProxyHeader(p)
		if n < 0 || n > len(p) || err != nil && n != 0 || n > 0 && h.Version == 0 {
			t.Fatalf("n=%d of %d, err=%v, header %+v", n, len(p), err, h)
		}
	})
}
