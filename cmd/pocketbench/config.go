package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Config holds one run's settings; the CLI fills it from flags and tests
// build it directly.
type Config struct {
	Mode     string        // "echo", "idle" or "connect"
	Conns    int           // concurrent connections (echo, idle) or dialers (connect)
	Size     int           // payload bytes per message
	Pipeline int           // messages in flight per connection (echo)
	Duration time.Duration // measured window (echo, connect)
	Warmup   time.Duration // unmeasured time before the window (echo, connect)
	URL      string        // ws:// target; the path goes into the request line
	Raw      string        // host:port of a raw TCP echo server; overrides URL
	Text     bool          // send text frames instead of binary
	Sources  int           // spread connections over 127.0.0.1..127.0.0.N
	PID      int           // server process for CPU and RSS readings; 0 = none
	Settle   time.Duration // idle: wait after opening before reading RSS
	Echo     bool          // connect: one echo per connection before closing
	Drain    time.Duration // bound on waiting for in-flight echoes at the end
	Timeout  time.Duration // bound on dial+handshake and on the close reply
	Dialers  int           // concurrent dials while opening connections
	Loops    int           // echo: 0 = one goroutine per connection; N = N pinned epoll loops (0 under TLS)
	Stderr   io.Writer     // where the first errors are described; nil = silent

	// fanout mode; PIDs also lets echo and connect sum one process.
	URLs       []string // server URLs the connections are spread over; empty = URL
	Proto      string   // "pocketlua" or "centrifuge"
	Topic      string   // the topic (channel) everyone uses
	Publishers int      // publishing connections
	Rate       int      // publications per second, all publishers together
	PIDs       []int    // server processes whose CPU is summed; empty = PID

	// TLS (--tls, or a wss:// URL): crypto/tls client, WebSocket over it.
	TLS           bool
	TLSInsecure   bool   // skip certificate verification
	TLSCA         string // PEM file of the CA to verify against (default: system roots)
	TLSServerName string // SNI and verified name; default the URL's host
	TLSResume     bool   // connect: resume sessions; only resumed handshakes count

	// idle mode: after opening, one echo of each size per connection, in
	// order, and the RSS after each round.
	IdleEcho []int
}

// pids lists the server processes whose CPU time is measured.
func (c *Config) pids() []int {
	if len(c.PIDs) > 0 {
		return c.PIDs
	}
	if c.PID > 0 {
		return []int{c.PID}
	}
	return nil
}

// Defaults, shared by the CLI and tests.
const (
	defaultConns    = 100
	defaultSize     = 32
	defaultPipeline = 1
	defaultDuration = 10 * time.Second
	defaultWarmup   = time.Second
	defaultURL      = "ws://127.0.0.1:9002/"
	defaultSources  = 4
	defaultSettle   = 2 * time.Second
	defaultDrain    = 2 * time.Second
	defaultTimeout  = 5 * time.Second
	defaultDialers  = 64
	defaultTopic    = "bench.fanout"
	defaultRate     = 100
	defaultLoops    = 1        // measured cheaper per message than a goroutine per connection; see README
	maxSize         = 64 << 20 // a frame per connection is held in memory
	maxPipeline     = 1 << 16
)

func defaultConfig(mode string) Config {
	return Config{
		Mode: mode, Conns: defaultConns, Size: defaultSize, Pipeline: defaultPipeline,
		Duration: defaultDuration, Warmup: defaultWarmup, URL: defaultURL,
		Sources: defaultSources, Settle: defaultSettle, Drain: defaultDrain,
		Timeout: defaultTimeout, Dialers: defaultDialers, Loops: defaultLoops, Stderr: os.Stderr,
		Proto: protoPocketlua, Topic: defaultTopic, Publishers: 1, Rate: defaultRate,
	}
}

func (c *Config) validate() error {
	if strings.HasPrefix(c.URL, "wss://") && c.Raw == "" {
		c.TLS = true
	}
	switch {
	case c.Conns < 1:
		return errors.New("--conns must be at least 1")
	case c.Size < 0 || c.Size > maxSize:
		return fmt.Errorf("--size must be in [0, %d]", maxSize)
	case c.Raw != "" && c.Size < 1 && (c.Mode == "echo" || c.Echo):
		return errors.New("--size must be at least 1 with --raw: an empty message cannot be echoed over a byte stream")
	case c.Pipeline < 1 || c.Pipeline > maxPipeline:
		return fmt.Errorf("--pipeline must be in [1, %d]", maxPipeline)
	case c.Duration <= 0 && c.Mode != "idle":
		return errors.New("--duration must be positive")
	case c.Warmup < 0 || c.Settle < 0 || c.Drain < 0:
		return errors.New("durations must not be negative")
	case c.Timeout <= 0:
		return errors.New("--timeout must be positive")
	case c.Loops < 0 || c.Loops > 1024:
		return errors.New("--loops must be in [0, 1024]")
	case c.Dialers < 1:
		return errors.New("--dialers must be at least 1")
	case c.Raw != "" && c.Mode == "idle":
		return errors.New("idle mode holds WebSocket connections; --raw is not supported")
	case len(c.PIDs) > 1 && c.Mode == "idle":
		return errors.New("idle mode reads the RSS of one --pid")
	}
	if c.Mode == "fanout" {
		if err := c.validateFanout(); err != nil {
			return err
		}
	}
	for _, n := range c.IdleEcho {
		if n < 0 || n > 1<<20 {
			return errors.New("--idle-echo sizes must be in [0, 1048576]")
		}
	}
	if len(c.IdleEcho) > 0 && c.Mode != "idle" {
		return errors.New("--idle-echo applies to idle mode")
	}
	return c.validateTLS()
}

func (c *Config) validateFanout() error {
	switch {
	case c.Raw != "":
		return errors.New("fanout mode speaks WebSocket; --raw is not supported")
	case c.Proto != protoPocketlua && c.Proto != protoCentrifuge:
		return fmt.Errorf("--proto %q: pocketlua or centrifuge", c.Proto)
	case c.Publishers < 1:
		return errors.New("--publishers must be at least 1")
	case c.Rate < 1 || c.Rate > 1_000_000:
		return errors.New("--rate must be in [1, 1000000]")
	case c.Size > 1<<20:
		return errors.New("--size: fanout payloads are at most 1 MiB")
	case c.Topic == "" || len(c.Topic) > 255 || strings.ContainsAny(c.Topic, "/?#\" \t*>"):
		return fmt.Errorf("--topic %q: 1-255 characters, no spaces, quotes, wildcards or URL delimiters", c.Topic)
	}
	return nil
}

// Run executes the configured mode.
func Run(c *Config) (*Result, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	switch c.Mode {
	case "echo":
		return runEcho(c)
	case "idle":
		return runIdle(c)
	case "connect":
		return runConnect(c)
	case "fanout":
		return runFanout(c)
	}
	return nil, fmt.Errorf("unknown mode %q", c.Mode)
}

// sleepUntil waits for t; a single bounded sleep, nothing to poll.
func sleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}
