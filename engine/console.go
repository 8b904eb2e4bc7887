package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"

	"pocketlua/bindings"
	"pocketlua/sandbox"
)

// ConsoleReply is the answer to one line of the live console.
type ConsoleReply struct {
	Text string // captured print and log output, then the results
	Err  string // the request failed; shown after Text
	More bool   // the chunk is incomplete: send it again with more lines
}

// Console runs one console request on the loop, between events, and waits
// for its reply; safe from any goroutine. line is a Lua chunk, or one of the
// loop's commands: ":conns [filter]", ":inspect ID", ":close ID [code [reason]]",
// ":stats". A chunk runs under the handler guard, so a runaway expression is
// interrupted and the server goes on.
func (s *Server) Console(line string) ConsoleReply {
	wait := 30 * time.Second
	if s.cfg.HandlerTimeout > 0 {
		wait = s.cfg.HandlerTimeout + 5*time.Second
	}
	var r ConsoleReply
	if err := s.onLoop(wait, func() { r = s.consoleLine(line) }); err != nil {
		return ConsoleReply{Err: err.Error()}
	}
	return r
}

func (s *Server) consoleLine(line string) ConsoleReply {
	cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case ":conns":
		return ConsoleReply{Text: s.consoleConns(arg)}
	case ":inspect":
		c, err := s.consoleConnArg(arg)
		if err != nil {
			return ConsoleReply{Err: err.Error()}
		}
		return ConsoleReply{Text: bindings.Pretty(c.inst, bindings.PrettyOptions{Depth: 4})}
	case ":close":
		return s.consoleClose(arg)
	case ":stats":
		return ConsoleReply{Text: bindings.Pretty(bindings.StatsTable(s.L, s.Stats()), bindings.PrettyOptions{})}
	}
	if strings.HasPrefix(cmd, ":") {
		return ConsoleReply{Err: fmt.Sprintf("unknown command %s (:help lists them)", cmd)}
	}
	return s.consoleEval(line)
}

func (s *Server) consoleConnArg(arg string) (*Conn, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("want a connection id, got %q", arg)
	}
	c, ok := s.conns[id]
	if !ok {
		return nil, fmt.Errorf("no open connection %d", id)
	}
	return c, nil
}

func (s *Server) consoleClose(arg string) ConsoleReply {
	idText, rest, _ := strings.Cut(arg, " ")
	c, err := s.consoleConnArg(idText)
	if err != nil {
		return ConsoleReply{Err: err.Error()}
	}
	code := 0
	codeText, reason, _ := strings.Cut(strings.TrimSpace(rest), " ")
	if codeText != "" {
		if code, err = strconv.Atoi(codeText); err != nil {
			return ConsoleReply{Err: fmt.Sprintf("want a close code, got %q", codeText)}
		}
	}
	if reason == "" {
		reason = "closed from the console"
	}
	if err := c.Close(code, strings.TrimSpace(reason)); err != nil {
		return ConsoleReply{Err: err.Error()}
	}
	return ConsoleReply{Text: fmt.Sprintf("closed %d", c.id)}
}

// consoleConns is a table of the open connections whose row contains filter.
func (s *Server) consoleConns(filter string) string {
	conns := s.connList()
	sort.Slice(conns, func(i, j int) bool { return conns[i].id < conns[j].id })
	var b strings.Builder
	fmt.Fprintf(&b, "%-6s %-22s %-20s %-9s %-8s %-7s %s\n", "id", "peer", "class", "protocol", "age", "queued", "topics")
	shown := 0
	now := s.loop.Now()
	for _, c := range conns {
		class := fmt.Sprintf("%s v%d", s.className(c.cls), c.cls.version)
		age := (now.Sub(s.started) - time.Duration(c.opened)*time.Second).Round(time.Second)
		row := fmt.Sprintf("%-6d %-22s %-20s %-9s %-8s %-7d %s", c.id, c.Peer(), class, c.Mode(), age, c.Buffered(), s.topicsOf(c))
		if filter != "" && !strings.Contains(row, filter) {
			continue
		}
		b.WriteString(row)
		b.WriteByte('\n')
		shown++
	}
	fmt.Fprintf(&b, "(%d of %d connections)", shown, len(conns))
	return b.String()
}

// topicsOf lists c's subscriptions for :conns, cut short so that a
// connection holding hundreds keeps its row readable.
func (s *Server) topicsOf(c *Conn) string {
	const most = 60
	list := strings.Join(s.ps.byConn[c], ",")
	if len(list) > most {
		list = list[:most] + "..."
	}
	return strings.TrimRight(list, " ")
}

// className names a class for people: the main script's, or a listener's or
// connect's class by its name field when it has one.
func (s *Server) className(ci *classInfo) string {
	if name, ok := ci.table.RawGetString("name").(lua.LString); ok && name != "" {
		return string(name)
	}
	if ci.main {
		return s.script
	}
	return "class"
}

// consoleEval runs a chunk in the server's Lua state. As in Lua's own REPL,
// a line that is an expression shows its value: "return " is tried first.
// Globals read and written by the chunk are the script's; conn(ID) gives a
// connection's instance.
func (s *Server) consoleEval(chunk string) ConsoleReply {
	L := s.L
	fn, err := compile(L, "return "+chunk, "console")
	if err != nil {
		if fn, err = compile(L, chunk, "console"); err != nil {
			if incompleteChunk(err) {
				return ConsoleReply{More: true}
			}
			return ConsoleReply{Err: err.Error()}
		}
	}
	fn.Env = s.consoleEnv()

	oldPrint := L.GetGlobal("print")
	L.SetGlobal("print", L.NewFunction(func(L *lua.LState) int {
		var line strings.Builder
		for i := 1; i <= L.GetTop(); i++ {
			if i > 1 {
				line.WriteByte('\t')
			}
			line.WriteString(L.ToStringMeta(L.Get(i)).String())
		}
		s.capture.print(line.String())
		return 0
	}))
	s.capture.start()
	base := L.GetTop()
	L.Push(fn)
	s.guard.Enter()
	err = L.PCall(0, lua.MultRet, nil)
	timedOut := s.guard.Exit()
	text := s.capture.stop()
	L.SetGlobal("print", oldPrint)

	if err != nil {
		L.SetTop(base)
		msg, trace := sandbox.ErrorText(err)
		if heap, mem := s.guard.MemoryInterrupt(); timedOut && mem {
			msg = fmt.Sprintf("interrupted: Go heap at %d MiB, over --max-memory %d MiB", heap>>20, s.cfg.MaxMemory>>20)
		} else if timedOut {
			msg = fmt.Sprintf("interrupted: ran longer than the handler timeout (%s)", s.cfg.HandlerTimeout)
		} else if trace != "" {
			msg += "\n" + trace
		}
		return ConsoleReply{Text: text, Err: msg}
	}
	var results []string
	for i := base + 1; i <= L.GetTop(); i++ {
		results = append(results, bindings.Pretty(L.Get(i), bindings.PrettyOptions{}))
	}
	L.SetTop(base)
	return ConsoleReply{Text: text + strings.Join(results, "\n")}
}

// consoleEnv reads and writes the script's globals and adds conn(ID).
func (s *Server) consoleEnv() *lua.LTable {
	L := s.L
	env := L.CreateTable(0, 1)
	env.RawSetString("conn", L.NewFunction(func(L *lua.LState) int {
		if c, ok := s.conns[L.CheckInt64(1)]; ok {
			L.Push(c.inst)
		} else {
			L.Push(lua.LNil)
		}
		return 1
	}))
	mt := L.CreateTable(0, 2)
	mt.RawSetString("__index", L.G.Global)
	mt.RawSetString("__newindex", L.G.Global)
	env.Metatable = mt
	return env
}

// incompleteChunk tells a chunk that ends too early (more lines will come)
// from one that is wrong.
func incompleteChunk(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "at end of file") || strings.Contains(msg, "'<eof>'")
}

// logCapture collects, in order, what a console chunk prints and the log
// records made while it runs, so they are shown to the console.
type logCapture struct {
	on  atomic.Bool
	mu  sync.Mutex
	buf strings.Builder
}

func (c *logCapture) start() {
	c.mu.Lock()
	c.buf.Reset()
	c.mu.Unlock()
	c.on.Store(true)
}

func (c *logCapture) stop() string {
	c.on.Store(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (c *logCapture) print(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.WriteString(line)
	c.buf.WriteByte('\n')
}

func (c *logCapture) add(r slog.Record, attrs []slog.Attr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(&c.buf, "%s %s", r.Level, r.Message)
	for _, a := range attrs {
		fmt.Fprintf(&c.buf, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&c.buf, " %s=%v", a.Key, a.Value)
		return true
	})
	c.buf.WriteByte('\n')
}

// captureHandler passes records on and, while a capture is on, copies them.
type captureHandler struct {
	inner slog.Handler
	c     *logCapture
	attrs []slog.Attr
}

func (h *captureHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *captureHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.c.on.Load() {
		h.c.add(r, h.attrs)
	}
	return h.inner.Handle(ctx, r)
}

func (h *captureHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &captureHandler{inner: h.inner.WithAttrs(attrs), c: h.c, attrs: append(h.attrs[:len(h.attrs):len(h.attrs)], attrs...)}
}

func (h *captureHandler) WithGroup(name string) slog.Handler {
	return &captureHandler{inner: h.inner.WithGroup(name), c: h.c, attrs: h.attrs}
}
