package engine

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"

	"pocketlua/poll"
)

// DefaultConnectTimeout bounds an outbound connect when the script gives
// no connect_timeout.
const DefaultConnectTimeout = 10 * time.Second

// Connect opens an outbound TCP connection to host:port on the loop,
// served by class like an accepted one, and returns its instance at once.
// start runs when the handshake succeeds; when it fails, closed(nil,
// reason) runs instead ("connection refused", "connect timeout", ...),
// always in a later round, never inside Connect. An error comes back only
// when no attempt could be made: a bad host or port, the server shutting
// down, --max-conns reached, no descriptor left.
func (s *Server) Connect(host string, port int, class *lua.LTable, timeout time.Duration) (*lua.LTable, error) {
	c, err := s.connect(host, port, class, timeout, nil)
	if err != nil {
		return nil, err
	}
	return c.inst, nil
}

func (s *Server) connect(host string, port int, class *lua.LTable, timeout time.Duration, clientTLS *tls.Config) (*Conn, error) {
	addr := poll.JoinHostPort(host, port)
	if s.shuttingDown {
		return nil, errors.New("connect: server is shutting down")
	}
	if s.openConns() >= s.cfg.MaxConns {
		return nil, fmt.Errorf("connect %s: too many connections (--max-conns %d)", addr, s.cfg.MaxConns)
	}
	sa, err := poll.ResolveSockaddr(host, port)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	c := s.newConn(sa, s.newClassInfo(class, s.version))
	connected := c.connected
	if clientTLS != nil {
		t := s.tlsClient(c, clientTLS)
		connected = t.clientConnected
	}
	pc, err := s.loop.Connect(sa, timeout, c, connected)
	if err != nil {
		if t := c.tlsOf(); t != nil {
			t.drop()
		}
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	c.pc = pc
	s.stats.outbound++
	c.attach()
	if s.loading != nil {
		s.loading.conns = append(s.loading.conns, c)
	}
	return c, nil
}

// connected runs start once an outbound connection's handshake succeeded.
func (c *Conn) connected() {
	if !c.ended() {
		c.begin()
	}
}
