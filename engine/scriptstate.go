package engine

import (
	"log/slog"

	lua "github.com/yuin/gopher-lua"

	"pocketlua/bindings"
	"pocketlua/sandbox"
)

// NewScriptState makes a Lua state the way the server makes its loop's:
// the sandbox's library limits, require over dirs then the batteries,
// and the bindings served by srv, logging to logger (nil: nowhere). It has
// no loop and no handler guard: it serves tools that run scripts outside a
// server (pocketlua test) and tests that inspect the bindings.
func NewScriptState(cfg Config, dirs []string, srv bindings.Server, logger *slog.Logger) *lua.LState {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg.setDefaults()
	L := sandbox.NewState()
	prepareState(L, &cfg, dirs, srv, logger, func(string, string) {})
	return L
}

// prepareState installs on L everything a script sees; onDisk is told of
// every module file required from disk.
func prepareState(L *lua.LState, cfg *Config, dirs []string, srv bindings.Server, logger *slog.Logger, onDisk func(name, path string)) {
	sandbox.Install(L, sandbox.Limits{MaxString: cfg.MaxString, MaxSyntaxDepth: cfg.MaxSyntaxDepth})
	installRequire(L, dirs, cfg.Batteries, onDisk)
	bindings.Register(L, srv, logger)
	http, ok := srv.(bindings.HTTPCounter)
	if !ok {
		http = noHTTPCounter{}
	}
	bindings.RegisterMetrics(L, cfg.Metrics, max(cfg.Worker, 1), http)
}

// noHTTPCounter counts nothing: a state outside a server (pocketlua test).
type noHTTPCounter struct{}

func (noHTTPCounter) CountHTTPResponse(int) {}

// Compile compiles a chunk as the server compiles scripts: syntax errors
// read name:line: message, and the --max-syntax-depth limit applies.
func Compile(L *lua.LState, src, name string) (*lua.LFunction, error) {
	return compile(L, src, name)
}
