package engine

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/crypto/ssh"

	"pocketlua/bindings"
	"pocketlua/poll"
	"pocketlua/sshd"
)

// sshConn is a connection's SSH state after conn:upgrade("ssh"): the
// library runs in package sshd; its events come back here, on the loop,
// and become calls of the instance's ssh_* methods (scripts/ssh.lua).
type sshConn struct {
	c        *Conn
	b        *sshd.Conn
	authed   bool
	done     bool // sshEnd ran
	grace    *poll.Timer
	sessions map[*sshd.Channel]*lua.LTable
}

// sshServer is the loop's SSH bookkeeping.
type sshServer struct {
	conns, unauth int
	keys          map[string][]ssh.Signer // host keys by file list, read once
	stats         struct{ accepted, dropped, graceTimeouts, authFailures int64 }
	// byConn holds each SSH connection's state beside its Conn rather than
	// in it: a Conn stays 96 bytes for the many that never speak SSH.
	byConn map[*Conn]*sshConn
}

// sshOf is c's SSH state, nil unless conn:upgrade("ssh") made it; it
// outlives the connection's end until the socket has closed.
func (c *Conn) sshOf() *sshConn { return beside(c.srv.ssh.byConn, c) }

// beside is c's entry in one of the maps that keep a protocol's state
// beside its Conn (SSH, TLS, PROXY header), so a Conn stays small; while
// the map is empty, as on most workers, it costs no lookup.
func beside[T any](m map[*Conn]*T, c *Conn) *T {
	if len(m) == 0 {
		return nil
	}
	return m[c]
}

// sshUpgrade hands the connection to the SSH library. Over the caps it
// closes the connection instead, like sshd's MaxStartups.
func (c *Conn) sshUpgrade(opts *bindings.UpgradeOptions, leftover string) error {
	if c.ws != nil || c.sshOf() != nil {
		return fmt.Errorf("already in %s mode", c.Mode())
	}
	if !c.Open() {
		return errors.New("connection is closed")
	}
	s := c.srv
	cfg := &s.cfg
	if s.ssh.keys == nil {
		s.ssh.keys = make(map[string][]ssh.Signer)
	}
	o := opts.SSH
	files := o.HostKeys
	maxTries, maxSessions, delay := o.MaxAuthTries, o.MaxSessions, o.AuthFailureDelay
	keys, err := s.sshHostKeys(files)
	if err != nil {
		return err
	}
	if s.ssh.conns >= cfg.SSHMaxConns {
		s.ssh.stats.dropped++
		c.closeWith(0, "ssh connection limit", bindings.CloseScript)
		return nil
	}
	if s.sshStartupDrop() {
		s.ssh.stats.dropped++
		c.closeWith(0, "too many unauthenticated ssh connections", bindings.CloseScript)
		return nil
	}
	s.ssh.conns++
	s.ssh.unauth++
	s.ssh.stats.accepted++
	h := &sshConn{c: c, sessions: make(map[*sshd.Channel]*lua.LTable)}
	if s.ssh.byConn == nil {
		s.ssh.byConn = make(map[*Conn]*sshConn)
	}
	s.ssh.byConn[c] = h
	h.b = sshd.Start(sshd.Config{
		HostKeys:     keys,
		MaxAuthTries: maxTries,
		MaxSessions:  maxSessions,
		FailureDelay: time.Duration(delay * float64(time.Second)),
		HighWater:    cfg.HighWater,
		LowWater:     cfg.LowWater,
		Post:         s.loop.Post,
		Local:        addrOf(c.LocalAddr()),
		Peer:         addrOf(c.Peer()),
	}, h)
	h.grace = s.loop.AfterFunc(cfg.SSHLoginGrace, func() {
		if !h.authed && !c.ended() {
			s.ssh.stats.graceTimeouts++
			c.closeWith(0, "ssh login grace time over", bindings.CloseTimeout)
		}
	})
	if leftover != "" {
		h.feed([]byte(leftover))
	}
	return nil
}

// sshStartupDrop decides like sshd's MaxStartups over the
// unauthenticated connections.
func (s *Server) sshStartupDrop() bool {
	cfg := &s.cfg
	return Startups{cfg.SSHStartupsBegin, cfg.SSHStartupsRate, cfg.SSHStartupsFull}.drop(s.ssh.unauth)
}

// sshHostKeys reads the given host key files once per process, or the
// generated default key.
func (s *Server) sshHostKeys(files []string) ([]ssh.Signer, error) {
	id := strings.Join(files, "\x00")
	if keys, ok := s.ssh.keys[id]; ok {
		return keys, nil
	}
	var keys []ssh.Signer
	if len(files) > 0 {
		var err error
		if keys, err = sshd.LoadHostKeys(files); err != nil {
			return nil, err
		}
	} else {
		path, err := sshd.DefaultHostKeyPath()
		if err != nil {
			return nil, err
		}
		k, err := sshd.EnsureHostKey(path)
		if err != nil {
			return nil, err
		}
		keys = []ssh.Signer{k}
	}
	s.ssh.keys[id] = keys
	return keys, nil
}

func addrOf(hostport string) net.Addr {
	a, err := net.ResolveTCPAddr("tcp", hostport)
	if err != nil {
		return &net.TCPAddr{}
	}
	return a
}

func (h *sshConn) feed(p []byte) {
	if !h.b.Feed(p) {
		h.c.pc.Pause()
	}
}

// sshEnd runs when the socket closes: every session's ssh_closed, then
// the library is told, which ends its goroutines.
func (c *Conn) sshEnd(h *sshConn) {
	s := c.srv
	if h.done {
		return
	}
	h.done = true
	if h.grace != nil {
		h.grace.Stop()
	}
	h.b.Close()
	s.ssh.conns--
	if !h.authed {
		s.ssh.unauth--
	}
	for ch, sess := range h.sessions {
		delete(h.sessions, ch)
		h.call("ssh_closed", 1, sess, nil, 0)
	}
}

// call runs the instance's method name, if it has one.
func (h *sshConn) call(name string, nargs int, a1, a2 lua.LValue, nret int) (lua.LValue, bool) {
	c := h.c
	fn, ok := c.srv.L.GetField(c.inst, name).(*lua.LFunction)
	if !ok {
		return lua.LNil, true
	}
	return c.srv.invoke(c, fn, c.inst, nargs, a1, a2, nret, evSSH)
}

// sshd.Handler: every method runs on the loop.

func (h *sshConn) Output(p []byte) bool {
	c := h.c
	if c.ended() {
		return true
	}
	c.srv.stats.obs.BytesOut[c.cls.proto] += int64(len(p))
	return c.write(p) // encrypted when the connection came over TLS
}

func (h *sshConn) ResumeReading() {
	if !h.c.ended() {
		h.c.pc.Resume()
	}
}

func (h *sshConn) auth(user string, cred lua.LValue) bool {
	if h.c.ended() {
		return false
	}
	ret, ok := h.call("ssh_auth", 2, lua.LString(user), cred, 1)
	if ok && lua.LVAsBool(ret) {
		return true
	}
	h.c.srv.ssh.stats.authFailures++
	return false
}

func (h *sshConn) AuthPassword(user, password string) bool {
	return h.auth(user, lua.LString(password))
}

func (h *sshConn) AuthPublicKey(user string, key *sshd.Key) bool {
	return h.auth(user, bindings.NewSSHKey(h.c.srv.L, key))
}

func (h *sshConn) Authenticated(user, method string) {
	if h.authed || h.c.ended() {
		return
	}
	h.authed = true
	h.c.srv.ssh.unauth--
	h.grace.Stop()
	h.call("ssh_authenticated", 2, lua.LString(user), lua.LString(method), 0)
}

func (h *sshConn) OpenSession(ch *sshd.Channel) bool {
	if h.c.ended() {
		return false
	}
	ret, ok := h.call("ssh_open", 1, bindings.NewSSHChannel(h.c.srv.L, ch), nil, 1)
	sess, isTable := ret.(*lua.LTable)
	if !ok || !isTable || h.c.ended() {
		return false
	}
	h.sessions[ch] = sess
	return true
}

func (h *sshConn) Request(ch *sshd.Channel, r *sshd.Request) bool {
	sess := h.sessions[ch]
	if sess == nil || h.c.ended() {
		return false
	}
	L := h.c.srv.L
	t := L.CreateTable(0, 4)
	t.RawSetString("type", lua.LString(r.Type))
	switch r.Type {
	case "pty-req":
		t.RawSetString("term", lua.LString(r.Term))
		t.RawSetString("cols", lua.LNumber(r.Cols))
		t.RawSetString("rows", lua.LNumber(r.Rows))
	case "window-change":
		t.RawSetString("cols", lua.LNumber(r.Cols))
		t.RawSetString("rows", lua.LNumber(r.Rows))
	case "exec":
		t.RawSetString("command", lua.LString(r.Command))
	case "subsystem":
		t.RawSetString("name", lua.LString(r.Subsystem))
	}
	ret, ok := h.call("ssh_request", 2, sess, t, 1)
	return ok && lua.LVAsBool(ret) && !h.c.ended()
}

func (h *sshConn) Data(ch *sshd.Channel, p []byte) {
	if sess := h.sessions[ch]; sess != nil && !h.c.ended() {
		h.call("ssh_data", 2, sess, lua.LString(p), 0)
	}
}

func (h *sshConn) EOF(ch *sshd.Channel) {
	if sess := h.sessions[ch]; sess != nil && !h.c.ended() {
		h.call("ssh_eof", 1, sess, nil, 0)
	}
}

func (h *sshConn) Drain(ch *sshd.Channel) {
	if sess := h.sessions[ch]; sess != nil && !h.c.ended() {
		h.call("ssh_drain", 1, sess, nil, 0)
	}
}

func (h *sshConn) ChannelClosed(ch *sshd.Channel) {
	sess := h.sessions[ch]
	if sess == nil || h.c.ended() {
		return
	}
	delete(h.sessions, ch)
	h.call("ssh_closed", 1, sess, nil, 0)
}

func (h *sshConn) Ended(reason string) {
	cause := bindings.CloseProtocolError // the handshake or the transport failed
	if reason == "closed by peer" {
		cause = bindings.ClosePeer
	}
	h.c.closeWith(0, reason, cause)
}
