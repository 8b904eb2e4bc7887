// Package scripttest runs unit tests of Lua scripts: `*_test.lua` files that
// make instances of a client class on fake connections, deliver events to
// them and check what they send, with timers on a virtual clock. Each test
// gets a fresh Lua state made as the server makes its own (same library
// limits, require path and bindings), served by a fake server instead of
// sockets. These tests are for script authors' logic; the project's own
// end-to-end tests still run the real server with real clients.
package scripttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"pocketlua/engine"
)

// DefaultTimeout bounds one test, its file's main chunk included.
const DefaultTimeout = 10 * time.Second

// Options say what to run and where to write.
type Options struct {
	Paths     []string       // files, or folders searched for *_test.lua; none means "."
	Run       *regexp.Regexp // only tests whose name matches; nil runs all
	LuaPath   []string       // extra folders searched by require, after the test file's own
	Batteries fs.FS          // the embedded batteries, searched by require last
	Timeout   time.Duration  // per test; 0 means DefaultTimeout
	Verbose   bool           // also list passing tests, and every test's log
	Out       io.Writer
}

// Result counts the tests run.
type Result struct{ Passed, Failed int }

// Run runs the tests and writes one line per failure (with its message and
// log), then the summary "N passed, N failed". The error is for paths that
// cannot be read or hold no test file.
func Run(o Options) (Result, error) {
	var res Result
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	files, err := findFiles(o.Paths)
	if err != nil {
		return res, err
	}
	for _, file := range files {
		runFile(&o, file, &res)
	}
	fmt.Fprintf(o.Out, "%d passed, %d failed\n", res.Passed, res.Failed)
	return res, nil
}

// findFiles lists the files named, and the *_test.lua files under the
// folders named, in order.
func findFiles(paths []string) ([]string, error) {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		found := 0
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), "_test.lua") {
				files = append(files, path)
				found++
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if found == 0 {
			return nil, fmt.Errorf("%s: no *_test.lua files", p)
		}
	}
	return files, nil
}

// run is one fresh Lua state with file's main chunk run and its tests registered.
type run struct {
	L      *lua.LState
	tests  []test
	log    bytes.Buffer
	cancel context.CancelFunc
}

func (o *Options) load(file string) (*run, error) {
	r := &run{}
	w := newWorld()
	if abs, err := filepath.Abs(filepath.Dir(file)); err == nil {
		w.dir = abs
	}
	logger := slog.New(slog.NewTextHandler(&r.log, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{} // the time says nothing here and differs every run
			}
			return a
		}}))
	dirs := append([]string{filepath.Dir(file)}, o.LuaPath...)
	r.L = engine.NewScriptState(engine.Config{Batteries: o.Batteries}, dirs, w, logger)
	w.attach(r.L)
	mod := newModule(r.L, w, w.dir, &r.tests)
	// print goes with the test's log, shown under a failure or with -v.
	r.L.SetGlobal("print", r.L.NewFunction(func(L *lua.LState) int {
		for i := 1; i <= L.GetTop(); i++ {
			if i > 1 {
				r.log.WriteByte('\t')
			}
			r.log.WriteString(L.ToStringMeta(L.Get(i)).String())
		}
		r.log.WriteByte('\n')
		return 0
	}))
	r.L.PreloadModule(ModuleName, func(L *lua.LState) int { L.Push(mod); return 1 })
	var ctx context.Context
	ctx, r.cancel = context.WithTimeout(context.Background(), o.Timeout)
	r.L.SetContext(ctx)
	src, err := os.ReadFile(file)
	if err != nil {
		return r, err
	}
	fn, err := engine.Compile(r.L, string(src), file)
	if err != nil {
		return r, err
	}
	r.L.Push(fn)
	return r, r.call(0)
}

func (r *run) close() {
	r.cancel()
	r.L.Close()
}

// call runs the function on top of the stack with nargs arguments.
func (r *run) call(nargs int) error {
	err := r.L.PCall(nargs, 0, nil)
	if err != nil && r.L.Context().Err() != nil {
		return errTimeout
	}
	return err
}

var errTimeout = errors.New("timed out")

// runFile runs each selected test of file in a state of its own, so no
// test sees another's connections, timers, server.state or module globals.
func runFile(o *Options, file string, res *Result) {
	r, err := o.load(file)
	if err != nil {
		r.close()
		res.Failed++
		report(o, file+" (loading)", err, &r.log, 0)
		return
	}
	names := make([]string, len(r.tests))
	for i, t := range r.tests {
		names[i] = t.name
	}
	r.close()
	for i, name := range names {
		if o.Run != nil && !o.Run.MatchString(name) {
			continue
		}
		start := time.Now()
		r, err := o.load(file)
		if err == nil {
			if len(r.tests) != len(names) || r.tests[i].name != name {
				err = errors.New("the file registered other tests on its second run (tests must not depend on anything that changes between runs)")
			} else {
				r.L.Push(r.tests[i].fn)
				err = r.call(0)
			}
		}
		r.close()
		elapsed := time.Since(start)
		if err != nil {
			res.Failed++
			report(o, file+": "+name, err, &r.log, elapsed)
			continue
		}
		res.Passed++
		if o.Verbose {
			fmt.Fprintf(o.Out, "--- PASS: %s: %s (%.3fs)\n", file, name, elapsed.Seconds())
			indent(o.Out, r.log.String())
		}
	}
}

func report(o *Options, what string, err error, log *bytes.Buffer, elapsed time.Duration) {
	fmt.Fprintf(o.Out, "--- FAIL: %s (%.3fs)\n", what, elapsed.Seconds())
	indent(o.Out, errorText(err, o.Timeout))
	if log.Len() > 0 {
		fmt.Fprintln(o.Out, "    log:")
		indent(o.Out, "  "+strings.ReplaceAll(strings.TrimRight(log.String(), "\n"), "\n", "\n  "))
	}
}

// errorText is an assertion's "file:line: message", or a Lua error's
// message and traceback.
func errorText(err error, timeout time.Duration) string {
	if errors.Is(err, errTimeout) {
		return fmt.Sprintf("timed out after %s (a loop that never ends? see --timeout)", timeout)
	}
	var ae *lua.ApiError
	if !errors.As(err, &ae) {
		return err.Error()
	}
	if tbl, ok := ae.Object.(*lua.LTable); ok && tbl.RawGetString("failure") == lua.LTrue {
		return lua.LVAsString(tbl.RawGetString("message"))
	}
	msg := ae.Object.String()
	if ae.StackTrace != "" {
		msg += "\n" + ae.StackTrace
	}
	return msg
}

func indent(w io.Writer, text string) {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return
	}
	for _, line := range strings.Split(text, "\n") {
		fmt.Fprintf(w, "    %s\n", line)
	}
}
