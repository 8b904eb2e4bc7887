// Package sshd bridges golang.org/x/crypto/ssh to the event loop. The
// library wants a net.Conn and goroutines; the loop owns the socket and
// the Lua state. A Conn runs the library over an in-memory pipe that the
// loop feeds, and hands every event the script must decide (auth, a new
// session, a channel request, data, close) back to the loop through its
// post function, so handlers run only on the loop. The library goroutine
// that asked waits for the loop's answer, or for the connection's end.
//
// Goroutines per connection: one serving it (handshake, auth, then the
// channel accept loop), plus the library's two for the transport (read
// loop and key exchange) before authentication; after it, the library's
// mux loop and one goroutine answering global requests (all refused).
// Each open session channel adds one for its requests, one reading its
// data once a shell or exec started, and a writer only while output is
// queued. An SFTP session adds pkg/sftp's own (a fixed few). All of them
// end when the connection closes.
package sshd

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// Handler is the loop's side of one SSH connection. Every method runs on
// the loop goroutine.
type Handler interface {
	// Output queues bytes for the socket; false above its high-water mark.
	Output(p []byte) bool
	// ResumeReading undoes the pause that Feed asked for.
	ResumeReading()
	// AuthPassword and AuthPublicKey decide one attempt.
	AuthPassword(user, password string) bool
	AuthPublicKey(user string, key *Key) bool
	// Authenticated fires once the client is logged in.
	Authenticated(user, method string)
	// OpenSession decides whether a session channel may open.
	OpenSession(ch *Channel) bool
	// Request decides a channel request (pty-req, shell, exec, subsystem;
	// window-change's answer is ignored).
	Request(ch *Channel, r *Request) bool
	// Data is input on a channel; p is the caller's until it returns.
	Data(ch *Channel, p []byte)
	// EOF: the client will send no more input on the channel.
	EOF(ch *Channel)
	// Drain: the channel's output queue fell to the low-water mark after
	// a Send reported false.
	Drain(ch *Channel)
	// ChannelClosed fires once per opened channel.
	ChannelClosed(ch *Channel)
	// Ended: the library is done with the connection (handshake failure,
	// client disconnect, too many auth failures); close the socket.
	Ended(reason string)
}

// Config is one connection's settings.
type Config struct {
	HostKeys     []ssh.Signer
	MaxAuthTries int           // failed attempts before disconnect (sshd MaxAuthTries); 0: 6
	FailureDelay time.Duration // wait after a failed attempt before answering
	MaxSessions  int           // open channels per connection (sshd MaxSessions); 0: 10
	HighWater    int           // a channel's queued output above which Send reports false
	LowWater     int           // queued output at which Drain fires
	Post         func(func())  // runs a function on the loop; safe from any goroutine
	Local, Peer  net.Addr
}

// Request is a channel request, parsed.
type Request struct {
	Type      string // "pty-req", "shell", "exec", "subsystem", "window-change"
	Term      string // pty-req
	Cols      int    // pty-req, window-change
	Rows      int
	Command   string // exec
	Subsystem string // subsystem
}

// Conn is one SSH connection in the library's hands.
type Conn struct {
	cfg   Config
	h     Handler
	pipe  *pipe
	done  chan struct{}
	once  sync.Once
	chans atomic.Int32
}

// ErrClosed is what a library callback gets once the connection ended.
var ErrClosed = errors.New("ssh: connection closed")

// Start begins serving a connection; call on the loop. The handler's
// methods are called on the loop from now until Close.
func Start(cfg Config, h Handler) *Conn {
	if cfg.MaxAuthTries <= 0 {
		cfg.MaxAuthTries = 6
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 10
	}
	if cfg.HighWater <= 0 {
		cfg.HighWater = 1 << 20
	}
	if cfg.LowWater <= 0 || cfg.LowWater > cfg.HighWater {
		cfg.LowWater = cfg.HighWater / 4
	}
	c := &Conn{cfg: cfg, h: h, done: make(chan struct{})}
	c.pipe = newPipe(cfg.Post, h.Output, h.ResumeReading, cfg.Local, cfg.Peer)
	go c.serve()
	return c
}

// Feed hands socket input to the library; on the loop. False: pause
// reading until the handler's ResumeReading.
func (c *Conn) Feed(p []byte) bool { return c.pipe.Feed(p) }

// OutputDrained: the socket's queue fell below its low-water mark.
func (c *Conn) OutputDrained() { c.pipe.SetFull(false) }

// Close ends the connection from the loop's side (the socket closed);
// every goroutine of the connection then returns. Safe to call twice.
func (c *Conn) Close() {
	c.once.Do(func() {
		close(c.done)
		c.pipe.Close()
	})
}

// ask runs fn on the loop and waits for its answer; false once the
// connection ended.
func (c *Conn) ask(fn func() bool) bool {
	reply := make(chan bool, 1)
	c.cfg.Post(func() {
		select {
		case <-c.done:
			reply <- false
		default:
			reply <- fn()
		}
	})
	select {
	case ok := <-reply:
		return ok
	case <-c.done:
		return false
	}
}

// tell runs fn on the loop unless the connection has ended by then.
func (c *Conn) tell(fn func()) {
	c.cfg.Post(func() {
		select {
		case <-c.done:
		default:
			fn()
		}
	})
}

func (c *Conn) failed() {
	if c.cfg.FailureDelay <= 0 {
		return
	}
	t := time.NewTimer(c.cfg.FailureDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.done:
	}
}

var errDenied = errors.New("denied")

func (c *Conn) serverConfig() *ssh.ServerConfig {
	sc := &ssh.ServerConfig{
		MaxAuthTries:  c.cfg.MaxAuthTries,
		ServerVersion: "SSH-2.0-pocketlua",
		PasswordCallback: func(meta ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
			user, pw := meta.User(), string(password)
			if c.ask(func() bool { return c.h.AuthPassword(user, pw) }) {
				return &ssh.Permissions{Extensions: map[string]string{"method": "password"}}, nil
			}
			c.failed()
			return nil, errDenied
		},
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			user, k := meta.User(), &Key{key: key}
			if c.ask(func() bool { return c.h.AuthPublicKey(user, k) }) {
				return &ssh.Permissions{Extensions: map[string]string{"method": "publickey"}}, nil
			}
			c.failed()
			return nil, errDenied
		},
	}
	sc.Ciphers = ciphers()
	for _, k := range c.cfg.HostKeys {
		sc.AddHostKey(k)
	}
	return sc
}

// ciphers offers only AES-GCM when the CPU does AES and carry-less
// multiplication in hardware. The client picks the first of its own list
// that we offer, and OpenSSH lists chacha20-poly1305 (plain Go in the
// library on amd64) and then AES-CTR (which needs an HMAC-SHA2 per
// packet) before AES-GCM; either costs the server several times the CPU
// per byte. Clients without AES-GCM (OpenSSH before 6.2, PuTTY before
// 0.76) are left out. Without the hardware, chacha20-poly1305 is offered.
func ciphers() []string {
	if hasAESHardware() {
		return []string{ssh.CipherAES128GCM, ssh.CipherAES256GCM}
	}
	return []string{ssh.CipherChaCha20Poly1305, ssh.CipherAES128GCM, ssh.CipherAES256GCM, ssh.CipherAES128CTR, ssh.CipherAES256CTR}
}

// serve is the connection's goroutine: handshake and auth, then channels.
func (c *Conn) serve() {
	defer c.pipe.Close()
	sconn, chans, reqs, err := ssh.NewServerConn(c.pipe, c.serverConfig())
	if err != nil {
		c.end(handshakeReason(err))
		return
	}
	go ssh.DiscardRequests(reqs) // tcpip-forward and every other global request: refused
	user, method := sconn.User(), sconn.Permissions.Extensions["method"]
	c.tell(func() { c.h.Authenticated(user, method) })
	for nc := range chans {
		if nc.ChannelType() != "session" {
			// direct-tcpip (port forwarding), x11, auth-agent: not served.
			nc.Reject(ssh.Prohibited, "only session channels are served")
			continue
		}
		if int(c.chans.Load()) >= c.cfg.MaxSessions {
			nc.Reject(ssh.ResourceShortage, fmt.Sprintf("at most %d sessions per connection", c.cfg.MaxSessions))
			continue
		}
		sch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		c.chans.Add(1)
		ch := newChannel(c, sch)
		if !c.ask(func() bool { return c.h.OpenSession(ch) }) {
			sch.Close()
			go ssh.DiscardRequests(creqs)
			c.chans.Add(-1)
			continue
		}
		go ch.serveRequests(creqs)
	}
	c.end("closed by peer")
}

func (c *Conn) end(reason string) {
	c.tell(func() { c.h.Ended(reason) })
}

func handshakeReason(err error) string {
	msg := err.Error()
	if errors.Is(err, io.EOF) || errors.Is(err, errPipeClosed) {
		return "closed by peer"
	}
	const max = 200
	if len(msg) > max {
		msg = msg[:max]
	}
	return "ssh: " + msg
}
