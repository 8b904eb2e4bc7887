package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

const usageHead = `pocketbench: load generator for pocketlua and any RFC 6455 or raw TCP echo server.

Usage: pocketbench MODE [flags]

Modes:
  echo     C connections each keep P messages of S bytes in flight for D;
           every echoed byte is checked; reports msgs/s, MB/s, latency
           percentiles and, with --pid, messages per server CPU-second.
             pocketbench echo -c 100 -s 32 -p 1 -d 10s --url ws://127.0.0.1:9002/ --pid $(pidof pocketlua)
             pocketbench echo -c 50 -s 1024 --raw 127.0.0.1:9003
  idle     open C WebSocket connections, hold them, and report the server's
           RSS growth per connection (needs --pid); spreads over --sources
           local addresses to pass the ~28k ephemeral ports per address.
             pocketbench idle -c 100000 --sources 8 --pid $(pidof pocketlua)
  connect  C dialers loop connect, handshake, [one echo], close for D;
           reports handshakes/s and handshake latency.
             pocketbench connect -c 16 -d 5s --echo --pid $(pidof pocketlua)
           With --tls (wss): full TLS handshakes, or resumed ones with --tls-resume.
             pocketbench connect --tls --tls-ca cert.pem -c 8 --echo -s 1 --pid $(pidof pocketlua)
  fanout   C WebSocket subscribers of one topic spread over --urls, --publishers
           publishing --rate messages/s in total for D; reports deliveries/s,
           publish-to-receive latency, lost deliveries and, with --pid (a list:
           CPU summed), deliveries per server CPU-second. --proto pocketlua
           uses tests/bench/fanout.lua (URL/sub/TOPIC, URL/pub/TOPIC);
           --proto centrifuge speaks Centrifuge's JSON protocol.
             pocketbench fanout -c 1000 --rate 200 --url ws://127.0.0.1:9002/ --pid $(pidof pocketlua)
             pocketbench fanout --proto centrifuge --urls ws://127.0.0.1:8000/connection/websocket --pid $PID

Targets must be loopback (127.0.0.0/8 or ::1). Exit status is 1 if any
error (bad echo, unexpected close, timeout, handshake failure) was counted,
2 on bad usage.

Flags:
`

// errUsage marks command-line mistakes (exit status 2).
var errUsage = errors.New("usage")

// parseArgs turns the command line into a Config. It returns errUsage
// (wrapped) for bad usage and pflag.ErrHelp after printing help.
func parseArgs(args []string, stderr io.Writer) (*Config, bool, error) {
	fs := pflag.NewFlagSet("pocketbench", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprint(stderr, usageHead)
		fs.PrintDefaults()
	}
	c := defaultConfig("")
	fs.IntVarP(&c.Conns, "conns", "c", c.Conns, "concurrent connections (echo, idle) or dialers (connect)")
	fs.IntVarP(&c.Size, "size", "s", c.Size, "payload bytes per message")
	fs.IntVarP(&c.Pipeline, "pipeline", "p", c.Pipeline, "messages in flight per connection (echo)")
	fs.DurationVarP(&c.Duration, "duration", "d", c.Duration, "measured window (echo, connect)")
	fs.DurationVar(&c.Warmup, "warmup", c.Warmup, "unmeasured run time before the window (echo, connect)")
	fs.StringVar(&c.URL, "url", c.URL, "WebSocket target; the path goes into the handshake")
	fs.StringVar(&c.Raw, "raw", "", "host:port of a raw TCP echo server instead of --url (echo, connect)")
	fs.BoolVar(&c.Text, "text", false, "send text frames (ASCII payload) instead of binary")
	fs.IntVar(&c.Sources, "sources", c.Sources, "spread connections over source addresses 127.0.0.1..N (IPv4 targets)")
	fs.IntSliceVar(&c.PIDs, "pid", nil, "server PID: CPU time from /proc/PID/stat, RSS from /proc/PID/status (required by idle); fanout, echo, connect: a list, CPU summed")
	fs.DurationVar(&c.Settle, "settle", c.Settle, "idle: wait after the last connection opened before reading RSS")
	fs.BoolVar(&c.Echo, "echo", false, "connect: one echo of --size bytes per connection before closing")
	fs.DurationVar(&c.Drain, "drain", c.Drain, "bound on waiting for in-flight echoes after the window")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "bound on dial+handshake and on the close reply")
	fs.IntVar(&c.Dialers, "dialers", c.Dialers, "concurrent dials while opening connections")
	fs.IntVar(&c.Loops, "loops", c.Loops, "echo: drive connections from N pinned epoll loops; 0 = one goroutine per connection")
	fs.StringSliceVar(&c.URLs, "urls", nil, "fanout: server URLs, comma-separated; connections go round-robin over them (default --url)")
	fs.StringVar(&c.Proto, "proto", c.Proto, "fanout: pocketlua or centrifuge")
	fs.StringVar(&c.Topic, "topic", c.Topic, "fanout: topic (Centrifuge channel)")
	fs.IntVar(&c.Publishers, "publishers", c.Publishers, "fanout: publishing connections")
	fs.IntVar(&c.Rate, "rate", c.Rate, "fanout: publications per second, all publishers together")
	fs.BoolVar(&c.TLS, "tls", false, "wss: TLS (crypto/tls) before the WebSocket upgrade; a wss:// --url implies it")
	fs.BoolVar(&c.TLSInsecure, "tls-insecure", false, "do not verify the server's certificate")
	fs.StringVar(&c.TLSCA, "tls-ca", "", "verify the server's certificate against this PEM CA file (default: system roots)")
	fs.StringVar(&c.TLSServerName, "tls-server-name", "", "SNI and the name verified (default: the --url host)")
	fs.BoolVar(&c.TLSResume, "tls-resume", false, "connect: resume TLS sessions (a session cache per dialer); only resumed handshakes count")
	fs.IntSliceVar(&c.IdleEcho, "idle-echo", nil, "idle: after opening, one echo of each SIZE per connection in turn, server RSS after each (e.g. 16,16384)")
	jsonOut := fs.Bool("json", false, "print one JSON object instead of the table")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fs.Usage()
			return nil, false, pflag.ErrHelp
		}
		fs.Usage()
		return nil, false, fmt.Errorf("%w: missing MODE (echo, idle, connect or fanout)", errUsage)
	}
	mode := args[0]
	switch mode {
	case "echo", "idle", "connect", "fanout":
	case "help":
		fs.Usage()
		return nil, false, pflag.ErrHelp
	default:
		return nil, false, fmt.Errorf("%w: unknown mode %q (echo, idle, connect or fanout)", errUsage, mode)
	}
	c.Mode = mode
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("%w: %v", errUsage, err)
	}
	if len(c.PIDs) > 0 {
		c.PID = c.PIDs[0]
	}
	if fs.NArg() > 0 {
		return nil, false, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if err := c.validate(); err != nil {
		return nil, false, fmt.Errorf("%w: %v", errUsage, err)
	}
	return &c, *jsonOut, nil
}

// run is main without the process exit: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, jsonOut, err := parseArgs(args, stderr)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "pocketbench: %v\n", err)
		return 2
	}
	cfg.Stderr = stderr
	res, err := Run(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "pocketbench: %v\n", err)
		return 1
	}
	if jsonOut {
		err = res.writeJSON(stdout)
	} else {
		err = res.writeTable(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pocketbench: %v\n", err)
		return 1
	}
	if res.Errors > 0 {
		return 1
	}
	return 0
}
