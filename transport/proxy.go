package transport

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// PROXY protocol (HAProxy's proxy-protocol.txt), versions 1 and 2: the
// header a load balancer sends first to tell the real client's address.

// ProxyHeader is a parsed PROXY header. Source is the zero AddrPort when
// the header carries no address (v1 UNKNOWN, v2 LOCAL or a family other
// than TCP over IPv4/IPv6): the connection's own peer then stands.
type ProxyHeader struct {
	Version int
	Source  netip.AddrPort
	Dest    netip.AddrPort
}

// ErrBadProxyHeader: the bytes are no valid PROXY header.
var ErrBadProxyHeader = errors.New("proxy protocol: malformed header")

const (
	proxyV1Max   = 107 // the longest v1 line, CRLF included
	proxyV2Fixed = 16
	// proxyV2Max bounds a v2 header with its TLVs; real ones are far smaller.
	proxyV2Max = proxyV2Fixed + 4096
)

var (
	proxyV1Prefix = []byte("PROXY ")
	proxyV2Sig    = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// ParseProxyHeader reads a PROXY header at the start of p. It returns the
// header and its length; n == 0 with a nil error means p is a valid
// beginning: wait for more bytes.
func ParseProxyHeader(p []byte) (h ProxyHeader, n int, err error) {
	if len(p) == 0 {
		return h, 0, nil
	}
	switch p[0] {
	case 'P':
		return parseProxyV1(p)
	case '\r':
		return parseProxyV2(p)
	}
	return h, 0, ErrBadProxyHeader
}

// prefixOK: p and want agree on their common length.
func prefixOK(p, want []byte) bool {
	k := min(len(p), len(want))
	return bytes.Equal(p[:k], want[:k])
}

func parseProxyV1(p []byte) (h ProxyHeader, n int, err error) {
	if !prefixOK(p, proxyV1Prefix) {
		return h, 0, ErrBadProxyHeader
	}
	end := bytes.Index(p[:min(len(p), proxyV1Max)], []byte("\r\n"))
	if end < 0 {
		if len(p) >= proxyV1Max || bytes.IndexByte(p, '\n') >= 0 {
			return h, 0, ErrBadProxyHeader
		}
		return h, 0, nil
	}
	h.Version = 1
	fields := strings.Split(string(p[len(proxyV1Prefix):end]), " ")
	if fields[0] == "UNKNOWN" {
		return h, end + 2, nil // the rest of the line is ignored, as the spec says
	}
	if len(fields) != 5 || fields[0] != "TCP4" && fields[0] != "TCP6" {
		return h, 0, ErrBadProxyHeader
	}
	src, err1 := netip.ParseAddr(fields[1])
	dst, err2 := netip.ParseAddr(fields[2])
	sp, ok1 := proxyPort(fields[3])
	dp, ok2 := proxyPort(fields[4])
	if err1 != nil || err2 != nil || !ok1 || !ok2 || src.Zone() != "" || dst.Zone() != "" {
		return h, 0, ErrBadProxyHeader
	}
	if want4 := fields[0] == "TCP4"; src.Is4() != want4 || dst.Is4() != want4 {
		return h, 0, ErrBadProxyHeader
	}
	h.Source, h.Dest = netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)
	return h, end + 2, nil
}

// proxyPort reads a v1 port: decimal, no sign, no leading zero.
func proxyPort(s string) (uint16, bool) {
	if s == "" || len(s) > 5 || s[0] == '0' && s != "0" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 16)
	return uint16(v), err == nil
}

func parseProxyV2(p []byte) (h ProxyHeader, n int, err error) {
	if !prefixOK(p, proxyV2Sig) {
		return h, 0, ErrBadProxyHeader
	}
	if len(p) < proxyV2Fixed {
		return h, 0, nil
	}
	verCmd, fam := p[12], p[13]
	if verCmd>>4 != 2 || verCmd&0xf > 1 {
		return h, 0, ErrBadProxyHeader
	}
	size := proxyV2Fixed + (int(p[14])<<8 | int(p[15]))
	if size > proxyV2Max {
		return h, 0, ErrBadProxyHeader
	}
	if len(p) < size {
		return h, 0, nil
	}
	h.Version = 2
	body := p[proxyV2Fixed:size]
	if verCmd&0xf == 0 { // LOCAL: the proxy's own connection (a health check)
		return h, size, nil
	}
	switch fam {
	case 0x11: // TCP over IPv4
		if len(body) < 12 {
			return h, 0, ErrBadProxyHeader
		}
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[0:4])), uint16(body[8])<<8|uint16(body[9]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[4:8])), uint16(body[10])<<8|uint16(body[11]))
	case 0x21: // TCP over IPv6
		if len(body) < 36 {
			return h, 0, ErrBadProxyHeader
		}
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[0:16])), uint16(body[32])<<8|uint16(body[33]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[16:32])), uint16(body[34])<<8|uint16(body[35]))
	}
	// Other families (UNSPEC, UDP, Unix): no address we can use.
	return h, size, nil
}
