// Command pocketlua runs a scriptable socket server: one event loop, and a
// Lua client class that handles each connection's events.
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"pocketlua/broker"
	"pocketlua/console"
	"pocketlua/engine"
	"pocketlua/metrics"
	"pocketlua/sandbox"
	"pocketlua/scripts"
	"pocketlua/shared"
	"pocketlua/transport"
)

// Release builds set these with -ldflags "-X main.version=1.2.0 -X
// main.commit=<sha> -X main.date=<RFC 3339>"; otherwise they come from the
// Go build info (buildinfo.go).
var version, commit, date string

// devVersion names a build with neither -X nor a module version.
const devVersion = "0.1.0-dev"

const defaultScript = "echo.lua"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks a mistake on the command line (exit status 2).
var errUsage = errors.New("usage")

// subcommandHelp is the rule every subcommand follows, for --help.
const subcommandHelp = `Subcommands: the first argument is a subcommand when it is one of these names
(a script named like one is run as ./name):
  pocketlua run [flags] [script.lua]    the server; the same as without "run"
  pocketlua console [PATH] [-e CHUNK]   the live console of a server started
                                        with --admin-socket PATH
  pocketlua test [flags] [FILES|DIRS]   run the tests in *_test.lua files
  pocketlua types [flags] [DIR]         write editor definitions (lua-language-server)
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "console":
			return runConsole(args[1:], stdout, stderr)
		case "test":
			return runTest(args[1:], stdout, stderr)
		case "types":
			return runTypes(args[1:], stdout, stderr)
		case "run":
			args = args[1:]
		}
	}
	cfg, opts, err := parseFlags(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "pocketlua: %v\n", err)
		return 2
	}
	if opts.version {
		fmt.Fprintf(stdout, "pocketlua %s\n", versionLine())
		return 0
	}
	logger, err := newLogger(stderr, opts.logLevel, opts.logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "pocketlua: %v\n", err)
		return 2
	}
	var logTee *console.LogTee
	if opts.adminSocket != "" {
		logTee = console.NewLogTee(logger.Handler())
		logger = slog.New(logTee)
	}
	cfg.Logger = logger
	if opts.tls != nil {
		if cfg.TLS, err = transport.New(*opts.tls); err != nil {
			fmt.Fprintf(stderr, "pocketlua: tls: %v\n", err)
			return 1
		}
	}
	scriptMetrics := metrics.NewRegistry(opts.workers, opts.metricsMaxSeries)
	cfg.Metrics = scriptMetrics
	cfg.TimeHandlers = opts.metricsAddr != "" // only a scrape reads the histograms
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(opts.gcPercent)
	}
	if opts.check {
		warnings, err := engine.CheckWarnings(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "pocketlua: %v\n", err)
			return 1
		}
		for _, w := range warnings {
			fmt.Fprintf(stderr, "pocketlua: warning: %s\n", w)
		}
		fmt.Fprintf(stdout, "pocketlua: %s: ok\n", scriptName(cfg))
		return 0
	}

	if err := resolvePoller(&cfg, logger); err != nil {
		fmt.Fprintf(stderr, "pocketlua: --poller %s: %v\n", cfg.Poller, err)
		return 1
	}

	var cs *console.Server
	if opts.adminSocket != "" {
		if cs, err = console.Listen(console.Config{Path: opts.adminSocket, Logs: logTee, Logger: logger, Version: version}); err != nil {
			fmt.Fprintf(stderr, "pocketlua: %v\n", err)
			return 1
		}
		defer cs.Close()
	}
	if cfg.ListenFDs, err = listenFDs(); err != nil {
		fmt.Fprintf(stderr, "pocketlua: %v\n", err)
		return 1
	}
	if len(cfg.ListenFDs) > 0 && opts.listenSet {
		logger.Warn("--listen ignored: serving the sockets systemd passed (LISTEN_FDS)", "sockets", len(cfg.ListenFDs))
	}
	cfg.Hub = broker.NewHub() // one per process: every worker publishes through it
	cfg.Hub.SetPendingBytes(opts.deliveryQueueBytes)
	cfg.Shared = shared.NewRegistry()
	cfg.Shared.SetMaxDicts(opts.sharedMaxDicts)
	cfg.Workers = opts.workers
	if opts.brokerURL != "" { // a URL that cannot work stops the start before anything binds
		if err := broker.CheckURL(opts.brokerURL); err != nil {
			fmt.Fprintf(stderr, "pocketlua: %v\n", err)
			return 2
		}
	}
	cfg.YieldBeforeWait = loopsFillCPUs(opts.workers, usableCPUs()) // before spareP changes GOMAXPROCS
	spareP(opts.workers)
	srvs, err := startWorkers(cfg, opts.workers, logger)
	if err != nil {
		fmt.Fprintf(stderr, "pocketlua: %v\n", err)
		return 1
	}
	if opts.brokerURL != "" {
		// After the workers loaded their scripts: each server.on_broker
		// sees the first change of state.
		remote, err := broker.Dial(opts.brokerURL, cfg.Hub, broker.Queue{Messages: opts.brokerQueue, Bytes: opts.brokerQueueBytes}, logger)
		if err != nil {
			fmt.Fprintf(stderr, "pocketlua: %v\n", err)
			for _, srv := range srvs {
				srv.Shutdown()
				srv.Run()
			}
			return 2
		}
		defer remote.Close()
	}
	svc := &service{srvs: srvs, notify: newNotifier(logger), log: logger, stop: make(chan struct{})}
	defer svc.close()
	if opts.metricsAddr != "" {
		if svc.metrics, err = startMetrics(opts.metricsAddr, srvs, scriptMetrics, logger); err != nil {
			fmt.Fprintf(stderr, "pocketlua: %v\n", err)
			for _, srv := range srvs {
				srv.Shutdown()
				srv.Run()
			}
			return 1
		}
	}
	// Signals are caught before the listening line tells anyone to send them.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		stopping := false
		for sig := range sigs {
			switch {
			case sig == syscall.SIGHUP:
				svc.reload("SIGHUP")
			case stopping:
				logger.Error("second signal: exiting at once", "signal", sig.String())
				os.Exit(1)
			default:
				stopping = true
				logger.Info("signal: graceful shutdown", "signal", sig.String())
				svc.stopping()
				for _, srv := range srvs {
					srv.Shutdown()
				}
			}
		}
	}()
	if cs != nil {
		workers := make([]console.Worker, len(srvs))
		for i, srv := range srvs {
			workers[i] = consoleWorker{srv}
		}
		cs.Serve(workers)
	}
	logListening(logger, srvs)
	svc.ready("listening on " + strings.Join(srvs[0].Addrs(), ", "))

	sandbox.GCHeadroom(opts.gcReserve)

	// POCKETLUA_CPUPROFILE=file profiles the whole run (docs/PERFORMANCE.md).
	if path := os.Getenv("POCKETLUA_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
		}
	}
	errs := make(chan error, len(srvs))
	for _, srv := range srvs {
		go func() {
			runtime.LockOSThread() // one loop per thread, like a worker process
			errs <- srv.Run()
		}()
	}
	status := 0
	for range srvs {
		if err := <-errs; err != nil {
			fmt.Fprintf(stderr, "pocketlua: %v\n", err)
			status = 1
		}
	}
	return status
}

// spareP gives the Go scheduler one P more than there are loops. Each
// loop's locked thread keeps its P while it waits in epoll_wait; with no P
// left idle, the runtime's sysmon takes a waiting loop's P after 20 µs
// and then polls every 20 µs itself (two workers on two CPUs: about 0.2
// context switches per echoed message instead of 0.14, see
// docs/PERFORMANCE.md). A GOMAXPROCS set in the environment wins.
func spareP(workers int) {
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < workers+1 {
		runtime.GOMAXPROCS(workers + 1)
	}
}

// loopsFillCPUs says whether the loops alone can keep every one of cpus
// busy, so that anything else running (the clients, other processes)
// shares a CPU with a loop. The loops then yield before they block
// (engine.Config.YieldBeforeWait): two workers on two CPUs with the load
// on the same machine slept and were woken about 0.2 times per echoed
// message and did 0.84-0.93 of one worker's messages per CPU-second;
// yielding first cut that to about 0.03 (docs/PERFORMANCE.md). With CPUs
// to spare a yield finds nothing to run and only costs a system call.
func loopsFillCPUs(workers, cpus int) bool { return workers >= cpus }

// usableCPUs is how many CPUs the process may keep busy: the Go runtime's
// own GOMAXPROCS, which counts a container's CPU quota as well as the
// CPUs it may run on, unless the environment set GOMAXPROCS; then those
// CPUs alone. Valid only before spareP changes GOMAXPROCS.
func usableCPUs() int {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.NumCPU()
	}
	return runtime.GOMAXPROCS(0)
}

// startWorkers makes n independent servers, each with its own loop, Lua
// state and SO_REUSEPORT listeners on the same addresses. The first picks
// any free ports; the others bind the ports it got.
func startWorkers(cfg engine.Config, n int, logger *slog.Logger) ([]*engine.Server, error) {
	cfg.ReusePort = n > 1 && len(cfg.ListenFDs) == 0
	var srvs []*engine.Server
	for i := 0; i < n; i++ {
		wcfg := cfg
		wcfg.Worker = i + 1
		if n > 1 {
			wcfg.Logger = logger.With("worker", i+1)
		}
		if i > 0 && len(cfg.ListenFDs) > 0 {
			fds, err := dupFDs(cfg.ListenFDs)
			if err != nil {
				for _, s := range srvs {
					s.Shutdown()
					s.Run()
				}
				return nil, err
			}
			wcfg.ListenFDs = fds
		} else if i > 0 {
			wcfg.Listen = srvs[0].Addrs()
		}
		srv, err := engine.New(wcfg)
		if err != nil {
			for _, s := range srvs {
				s.Shutdown()
				s.Run()
			}
			return nil, err
		}
		srvs = append(srvs, srv)
	}
	return srvs, nil
}

// consoleWorker lets the console talk to an engine.Server.
type consoleWorker struct{ srv *engine.Server }

func (w consoleWorker) Console(line string) console.Reply {
	r := w.srv.Console(line)
	return console.Reply{Text: r.Text, Err: r.Err, More: r.More}
}

func (w consoleWorker) Reload(trigger string) { w.srv.Reload(trigger) }

// runConsole is `pocketlua console [PATH] [-e CHUNK]`.
func runConsole(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("pocketlua console", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: pocketlua console [PATH] [-e CHUNK]\n\n"+
			"Attaches to the live console of a server started with --admin-socket PATH\n"+
			"(PATH defaults to $POCKETLUA_ADMIN_SOCKET). Interactive without -e.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	chunk := fs.StringP("eval", "e", "", "run CHUNK (Lua, or a :command), print the result and exit: status 1 on error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "pocketlua console: %v\n", err)
		return 2
	}
	path := os.Getenv("POCKETLUA_ADMIN_SOCKET")
	switch fs.NArg() {
	case 0:
	case 1:
		path = fs.Arg(0)
	default:
		fmt.Fprintf(stderr, "pocketlua console: one socket path at most, got %q\n", fs.Args())
		return 2
	}
	if path == "" {
		fmt.Fprintln(stderr, "pocketlua console: no socket: give PATH or set POCKETLUA_ADMIN_SOCKET")
		return 2
	}
	if fs.Changed("eval") {
		return console.Eval(path, *chunk, stdout, stderr)
	}
	if err := console.Interactive(path, os.Stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "pocketlua console: %v\n", err)
		return 1
	}
	return 0
}

type cliOptions struct {
	adminSocket string
	workers     int
	gcPercent   int
	gcReserve   int64
	check       bool
	version     bool
	logLevel    string
	logFormat   string
	listenSet   bool // --listen given on the command line

	metricsAddr      string
	metricsMaxSeries int

	tls         *transport.Options // nil: no --tls-cert
	brokerURL   string
	brokerQueue int

	// Byte bounds of pub/sub's queues, and server.shared's dictionaries.
	brokerQueueBytes   int64
	deliveryQueueBytes int64
	sharedMaxDicts     int
}

func parseFlags(args []string, stderr io.Writer) (engine.Config, cliOptions, error) {
	var cfg engine.Config
	var o cliOptions
	fs := pflag.NewFlagSet("pocketlua", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: pocketlua [run] [flags] [script.lua]\n\n"+
			"Runs the Lua client class that script.lua returns for every connection.\n"+
			"Without a script it runs the embedded %s (a WebSocket echo).\n\n%s\nFlags:\n", defaultScript, subcommandHelp)
		fs.PrintDefaults()
	}
	listen := fs.StringArrayP("listen", "l", []string{engine.DefaultListen}, "address to listen on, host:port (repeatable; port 0 picks a free port)")
	fs.StringArrayVarP(&cfg.LuaPath, "lua-path", "I", nil, "extra folder searched by require (repeatable)")
	fs.StringVar(&cfg.Poller, "poller", engine.DefaultPoller, "event backend: auto (io_uring if the kernel allows it, else epoll; the default on Linux), epoll, io_uring (Linux) or poll")
	fs.IntVar(&cfg.UringBuffers, "uring-buffers", engine.DefaultUringBuffers, "most 16 KiB receive buffers per worker on io_uring, a power of two from 16 to 32768 (only those load needs are touched)")
	fs.IntVar(&cfg.MaxConns, "max-conns", engine.DefaultMaxConns, "open connections beyond which new ones are closed at once")
	sizeVar(fs, &cfg.MaxQueuedBytes, "max-queued-bytes", engine.DefaultMaxQueuedBytes, "output queued for one connection beyond which it is dropped as a slow consumer")
	sizeVar(fs, &cfg.HighWater, "high-water", engine.DefaultHighWater, "queued bytes above which send returns false")
	sizeVar(fs, &cfg.LowWater, "low-water", engine.DefaultLowWater, "queued bytes at or below which drain fires")
	fs.DurationVar(&cfg.HandlerTimeout, "handler-timeout", engine.DefaultHandlerTimeout, "longest a Lua handler may run before it is interrupted (0 disables)")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", engine.DefaultShutdownGrace, "how long a graceful shutdown waits for connections")
	fs.DurationVar(&cfg.CloseTimeout, "close-timeout", engine.DefaultCloseTimeout, "how long a WebSocket close waits for the peer's close frame")
	sizeVar(fs, &cfg.MaxMessage, "max-message", engine.DefaultMaxMessage, "largest WebSocket message (close 1009 beyond)")
	sizeVar(fs, &cfg.MaxFrame, "max-frame", 0, "largest WebSocket frame (0: same as --max-message)")
	sizeVar(fs, &cfg.MaxString, "max-string", engine.DefaultMaxString, "longest string one Lua library call may build (string.rep, string.format, table.concat, string.gsub)")
	sizeVar(fs, &cfg.MaxMemory, "max-memory", engine.DefaultMaxMemory, "Go heap above which the running Lua handler is interrupted and its connection closed (0: no cap); also the runtime's soft memory limit")
	fs.IntVar(&cfg.MaxSyntaxDepth, "max-syntax-depth", engine.DefaultMaxSyntaxDepth, "deepest syntax nesting loadstring, load, require and the main script may compile")
	fs.IntVar(&cfg.SSHMaxConns, "ssh-max-conns", engine.DefaultSSHMaxConns, "SSH connections per worker beyond which new ones are closed at once")
	sshStartups := fs.String("ssh-max-startups", engine.DefaultSSHStartups, "unauthenticated SSH connections per worker, begin:rate:full as sshd's MaxStartups: past begin drop rate% of new ones, rising to all at full")
	fs.DurationVar(&cfg.SSHLoginGrace, "ssh-login-grace", engine.DefaultSSHLoginGrace, "time an SSH client has to authenticate, as sshd's LoginGraceTime")
	tlsCerts := fs.StringArray("tls-cert", nil, "serve TLS on the --listen ports with this PEM certificate chain (repeatable, paired in order with --tls-key; chosen by SNI, the first is the default; plaintext still served unless --tls-required)")
	tlsKeys := fs.StringArray("tls-key", nil, "the PEM private key of the --tls-cert in the same position")
	fs.BoolVar(&cfg.TLSRequired, "tls-required", false, "refuse plaintext connections on the --listen ports")
	tlsMin := fs.String("tls-min-version", "1.2", "oldest TLS version accepted: 1.2 or 1.3")
	tlsClientCA := fs.String("tls-client-ca", "", "PEM bundle client certificates are verified against")
	tlsClientAuth := fs.String("tls-client-auth", "none", "client certificates: none, optional or required (optional and required need --tls-client-ca)")
	fs.DurationVar(&cfg.TLSHandshakeTimeout, "tls-handshake-timeout", engine.DefaultTLSHandshakeTimeout, "time from a connection's first byte to the end of its TLS handshake")
	tlsStartups := fs.String("tls-max-startups", engine.DefaultTLSStartups, "TLS handshakes in flight per worker, begin:rate:full as sshd's MaxStartups: past begin drop rate% of new ones, rising to all at full")
	tlsWorkers := fs.Int("tls-crypto-workers", runtime.NumCPU(), "TLS handshakes computing at once, process-wide (the others wait their turn)")
	fs.BoolVar(&cfg.ProxyProtocol, "proxy-protocol", false, "every connection on the --listen ports must come from --proxy-from and start with a PROXY protocol header (v1 or v2, as HAProxy sends); conn.peer is then the client's address")
	proxyFrom := fs.String("proxy-from", engine.DefaultProxyFrom, "with --proxy-protocol: the addresses (CIDR, comma-separated) proxies may connect from")
	fs.DurationVar(&cfg.ProxyHeaderTimeout, "proxy-header-timeout", engine.DefaultProxyHeaderTimeout, "with --proxy-protocol: time for a connection's PROXY header to arrive")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json")
	sizeVar(fs, &o.gcReserve, "gc-reserve", 16<<20, "garbage headroom: the collector lets garbage grow to (live heap + this) × gc-percent/100 before a collection, so a busy server with a small heap is not collected dozens of times a second; costs no memory while idle (0: none)")
	fs.IntVar(&o.gcPercent, "gc-percent", 50, "Go GC target: heap growth allowed over live data before a collection (lower: less memory per idle connection, a little more CPU; the GOGC variable wins when set)")
	fs.IntVar(&o.workers, "workers", 1, "independent event loops, each with its own Lua state, sharing the listen ports (SO_REUSEPORT)")
	fs.BoolVar(&cfg.Watch, "watch", false, "reload when the script or a module it required from disk changes")
	fs.StringVar(&o.adminSocket, "admin-socket", "", "serve the live console on this Unix socket (mode 0600, only this user); attach with pocketlua console PATH")
	fs.StringVar(&o.metricsAddr, "metrics", "", "serve GET /metrics (Prometheus), /healthz and /readyz on this host:port, a listener of its own (docs/METRICS.md)")
	fs.IntVar(&o.metricsMaxSeries, "metrics-max-series", metrics.DefaultMaxSeries, "label sets one script metric may hold; more raise a Lua error")
	sizeVar(fs, &cfg.MaxPublish, "max-publish", engine.DefaultMaxPublish, "largest message server.publish takes (a Lua error beyond)")
	fs.IntVar(&cfg.MaxSubscriptions, "max-subscriptions", engine.DefaultMaxSubscriptions, "topics one connection may subscribe to")
	fs.DurationVar(&cfg.PublishFlushDelay, "publish-flush-delay", engine.DefaultPublishFlushDelay, "least time between two writes of published messages to one subscriber: those it gets meanwhile wait and leave together (less CPU per delivery; a message after a quiet spell is not delayed; 0: each at once)")
	fs.StringVar(&o.brokerURL, "broker", "", "join the processes on one broker: nats://host:port or redis://host:port/db (docs/SCALING.md); none: the workers of this process only")
	fs.IntVar(&o.brokerQueue, "broker-queue", broker.DefaultQueue, "publishes that may wait for the broker, and messages from it waiting to be handed to the workers; more are dropped and counted")
	sizeVar(fs, &o.brokerQueueBytes, "broker-queue-bytes", broker.DefaultQueueBytes, "bytes of publishes that may wait for the broker, and of messages from it waiting to be handed to the workers; more are dropped and counted")
	sizeVar(fs, &o.deliveryQueueBytes, "delivery-queue-bytes", broker.DefaultPendingBytes, "bytes of topic messages that may wait for one worker's loop; more are dropped and counted (pubsub_dropped)")
	fs.IntVar(&o.sharedMaxDicts, "shared-max-dicts", shared.DefaultMaxDicts, "server.shared dictionaries a process may create; more raise a Lua error")
	fs.BoolVar(&o.check, "check", false, "load the script, report errors with file:line, and exit")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return cfg, o, err
	}
	switch fs.NArg() {
	case 0:
	case 1:
		cfg.Script = fs.Arg(0)
		if st, err := os.Stat(cfg.Script); err != nil {
			return cfg, o, fmt.Errorf("script: %w", err)
		} else if st.IsDir() {
			return cfg, o, fmt.Errorf("script %s is a directory", cfg.Script)
		}
	default:
		return cfg, o, fmt.Errorf("%w: one script at most, got %q", errUsage, fs.Args())
	}
	if cfg.Watch && cfg.Script == "" {
		return cfg, o, fmt.Errorf("%w: --watch needs a script file (the embedded %s never changes): pocketlua --watch app.lua", errUsage, defaultScript)
	}
	switch cfg.Poller {
	case "epoll", "io_uring", "auto", "poll":
	default:
		return cfg, o, fmt.Errorf("--poller %q: want epoll, io_uring, auto or poll", cfg.Poller)
	}
	if !engine.ValidUringBuffers(cfg.UringBuffers) {
		return cfg, o, fmt.Errorf("--uring-buffers %d: want a power of two from 16 to 32768", cfg.UringBuffers)
	}
	for name, v := range map[string]int64{"max-conns": int64(cfg.MaxConns), "max-queued-bytes": int64(cfg.MaxQueuedBytes),
		"high-water": int64(cfg.HighWater), "low-water": int64(cfg.LowWater), "max-message": cfg.MaxMessage,
		"max-publish": int64(cfg.MaxPublish), "max-subscriptions": int64(cfg.MaxSubscriptions)} {
		if v <= 0 {
			return cfg, o, fmt.Errorf("--%s must be positive", name)
		}
	}
	if o.gcReserve < 0 || o.gcReserve > 1<<30 {
		return cfg, o, fmt.Errorf("--gc-reserve must be between 0 and 1GiB")
	}
	if o.gcPercent < 10 || o.gcPercent > 1000 {
		return cfg, o, fmt.Errorf("--gc-percent must be between 10 and 1000")
	}
	if cfg.PublishFlushDelay < 0 || cfg.PublishFlushDelay > time.Second {
		return cfg, o, fmt.Errorf("--publish-flush-delay must be between 0 and 1s")
	}
	if o.brokerQueue < 1 {
		return cfg, o, fmt.Errorf("--broker-queue must be positive")
	}
	for name, v := range map[string]int64{"broker-queue-bytes": o.brokerQueueBytes, "delivery-queue-bytes": o.deliveryQueueBytes, "shared-max-dicts": int64(o.sharedMaxDicts)} {
		if v <= 0 {
			return cfg, o, fmt.Errorf("--%s must be positive", name)
		}
	}
	if o.metricsMaxSeries < 1 {
		return cfg, o, fmt.Errorf("--metrics-max-series must be positive")
	}
	if o.metricsAddr != "" {
		if _, _, err := net.SplitHostPort(o.metricsAddr); err != nil {
			return cfg, o, fmt.Errorf("--metrics %q: want host:port", o.metricsAddr)
		}
	}
	o.listenSet = fs.Changed("listen")
	if o.workers < 1 || o.workers > 1024 {
		return cfg, o, fmt.Errorf("--workers must be between 1 and 1024")
	}
	if cfg.MaxFrame < 0 || cfg.HandlerTimeout < 0 || cfg.ShutdownGrace <= 0 || cfg.CloseTimeout <= 0 {
		return cfg, o, fmt.Errorf("durations and limits must not be negative (shutdown-grace and close-timeout must be positive)")
	}
	if cfg.MaxString <= 0 || cfg.MaxMemory < 0 || cfg.MaxSyntaxDepth <= 0 {
		return cfg, o, fmt.Errorf("--max-string and --max-syntax-depth must be positive, --max-memory not negative")
	}
	if cfg.LowWater > cfg.HighWater || cfg.HighWater > cfg.MaxQueuedBytes {
		return cfg, o, fmt.Errorf("want --low-water <= --high-water <= --max-queued-bytes")
	}
	if cfg.HandlerTimeout == 0 {
		cfg.HandlerTimeout = engine.NoHandlerTimeout // the flag's 0 disables
	}
	st, err := engine.ParseStartups("ssh-max-startups", *sshStartups)
	if err != nil {
		return cfg, o, err
	}
	cfg.SSHStartupsBegin, cfg.SSHStartupsRate, cfg.SSHStartupsFull = st.Begin, st.Rate, st.Full
	if cfg.SSHMaxConns <= 0 || cfg.SSHLoginGrace <= 0 {
		return cfg, o, fmt.Errorf("--ssh-max-conns and --ssh-login-grace must be positive")
	}
	if err := parseTLSFlags(fs, &cfg, &o, *tlsCerts, *tlsKeys, *tlsMin, *tlsClientCA, *tlsClientAuth, *tlsStartups, *tlsWorkers); err != nil {
		return cfg, o, err
	}
	if err := parseProxyFlags(fs, &cfg, *proxyFrom); err != nil {
		return cfg, o, err
	}
	if o.brokerURL == "none" { // the documented default, said out loud
		o.brokerURL = ""
	}
	cfg.Listen = *listen
	cfg.Batteries = scripts.FS
	cfg.DefaultScript = defaultScript
	return cfg, o, nil
}

// resolvePoller settles --poller io_uring or auto once for all workers:
// auto falling back to epoll says so in one line, at info: a kernel or
// container refusing io_uring is common and the server runs as designed.
func resolvePoller(cfg *engine.Config, logger *slog.Logger) error {
	resolved, fallback, err := engine.ResolvePoller(cfg.Poller)
	if err != nil {
		return err
	}
	if fallback != nil {
		logger.Info("--poller auto: io_uring unavailable, using "+resolved, "err", fallback)
	}
	cfg.Poller = resolved
	return nil
}

func scriptName(cfg engine.Config) string {
	if cfg.Script == "" {
		return "embedded:" + defaultScript
	}
	return cfg.Script
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: durationAsString}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// durationAsString writes durations as "1.5s" in both formats (the JSON
// handler would write nanoseconds).
func durationAsString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// logListening writes the startup line: the --listen addresses (what a
// client dials, and what the tests read), then the listeners the main
// script opened. It is one slog record like every other line.
func logListening(logger *slog.Logger, srvs []*engine.Server) {
	first := srvs[0]
	attrs := []any{"addr", strings.Join(first.Addrs(), ",")}
	if extra := first.ScriptAddrs(); len(extra) > 0 {
		attrs = append(attrs, "script_listeners", strings.Join(extra, ","))
	}
	attrs = append(attrs, "script", first.Script(), "poller", first.PollerName(), "workers", len(srvs), "version", releaseVersion())
	logger.Info("listening", attrs...)
	for _, a := range first.Addrs() {
		if host, _, err := net.SplitHostPort(a); err == nil && (host == "0.0.0.0" || host == "::") {
			logger.Info("listening on all interfaces: reachable from other machines", "addr", a)
		}
	}
}
