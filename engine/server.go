package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"pocketlua/bindings"
	"pocketlua/poll"
	"pocketlua/sandbox"
)

// Server is one event loop with its Lua state, listeners and connections.
// After New, only Run's goroutine touches it, except Shutdown.
type Server struct {
	cfg        Config
	log        *slog.Logger
	loop       *poll.Loop
	L          *lua.LState
	guard      *sandbox.Guard
	main       *classInfo // the class the main script returned
	version    int
	script     string
	modules    map[string]string // project modules loaded from disk: name -> path
	registered []string          // files the main chunk named with server.watch
	states     *lua.LTable       // server.state tables, by name, across reloads
	reloads    int64
	watcher    *watcher
	loading    *loadEffects // set while the main chunk runs

	conns     map[int64]*Conn
	nextID    int64
	listeners []*listener
	stats     stats
	started   time.Time
	ssh       sshServer   // SSH connection counts and host keys (ssh.go)
	tls       tlsServer   // TLS handshakes and sessions (tls.go)
	proxy     proxyServer // PROXY protocol headers (proxy.go)

	shuttingDown bool
	capture      logCapture // what a console chunk logs (console.go)
	probes       probeGate  // the metrics' and watchdog's posts (observe.go)

	ps pubsub // topics and subscriptions (pubsub.go)
}

type stats struct {
	accepted, refused, overLimit int64
	outbound                     int64 // server.connect attempts that got a socket
	luaErrors, timeouts          int64
	memoryInterrupts             int64 // handlers interrupted by --max-memory
	obs                          bindings.Observed
}

// listener serves one listening socket with a class.
type listener struct {
	srv        *Server
	ln         *poll.Listener
	class      *classInfo // nil: the main class
	configured bool       // from Config.Listen, not from a script
	tls        bool       // a script's listener bound with tls = true
}

func (l *listener) Host() string { return l.ln.Host }
func (l *listener) Port() int    { return l.ln.Port }
func (l *listener) Close() {
	l.ln.Close()
	ls := l.srv.listeners
	for i, x := range ls {
		if x == l {
			l.srv.listeners = append(ls[:i], ls[i+1:]...)
			break
		}
	}
}

// New loads the main script and binds every listen address. Any failure
// comes back as one error that says what and where.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	s := &Server{cfg: cfg, conns: make(map[int64]*Conn), started: time.Now()}
	s.log = slog.New(&captureHandler{inner: cfg.Logger.Handler(), c: &s.capture})
	loop, err := poll.NewLoop(poll.Config{
		Poller:     cfg.Poller,
		ReadBuffer: cfg.ReadBuffer,
		HighWater:  cfg.HighWater,
		LowWater:   cfg.LowWater,
		MaxQueued:  cfg.MaxQueuedBytes,
		Logger:     cfg.Logger,
		Quiet:      func() { sandbox.ReleaseMemory(false) },
		FlushDelay: cfg.PublishFlushDelay,

		YieldBeforeWait: cfg.YieldBeforeWait,
		UringBuffers:    cfg.UringBuffers,
	})
	if err != nil {
		return nil, err
	}
	s.loop = loop
	s.joinHub()
	if err := s.loadMain(); err != nil {
		s.close()
		return nil, err
	}
	if cfg.Watch && cfg.Script != "" {
		if err := s.startWatcher(); err != nil {
			s.close()
			return nil, fmt.Errorf("--watch: %w", err)
		}
	}
	if len(cfg.ListenFDs) > 0 {
		if err := s.inherit(cfg.ListenFDs); err != nil {
			s.close()
			return nil, err
		}
		return s, nil
	}
	for _, addr := range cfg.Listen {
		host, port, err := splitHostPort(addr)
		if err != nil {
			s.close()
			return nil, err
		}
		if host == "" {
			host = AllInterfaces // ":port", as in Go and most servers
		}
		l, err := s.bind(host, port, nil)
		if err != nil {
			s.close()
			return nil, err
		}
		l.configured = true
	}
	return s, nil
}

// Check loads the script as New would, without binding anything.
func Check(cfg Config) error {
	s, err := loadForCheck(cfg)
	if s != nil {
		s.close()
	}
	return err
}

// loadForCheck loads the script without binding; the caller closes s.
func loadForCheck(cfg Config) (*Server, error) {
	cfg.setDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, conns: make(map[int64]*Conn)}
	loop, err := poll.NewLoop(poll.Config{Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	s.loop = loop
	s.joinHub()
	return s, s.loadMain()
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("listen address %q: bad port", addr)
	}
	return host, port, nil
}

// loadMain makes the Lua state and runs the main script, which must return
// its class table.
func (s *Server) loadMain() error {
	L := sandbox.NewState()
	s.L = L
	s.guard = sandbox.NewGuard(L, s.cfg.HandlerTimeout, s.cfg.MaxMemory)
	var dirs []string
	if s.cfg.Script != "" {
		dirs = append(dirs, filepath.Dir(s.cfg.Script))
	}
	dirs = append(dirs, s.cfg.LuaPath...)
	s.modules = make(map[string]string)
	s.states = L.NewTable()
	prepareState(L, &s.cfg, dirs, s, s.log, func(name, path string) { s.modules[name] = path })

	s.version = 1 // what server.version() says while the first load runs
	class, err := s.runMain()
	if err != nil {
		return err
	}
	s.main = s.newClassInfo(class, s.version)
	s.main.main = true
	return nil
}

// runMain compiles and runs the main script under the guard; it must
// return its class table.
func (s *Server) runMain() (*lua.LTable, error) {
	L := s.L
	fn, name, err := loadScript(L, &s.cfg)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	s.script = name
	// What a failing load created must not outlive it.
	effects := &loadEffects{}
	s.loading = effects
	defer func() { s.loading = nil }()
	L.Push(fn)
	s.guard.Enter()
	err = L.PCall(0, 1, nil)
	timedOut := s.guard.Exit()
	var class *lua.LTable
	switch {
	case err != nil && timedOut:
		msg, _ := sandbox.ErrorText(err)
		err = fmt.Errorf("load %s: interrupted after running longer than the handler timeout (%s): %s", name, s.cfg.HandlerTimeout, msg)
	case err != nil:
		msg, trace := sandbox.ErrorText(err)
		err = fmt.Errorf("load %s: %s\n%s", name, msg, trace)
	default:
		ret := L.Get(-1)
		L.Pop(1)
		var ok bool
		if class, ok = ret.(*lua.LTable); !ok {
			err = fmt.Errorf("load %s: the script must return its class table, got %s", name, ret.Type())
		}
	}
	if err != nil {
		effects.undo()
		return nil, err
	}
	return class, nil
}

// loadEffects records the listeners, server timers and outbound
// connections a main chunk creates, to undo them if the load fails.
type loadEffects struct {
	listeners []*listener
	timers    []*luaTimer
	conns     []*Conn
}

func (e *loadEffects) undo() {
	for _, c := range e.conns {
		c.closeWith(0, "load failed", bindings.CloseScript)
	}
	for _, l := range e.listeners {
		l.Close()
	}
	for _, t := range e.timers {
		t.Cancel()
	}
}

func (s *Server) close() {
	if s.watcher != nil {
		s.watcher.close()
	}
	s.ps.leave()   // before the loop closes its wake-up descriptor
	s.loop.Close() // may still run closed handlers: before the Lua state goes
	if s.guard != nil {
		s.guard.Close()
	}
	if s.L != nil {
		s.L.Close()
	}
}

// Addrs lists the addresses bound for Config.Listen, with real ports (not
// the listeners a script opened).
func (s *Server) Addrs() []string {
	var out []string
	for _, l := range s.listeners {
		if l.configured {
			out = append(out, l.ln.Addr())
		}
	}
	return out
}

// ScriptAddrs lists the listeners the main script opened, with real ports.
func (s *Server) ScriptAddrs() []string {
	var out []string
	for _, l := range s.listeners {
		if !l.configured {
			out = append(out, l.ln.Addr())
		}
	}
	return out
}

// ScriptDir is the absolute folder of the main script, where relative
// roots of the batteries are taken from; the working directory for the
// embedded default.
func (s *Server) ScriptDir() string {
	dir := "."
	if s.cfg.Script != "" {
		dir = filepath.Dir(s.cfg.Script)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// PollerName is the backend in use.
func (s *Server) PollerName() string { return s.loop.PollerName() }

// Script is the name of the main script.
func (s *Server) Script() string { return s.script }

// Run serves until shutdown completes.
func (s *Server) Run() error {
	defer func() {
		s.probes.stop()
		s.close()
	}()
	return s.loop.Run()
}

// Shutdown begins a graceful shutdown; safe from any goroutine.
func (s *Server) Shutdown() {
	s.loop.Post(s.beginShutdown)
}

func (s *Server) beginShutdown() {
	if s.shuttingDown {
		return
	}
	s.shuttingDown = true
	s.log.Info("shutting down", "connections", len(s.conns), "grace", s.cfg.ShutdownGrace)
	for len(s.listeners) > 0 {
		s.listeners[0].Close()
	}
	for _, c := range s.connList() {
		c.closeWith(ws1001, "shutdown", bindings.CloseShutdown)
	}
	for c := range s.proxy.byConn {
		c.pc.Abort(poll.ErrShutdown) // still reading its PROXY header: no instance to tell
	}
	s.loop.AfterFunc(s.cfg.ShutdownGrace, func() {
		s.log.Warn("shutdown grace over; dropping what is left", "descriptors", s.loop.Conns())
		s.loop.Stop()
	})
	s.stopWhenIdle()
}

// stopWhenIdle ends the loop once every descriptor has closed.
func (s *Server) stopWhenIdle() {
	if s.loop.Conns() == 0 {
		s.loop.Stop()
		return
	}
	s.loop.AfterFunc(10*time.Millisecond, s.stopWhenIdle)
}

// bind opens a listener served by class (the main class when nil).
func (s *Server) bind(host string, port int, class *classInfo) (*listener, error) {
	fd, h, p, err := poll.SocketBind(host, port, poll.SocketBindOptions{ReusePort: s.cfg.ReusePort})
	if err != nil {
		return nil, err
	}
	l := &listener{srv: s, class: class}
	ln, err := s.loop.Listen(fd, h, p, l.accept)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	l.ln = ln
	s.listeners = append(s.listeners, l)
	return l, nil
}

func (l *listener) accept(fd int, sa unix.Sockaddr) {
	s := l.srv
	if s.openConns() >= s.cfg.MaxConns || s.shuttingDown {
		s.stats.overLimit++
		if s.shuttingDown {
			s.stats.obs.ShutdownRefused++
		}
		unix.Close(fd)
		return
	}
	class := l.class
	if class == nil {
		class = s.main
	}
	tlsOn := (l.configured || l.tls) && s.cfg.TLS != nil
	if l.configured && s.cfg.ProxyProtocol {
		s.openProxied(fd, sa, class, tlsOn)
		return
	}
	s.openConnTLS(fd, sa, class, tlsOn)
}

// connList is a snapshot, since handlers may close connections while we iterate.
func (s *Server) connList() []*Conn {
	out := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c)
	}
	return out
}

// The bindings.Server interface.

func (s *Server) SocketBind(host string, port int, class *lua.LTable) (bindings.Listener, error) {
	if s.shuttingDown {
		return nil, errors.New("socket_bind: server is shutting down")
	}
	var ci *classInfo
	if class != nil {
		ci = s.newClassInfo(class, s.version)
	}
	l, err := s.bind(host, port, ci)
	if err != nil {
		return nil, s.rebindHint(err, port)
	}
	if s.loading != nil {
		s.loading.listeners = append(s.loading.listeners, l)
	}
	return l, nil
}

// rebindHint explains a bind that failed because this server already
// listens on the port: a reload runs the main chunk again, so an unguarded
// socket_bind of a fixed port collides with its own earlier listener.
func (s *Server) rebindHint(err error, port int) error {
	if port == 0 || !errors.Is(err, unix.EADDRINUSE) {
		return err
	}
	for _, l := range s.listeners {
		if l.ln.Port == port && !l.configured {
			return fmt.Errorf("%w (this server already listens there: the main script bound it in an earlier load, "+
				"and a reload runs the main chunk again; bind once, guarded by server.state, see docs/LUA_API.md 5.8)", err)
		}
	}
	return err
}

func (s *Server) Connections() []*lua.LTable {
	out := make([]*lua.LTable, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c.inst)
	}
	return out
}

func (s *Server) Count() int   { return len(s.conns) }
func (s *Server) Version() int { return s.version }

func (s *Server) Broadcast(data, kind string, except bindings.Conn) (int, error) {
	return s.broadcast(data, kind, except)
}

func (s *Server) After(d time.Duration, fn *lua.LFunction, repeat bool) bindings.Timer {
	t := s.newTimer(nil, d, fn, repeat)
	if s.loading != nil {
		s.loading.timers = append(s.loading.timers, t)
	}
	return t
}

// Stats are the server's counters now.
func (s *Server) Stats() bindings.Stats {
	return bindings.Stats{
		Connections:      len(s.conns),
		Descriptors:      s.loop.Conns(),
		Accepted:         s.stats.accepted,
		Refused:          s.stats.refused,
		OverLimit:        s.stats.overLimit,
		Outbound:         s.stats.outbound,
		MessagesIn:       sum(s.stats.obs.MessagesIn[:]),
		MessagesOut:      sum(s.stats.obs.MessagesOut[:]),
		BytesIn:          sum(s.stats.obs.BytesIn[:]),
		BytesOut:         sum(s.stats.obs.BytesOut[:]),
		LuaErrors:        s.stats.luaErrors,
		Timeouts:         s.stats.timeouts,
		MemoryInterrupts: s.stats.memoryInterrupts,
		Goroutines:       runtime.NumGoroutine(),
		HeapBytes:        sandbox.LiveHeap(),
		Version:          s.version,
		Reloads:          s.reloads,
		Uptime:           time.Since(s.started),
		Poller:           s.loop.PollerName(),
		Worker:           max(s.cfg.Worker, 1),

		SSHConnections:     s.ssh.conns,
		SSHUnauthenticated: s.ssh.unauth,
		SSHAccepted:        s.ssh.stats.accepted,
		SSHDropped:         s.ssh.stats.dropped,
		SSHGraceTimeouts:   s.ssh.stats.graceTimeouts,
		SSHAuthFailures:    s.ssh.stats.authFailures,
		Observed:           s.observed(),

		TLS:    s.tlsCounters(),
		Proxy:  s.proxy.stats,
		PubSub: s.pubSubStats(),

		Uring: s.uringStats(),
	}
}
