package engine

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"pocketlua/sandbox"
	"pocketlua/scripts"
)

// benchServer loads script and opens one connection on a socketpair; the
// returned fd is the peer's end. A zero guard runs without a handler timeout.
func benchServer(b testing.TB, script string, guard time.Duration) (*Server, *Conn, int) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.lua")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		b.Fatal(err)
	}
	if guard == 0 {
		guard = NoHandlerTimeout
	}
	s, err := New(Config{Listen: []string{"127.0.0.1:0"}, Script: path, Batteries: scripts.FS, HandlerTimeout: guard})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.close)
	fds, err := socketPair()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Close(fds[1]) })
	s.openConn(fds[0], nil, s.main)
	for _, c := range s.conns {
		return s, c, fds[1]
	}
	b.Fatal("connection not opened")
	return nil, nil, 0
}

// BenchmarkDispatchMessage is the Lua call of one message handler that
// does a little work, with the handler-timeout guard on and off: the
// difference is the guard's cost.
func BenchmarkDispatchMessage(b *testing.B) {
	const script = `
local C = {}
function C:message(data, kind) self.n = (self.n or 0) + #data end
return C`
	payload := make([]byte, 32)
	for _, g := range []struct {
		name string
		d    time.Duration
	}{{"guard=off", 0}, {"guard=on", 2 * time.Second}} {
		b.Run(g.name, func(b *testing.B) {
			_, c, _ := benchServer(b, script, g.d)
			kind := lua.LString("binary")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.call(evMessage, 2, lua.LString(string(payload)), kind, 0)
			}
		})
	}
}

// BenchmarkWebSocketEcho is one masked 32-byte frame through the whole
// server path but the socket read: decode, Lua echo.lua, encode, write;
// the peer reads the echo.
func BenchmarkWebSocketEcho(b *testing.B) {
	for _, g := range []struct {
		name string
		d    time.Duration
	}{{"guard=off", 0}, {"guard=on", 2 * time.Second}} {
		b.Run(g.name, func(b *testing.B) {
			src, err := scripts.FS.ReadFile("echo.lua")
			if err != nil {
				b.Fatal(err)
			}
			s, c, peer := benchServer(b, string(src), g.d)
			if err := c.Upgrade("websocket", nil, ""); err != nil {
				b.Fatal(err)
			}
			frame := []byte{0x82, 0x80 | 32, 1, 2, 3, 4}
			frame = append(frame, make([]byte, 32)...)
			in := make([]byte, len(frame))
			back := make([]byte, 64)
			b.SetBytes(32)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				copy(in, frame) // decoding unmasks in place
				c.Data(in)
				s.loop.Round(0)
				if n, _ := unix.Read(peer, back); n != 34 {
					b.Fatalf("echo read %d bytes", n)
				}
			}
		})
	}
}

func BenchmarkDispatchMessageMemCap(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.lua")
	if err := os.WriteFile(path, []byte(`
local C = {}
function C:message(data, kind) self.n = (self.n or 0) + #data end
return C`), 0o644); err != nil {
		b.Fatal(err)
	}
	prev := debug.SetMemoryLimit(-1)
	b.Cleanup(func() { debug.SetMemoryLimit(prev) })
	s, err := New(Config{Listen: []string{"127.0.0.1:0"}, Script: path, Batteries: scripts.FS,
		HandlerTimeout: 2 * time.Second, MaxMemory: DefaultMaxMemory})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.close)
	fds, err := socketPair()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Close(fds[1]) })
	s.openConn(fds[0], nil, s.main)
	var c *Conn
	for _, x := range s.conns {
		c = x
	}
	payload := make([]byte, 32)
	kind := lua.LString("binary")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.call(evMessage, 2, lua.LString(string(payload)), kind, 0)
	}
}

// TestCompileRefusesDeepNesting: the main script and required modules go
// through compile, which applies --max-syntax-depth too.
func TestCompileRefusesDeepNesting(t *testing.T) {
	L := sandbox.NewState()
	defer L.Close()
	sandbox.Install(L, sandbox.Limits{MaxSyntaxDepth: 500})
	if _, err := compile(L, "return "+strings.Repeat("{", 501)+strings.Repeat("}", 501), "deep.lua"); err == nil || !strings.Contains(err.Error(), "deep.lua:1: chunk has too many syntax levels") {
		t.Fatalf("compile: %v", err)
	}
}

// socketPair is a connected pair of non-blocking, close-on-exec Unix
// sockets, made portably (no SOCK_NONBLOCK off Linux).
func socketPair() ([2]int, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return fds, err
	}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fds[0])
			unix.Close(fds[1])
			return fds, err
		}
	}
	return fds, nil
}
