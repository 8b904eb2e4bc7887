package engine

import (
	"net/netip"

	"golang.org/x/sys/unix"

	"pocketlua/bindings"
	"pocketlua/poll"
	"pocketlua/transport"
)

// proxyConn is a connection still reading its PROXY header (beside the
// Conn, like tlsOf). The instance does not exist yet: accept(info) sees
// the real client's address.
type proxyConn struct {
	c     *Conn
	head  []byte
	timer *poll.Timer
	tlsOn bool
}

// proxyServer is the loop's PROXY protocol bookkeeping.
type proxyServer struct {
	byConn map[*Conn]*proxyConn
	stats  bindings.ProxyCounters
}

func (c *Conn) proxyOf() *proxyConn { return beside(c.srv.proxy.byConn, c) }

// openConns counts toward --max-conns every connection holding a
// descriptor: the instances, and those still reading their PROXY header
// (not attached yet, so not in s.conns), so a flood of header-less
// connections cannot exceed the cap.
func (s *Server) openConns() int { return len(s.conns) + len(s.proxy.byConn) }

// proxyAllowed: the socket's peer is one of --proxy-from.
func (s *Server) proxyAllowed(sa unix.Sockaddr) bool {
	var ip netip.Addr
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		ip = netip.AddrFrom4(a.Addr)
	case *unix.SockaddrInet6:
		ip = netip.AddrFrom16(a.Addr).Unmap()
	default:
		return false
	}
	for _, p := range s.cfg.ProxyFrom {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// openProxied takes a connection on a --proxy-protocol listener: only
// from --proxy-from, and nothing reaches Lua before a valid header.
func (s *Server) openProxied(fd int, sa unix.Sockaddr, class *classInfo, tlsOn bool) {
	if !s.proxyAllowed(sa) {
		s.proxy.stats.Refused[bindings.ProxySource]++
		unix.Close(fd)
		return
	}
	c := s.register(fd, sa, class)
	if c == nil {
		return
	}
	pc := c.pc
	p := &proxyConn{c: c, tlsOn: tlsOn}
	if s.proxy.byConn == nil {
		s.proxy.byConn = make(map[*Conn]*proxyConn)
	}
	s.proxy.byConn[c] = p
	p.timer = s.loop.AfterFunc(s.cfg.ProxyHeaderTimeout, func() {
		s.proxy.stats.Refused[bindings.ProxyTimeout]++
		pc.Abort(&closeCause{reason: "proxy protocol header timeout", kind: bindings.CloseTimeout})
	})
}

// data gathers the header; the bytes after it go on as the connection's
// first input.
func (p *proxyConn) data(b []byte) {
	c := p.c
	s := c.srv
	p.head = append(p.head, b...)
	h, n, err := transport.ParseProxyHeader(p.head)
	if err != nil {
		s.proxy.stats.Refused[bindings.ProxyMalformed]++
		c.pc.Abort(&closeCause{reason: "proxy protocol: malformed header", kind: bindings.CloseProtocolError})
		return
	}
	if n == 0 {
		return
	}
	if h.Source.IsValid() {
		c.peer = peerFromAddrPort(h.Source)
	}
	rest := p.head[n:]
	p.drop()
	c.admit(p.tlsOn)
	if len(rest) > 0 && !c.ended() && c.pc.Open() {
		c.Data(rest)
	}
}

func (p *proxyConn) drop() {
	p.timer.Stop()
	p.head = nil
	delete(p.c.srv.proxy.byConn, p.c)
}

func peerFromAddrPort(ap netip.AddrPort) peerAddr {
	a := ap.Addr().Unmap()
	pa := peerAddr{port: [2]byte{byte(ap.Port() >> 8), byte(ap.Port())}}
	if a.Is4() {
		b := a.As4()
		copy(pa.ip[:], b[:])
		pa.kind = 4
	} else {
		pa.ip = a.As16()
		pa.kind = 6
	}
	return pa
}
