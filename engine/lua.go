package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"pocketlua/bindings"
	"pocketlua/sandbox"
)

// Events a class may define, looked up once per class rather than per call.
type event int

const (
	evAccept event = iota
	evStart
	evData
	evMessage
	evDrain
	evClosed
	evPing
	evPong
	evPublished // published(topic, data, kind): pub/sub deliveries go through Lua
	numEvents
	// Handlers that are not class events, timed like them.
	evTimer    = numEvents
	evReloaded = numEvents + 1
	evSSH      = numEvents + 2 // ssh.lua's ssh_* callbacks
)

var eventNames = [numEvents]string(bindings.HandlerNames[:numEvents])

// classInfo caches a class table's handlers. A connection re-resolves it
// when its instance's metatable changes (setmetatable from a script).
type classInfo struct {
	table   *lua.LTable
	version int
	main    bool // the main script's class: reloads may migrate its instances
	fns     [numEvents]*lua.LFunction
	proto   bindings.Protocol // the class's metrics_protocol field, for the traffic counters
}

func (s *Server) newClassInfo(t *lua.LTable, version int) *classInfo {
	ci := &classInfo{table: t, version: version}
	if t.RawGetString("__index") == lua.LNil {
		t.RawSetString("__index", t) // so instances find the methods
	}
	for ev, name := range eventNames {
		if fn, ok := s.L.GetField(t, name).(*lua.LFunction); ok {
			ci.fns[ev] = fn
		}
	}
	if p, ok := s.L.GetField(t, "metrics_protocol").(lua.LString); ok {
		ci.proto = bindings.ProtocolOf(string(p))
	}
	return ci
}

// installRequire makes require search the main script's folder, the -I
// folders, then the embedded batteries. package.path and the file loaders
// of the stock library are replaced, so the working directory never leaks in.
// onDisk is told of every module file loaded from disk, for reload and --watch.
func installRequire(L *lua.LState, dirs []string, batteries fs.FS, onDisk func(name, path string)) {
	pkg := L.GetGlobal("package").(*lua.LTable)
	pkg.RawSetString("path", lua.LString(strings.Join(searchPatterns(dirs), ";")))
	loaders := L.CreateTable(2, 0)
	loaders.Append(L.GetField(pkg, "loaders").(*lua.LTable).RawGetInt(1)) // package.preload
	loaders.Append(L.NewFunction(func(L *lua.LState) int {
		name := L.CheckString(1)
		rel := strings.ReplaceAll(name, ".", "/")
		var tried []string
		for _, dir := range dirs {
			for _, pat := range []string{"%s.lua", "%s/init.lua"} {
				path := filepath.Join(dir, fmt.Sprintf(pat, rel))
				if _, err := os.Stat(path); err != nil {
					tried = append(tried, path)
					continue
				}
				onDisk(name, path) // before compiling: --watch must see the fix of a broken module
				src, err := os.ReadFile(path)
				if err != nil {
					L.RaiseError("%s", err.Error())
				}
				fn, err := compile(L, string(src), path)
				if err != nil {
					L.RaiseError("%s", err.Error())
				}
				L.Push(fn)
				return 1
			}
		}
		if batteries != nil {
			if src, err := fs.ReadFile(batteries, rel+".lua"); err == nil {
				fn, err := compile(L, string(src), "embedded:"+rel+".lua")
				if err != nil {
					L.RaiseError("%s", err.Error())
				}
				L.Push(fn)
				return 1
			}
			tried = append(tried, "embedded:"+rel+".lua")
		}
		L.Push(lua.LString("\n\tno file '" + strings.Join(tried, "'\n\tno file '") + "'"))
		return 1
	}))
	pkg.RawSetString("loaders", loaders)
	L.SetField(L.Get(lua.RegistryIndex), "_LOADERS", loaders)
}

func searchPatterns(dirs []string) []string {
	var pats []string
	for _, d := range dirs {
		pats = append(pats, filepath.Join(d, "?.lua"), filepath.Join(d, "?/init.lua"))
	}
	return pats
}

// compile parses and compiles source under a chunk name used in tracebacks.
// Syntax errors read file:line: message, like runtime errors.
func compile(L *lua.LState, src, name string) (*lua.LFunction, error) {
	chunk, err := parse.Parse(strings.NewReader(src), name)
	if err != nil {
		var pe *parse.Error
		if errors.As(err, &pe) {
			if pe.Pos.Line == parse.EOF {
				return nil, fmt.Errorf("%s: %s at end of file", name, pe.Message)
			}
			return nil, fmt.Errorf("%s:%d: %s near '%s'", name, pe.Pos.Line, pe.Message, pe.Token)
		}
		return nil, err
	}
	if err := sandbox.CheckDepth(L, chunk, name); err != nil {
		return nil, err
	}
	proto, err := lua.Compile(chunk, name)
	if err != nil {
		return nil, err
	}
	return L.NewFunctionFromProto(proto), nil
}

// loadScript reads the main script from disk, or the default battery.
func loadScript(L *lua.LState, cfg *Config) (*lua.LFunction, string, error) {
	if cfg.Script == "" {
		if cfg.Batteries == nil || cfg.DefaultScript == "" {
			return nil, "", errors.New("no script given and no embedded default")
		}
		src, err := fs.ReadFile(cfg.Batteries, cfg.DefaultScript)
		if err != nil {
			return nil, "", fmt.Errorf("embedded default %s: %w", cfg.DefaultScript, err)
		}
		name := "embedded:" + cfg.DefaultScript
		fn, err := compile(L, string(src), name)
		return fn, name, err
	}
	f, err := os.Open(cfg.Script)
	if err != nil {
		return nil, cfg.Script, err
	}
	defer f.Close()
	src, err := io.ReadAll(f)
	if err != nil {
		return nil, cfg.Script, err
	}
	fn, err := compile(L, string(src), cfg.Script)
	return fn, cfg.Script, err
}
