package engine

// Limits on what a single Lua library call may build. The handler guard
// stops Lua code, but not a Go library function that runs for minutes or
// allocates gigabytes in one call, so the library functions that can do
// that from small inputs are replaced with bounded versions:
//
//   - string.rep, string.format and table.concat refuse a result over
//     --max-string (64 MiB) before allocating it;
//   - string.gsub and string.gmatch of gopher-lua find every match up front
//     (about 100 bytes each) and gsub rebuilds the whole string once per
//     replacement (100,000 replacements took 19 s and 20 GB of garbage).
//     The versions here match in batches, build the result once, stop at
//     --max-string and check the guard between batches;
//   - loadstring, load, loadfile and dofile refuse code nested deeper than
//     --max-syntax-depth: the compiler recurses once per level and a few MB
//     of "{{{{..." overflowed the Go stack, which kills the process;
//   - coroutine.create and coroutine.wrap give the new coroutine the
//     guard's context (see guardContext in guard.go).

import (
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
	"github.com/yuin/gopher-lua/pm"
)

// Default limits. Config zero values take them, except MaxMemory, for
// which zero means no cap (the CLI's --max-memory defaults to
// DefaultMaxMemory).
const (
	DefaultMaxString      = 64 << 20
	DefaultMaxMemory      = 2 << 30
	DefaultMaxSyntaxDepth = 10000
)

// luaLimits are the limits one Lua state enforces.
type luaLimits struct {
	maxString int
	maxDepth  int
}

// registry key under which the state's syntax depth limit is kept for
// compile (lua.go), which only gets the state.
const depthKey = "pocketlua.max_syntax_depth"

// installLimits replaces the unbounded library functions of L.
func installLimits(L *lua.LState, cfg *Config) {
	lim := &luaLimits{maxString: DefaultMaxString, maxDepth: DefaultMaxSyntaxDepth}
	if cfg.MaxString > 0 {
		lim.maxString = int(min(cfg.MaxString, int64(maxInt)))
	}
	if cfg.MaxSyntaxDepth > 0 {
		lim.maxDepth = cfg.MaxSyntaxDepth
	}
	L.SetField(L.Get(lua.RegistryIndex), depthKey, lua.LNumber(lim.maxDepth))

	str := L.GetGlobal("string").(*lua.LTable) // also the strings' __index
	str.RawSetString("rep", L.NewFunction(lim.rep))
	str.RawSetString("format", L.NewFunction(lim.format))
	str.RawSetString("gsub", L.NewFunction(lim.gsub))
	gmatch := L.NewFunction(lim.gmatch)
	str.RawSetString("gmatch", gmatch)
	str.RawSetString("gfind", gmatch)

	tbl := L.GetGlobal("table").(*lua.LTable)
	concat := tbl.RawGetString("concat").(*lua.LFunction).GFunction
	tbl.RawSetString("concat", L.NewFunction(func(L *lua.LState) int {
		lim.checkConcat(L)
		return concat(L)
	}))

	L.SetGlobal("loadstring", L.NewFunction(lim.loadstring))
	L.SetGlobal("load", L.NewFunction(lim.load))
	L.SetGlobal("loadfile", L.NewFunction(lim.loadfile))
	L.SetGlobal("dofile", L.NewFunction(lim.dofile))

	co := L.GetGlobal("coroutine").(*lua.LTable)
	create := co.RawGetString("create").(*lua.LFunction).GFunction
	co.RawSetString("create", L.NewFunction(func(L *lua.LState) int {
		n := create(L)
		if th, ok := L.Get(-1).(*lua.LState); ok {
			shareContext(L, th)
		}
		return n
	}))
	wrap := co.RawGetString("wrap").(*lua.LFunction).GFunction
	co.RawSetString("wrap", L.NewFunction(func(L *lua.LState) int {
		n := wrap(L)
		if fn, ok := L.Get(-1).(*lua.LFunction); ok && len(fn.Upvalues) > 0 {
			if th, ok := fn.Upvalues[0].Value().(*lua.LState); ok {
				shareContext(L, th)
			}
		}
		return n
	}))
}

const maxInt = int(^uint(0) >> 1)

// shareContext gives a new coroutine its creator's context (the guard's).
func shareContext(L, th *lua.LState) {
	if ctx := L.Context(); ctx != nil {
		th.SetContext(ctx)
	}
}

func (lim *luaLimits) tooBig(L *lua.LState, fn string, n float64) {
	L.RaiseError("%s: the result would be %.0f bytes, over the %d-byte limit (--max-string)", fn, n, lim.maxString)
}

// interrupted raises the guard's error if it cancelled the running call,
// for long Go loops that do not run Lua instructions.
func interrupted(L *lua.LState) {
	if ctx := L.Context(); ctx != nil {
		select {
		case <-ctx.Done():
			L.RaiseError("%s", ctx.Err().Error())
		default:
		}
	}
}

// rep is string.rep(s, n[, sep]): n copies of s separated by sep (Lua 5.2).
func (lim *luaLimits) rep(L *lua.LState) int {
	s := L.CheckString(1)
	n := float64(L.CheckNumber(2))
	sep := L.OptString(3, "")
	n = math.Trunc(n) // as CheckInt would
	if n < 1 || n != n || s == "" && sep == "" {
		L.Push(lua.LString(""))
		return 1
	}
	size := float64(len(s))*n + float64(len(sep))*(n-1)
	if size > float64(lim.maxString) {
		lim.tooBig(L, "string.rep", size)
	}
	count := int(n)
	if sep == "" {
		L.Push(lua.LString(strings.Repeat(s, count)))
		return 1
	}
	var b strings.Builder
	b.Grow(int(size))
	for i := 0; i < count; i++ {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(s)
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// format is gopher-lua's string.format with an upper bound on the result
// checked first: Go's fmt takes widths and precisions up to 1e6, so a
// format string of a few KB with enough arguments could ask for GBs.
func (lim *luaLimits) format(L *lua.LState) int {
	f := L.CheckString(1)
	top := L.GetTop()
	npat := strings.Count(f, "%") - strings.Count(f, "%%")
	nargs := max(min(npat, top-1), 0)
	if bound := formatBound(L, f, nargs); bound > float64(lim.maxString) {
		lim.tooBig(L, "string.format", bound)
	}
	args := make([]any, nargs)
	for i := range args {
		args[i] = L.Get(i + 2)
	}
	L.Push(lua.LString(fmt.Sprintf(f, args...)))
	return 1
}

// formatBound is an upper bound on the length of fmt.Sprintf(f, args...)
// with the first nargs arguments after f on L's stack.
func formatBound(L *lua.LState, f string, nargs int) float64 {
	argLen := func(i int) (float64, bool) {
		if i >= nargs {
			return 0, false
		}
		if s, ok := L.Get(i + 2).(lua.LString); ok {
			return float64(len(s)), true
		}
		return 0, false
	}
	// Every argument once more, for "%!(EXTRA ...)" or a bad verb.
	bound := float64(len(f))
	longest, anyString := 0.0, false
	for i := 0; i < nargs; i++ {
		n, ok := argLen(i)
		bound += n + 400
		if ok {
			longest, anyString = max(longest, n), true
		}
	}
	// %[n]v and * take arguments out of order: assume the longest each time.
	explicit := strings.ContainsAny(f, "[*")
	arg := 0
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		if i < len(f) && f[i] == '%' {
			continue
		}
		num := func() float64 {
			n := 0.0
			for i < len(f) && strings.IndexByte("+-# 0123456789[]*", f[i]) >= 0 {
				if f[i] >= '0' && f[i] <= '9' {
					n = min(n*10+float64(f[i]-'0'), 1e7)
				}
				i++
			}
			return n
		}
		width := num()
		prec := 0.0
		if i < len(f) && f[i] == '.' {
			i++
			prec = num()
		}
		verb := byte('v')
		if i < len(f) {
			verb = f[i]
		}
		n, isString := argLen(arg)
		if explicit {
			n, isString = longest, anyString
		}
		arg++
		out := 400.0 // a number (%f of 1e308 has 309 digits), a value's name
		if isString {
			switch verb {
			case 'q':
				out = 4*n + 2
			case 'x', 'X':
				out = 3 * n
			default:
				out = n + 64
			}
		}
		bound += max(width, out) + prec + 64
	}
	return bound
}

// checkConcat bounds table.concat(t[, sep[, i[, j]]]) before gopher-lua
// builds it: a few thousand references to one large string make a huge
// result. It mirrors gopher-lua's argument handling and leaves every error
// to it.
func (lim *luaLimits) checkConcat(L *lua.LState) {
	tbl, ok := L.Get(1).(*lua.LTable)
	if !ok {
		return
	}
	sep := ""
	if s, ok := L.Get(2).(lua.LString); ok {
		sep = string(s)
	}
	n := tbl.Len()
	i, j := 1, n
	if v := L.Get(3); v != lua.LNil {
		i = int(lua.LVAsNumber(v)) // a numeric string counts, as in CheckInt
	}
	if v := L.Get(4); v != lua.LNil {
		j = int(lua.LVAsNumber(v))
	}
	i = max(min(i, n), 1)
	j = min(j, n)
	size := 0.0
	for k := i; k <= j; k++ {
		switch v := tbl.RawGetInt(k).(type) {
		case lua.LString:
			size += float64(len(v))
		case lua.LNumber:
			size += 24
		default:
			return // gopher-lua raises its error
		}
		if k != j {
			size += float64(len(sep))
		}
	}
	if size > float64(lim.maxString) {
		lim.tooBig(L, "table.concat", size)
	}
}

// matchBatch is how many matches gsub and gmatch ask pm.Find for at a time.
const matchBatch = 256

// gsub is gopher-lua's string.gsub (same matches, same replacement rules,
// including its quirks: "%x" for a non-digit x stays "%x", a limit of 0
// replaces nothing unless the subject's first byte matches), built in one
// pass and bounded by --max-string.
func (lim *luaLimits) gsub(L *lua.LState) int {
	str := L.CheckString(1)
	pat := L.CheckString(2)
	L.CheckTypes(3, lua.LTString, lua.LTTable, lua.LTFunction)
	repl := L.CheckAny(3)
	limit := L.OptInt(4, -1)
	src := unsafeBytes(str)
	anchored := len(pat) > 0 && pat[0] == '^'
	var out []byte
	last, count, sp := 0, 0, 0
	for sp <= len(src) {
		want := matchBatch
		switch {
		case limit == 0:
			// pm.Find's own quirk: it stops at the first position that
			// does not match, or goes on to the end. Keep it, unbatched.
			want = 0
		case limit > 0:
			want = min(want, limit-count)
		}
		mds, err := pm.Find(pat, src, sp, want)
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		for _, md := range mds {
			start, end := md.Capture(0), md.Capture(1)
			rep, ok := gsubValue(L, str, repl, md)
			count++
			if !ok {
				continue
			}
			if size := len(out) + (start - last) + len(rep); size > lim.maxString {
				lim.tooBig(L, "string.gsub", float64(size+len(src)-end))
			}
			out = append(out, src[last:start]...)
			out = append(out, rep...)
			last = end
		}
		if len(mds) < want || want == 0 || anchored || count == limit {
			break
		}
		md := mds[len(mds)-1]
		sp = max(md.Capture(0)+1, md.Capture(1))
		interrupted(L)
	}
	if last == 0 && out == nil {
		L.Push(lua.LString(str))
	} else {
		if size := len(out) + len(src) - last; size > lim.maxString {
			lim.tooBig(L, "string.gsub", float64(size))
		}
		out = append(out, src[last:]...)
		L.Push(lua.LString(unsafe.String(unsafe.SliceData(out), len(out))))
	}
	L.Push(lua.LNumber(count))
	return 2
}

// gsubValue is the replacement for one match, and false when the match
// stays as it is (a table or function gave false or nil).
func gsubValue(L *lua.LState, str string, repl lua.LValue, md *pm.MatchData) (string, bool) {
	switch r := repl.(type) {
	case lua.LString:
		return expandRepl(L, string(r), str, md), true
	case *lua.LTable:
		idx := 0
		if md.CaptureLength() > 2 {
			idx = 2
		}
		var v lua.LValue
		if md.IsPosCapture(idx) {
			v = L.GetTable(r, lua.LNumber(md.Capture(idx)))
		} else {
			v = L.GetField(r, str[md.Capture(idx):md.Capture(idx+1)])
		}
		if lua.LVIsFalse(v) {
			return "", false
		}
		return lua.LVAsString(v), true
	case *lua.LFunction:
		L.Push(r)
		nargs := 0
		if md.CaptureLength() > 2 {
			for i := 2; i < md.CaptureLength(); i += 2 {
				if md.IsPosCapture(i) {
					L.Push(lua.LNumber(md.Capture(i)))
				} else {
					L.Push(lua.LString(captured(L, md, str, i)))
				}
				nargs++
			}
		} else {
			L.Push(lua.LString(captured(L, md, str, 0)))
			nargs++
		}
		L.Call(nargs, 1)
		v := L.Get(-1)
		L.Pop(1)
		if lua.LVIsFalse(v) {
			return "", false
		}
		return lua.LVAsString(v), true
	}
	return "", false
}

// expandRepl applies a string replacement as gopher-lua does: "%%" is a
// percent sign, "%0".."%9" a capture, "%" and another byte stay as they
// are, a final lone "%" too.
func expandRepl(L *lua.LState, repl, str string, md *pm.MatchData) string {
	if strings.IndexByte(repl, '%') < 0 {
		return repl
	}
	var b []byte
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '%' || i == len(repl)-1 {
			b = append(b, c)
			continue
		}
		i++
		switch d := repl[i]; {
		case d == '%':
			b = append(b, '%')
		case d >= '0' && d <= '9':
			b = append(b, captured(L, md, str, 2*int(d-'0'))...)
		default:
			b = append(b, '%', d)
		}
	}
	return string(b)
}

// captured is gopher-lua's capturedString: capture idx/2 of a match, the
// whole match for capture 1 of a pattern without captures, a position
// capture as its number.
func captured(L *lua.LState, md *pm.MatchData, str string, idx int) string {
	if idx > 2 && idx >= md.CaptureLength() {
		L.RaiseError("invalid capture index")
	}
	if idx >= md.CaptureLength() && idx == 2 {
		idx = 0
	}
	if md.IsPosCapture(idx) {
		return strconv.Itoa(md.Capture(idx))
	}
	return str[md.Capture(idx):md.Capture(idx+1)]
}

// gmatch is string.gmatch finding matches a batch at a time instead of all
// at once. The pattern is checked (and the first batch found) at the call.
func (lim *luaLimits) gmatch(L *lua.LState) int {
	it := &gmatchIter{str: L.CheckString(1), pat: L.CheckString(2)}
	it.anchored = len(it.pat) > 0 && it.pat[0] == '^'
	it.fetch(L)
	L.Push(L.NewFunction(it.next))
	return 1
}

type gmatchIter struct {
	str, pat string
	anchored bool
	sp       int // where the next batch starts
	done     bool
	batch    []*pm.MatchData
}

func (it *gmatchIter) fetch(L *lua.LState) {
	mds, err := pm.Find(it.pat, unsafeBytes(it.str), it.sp, matchBatch)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	it.batch = mds
	if len(mds) < matchBatch || it.anchored {
		it.done = true
		return
	}
	md := mds[len(mds)-1]
	it.sp = max(md.Capture(0)+1, md.Capture(1))
}

func (it *gmatchIter) next(L *lua.LState) int {
	if len(it.batch) == 0 {
		if it.done {
			return 0
		}
		it.fetch(L)
		if len(it.batch) == 0 {
			return 0
		}
	}
	md := it.batch[0]
	it.batch[0] = nil
	it.batch = it.batch[1:]
	if md.CaptureLength() == 2 {
		L.Push(lua.LString(it.str[md.Capture(0):md.Capture(1)]))
		return 1
	}
	for i := 2; i < md.CaptureLength(); i += 2 {
		if md.IsPosCapture(i) {
			L.Push(lua.LNumber(md.Capture(i)))
		} else {
			L.Push(lua.LString(it.str[md.Capture(i):md.Capture(i+1)]))
		}
	}
	return md.CaptureLength()/2 - 1
}

// compileChunk parses and compiles like LState.Load, refusing code nested
// deeper than the limit before the (recursive) compiler sees it. Errors read
// as gopher-lua's.
func compileChunk(L *lua.LState, r io.Reader, name string, maxDepth int) (*lua.LFunction, error) {
	chunk, err := parse.Parse(r, name)
	if err != nil {
		return nil, err
	}
	if err := checkDepth(chunk, name, maxDepth); err != nil {
		return nil, err
	}
	proto, err := lua.Compile(chunk, name)
	if err != nil {
		return nil, err
	}
	return L.NewFunctionFromProto(proto), nil
}

// syntaxDepth is the limit installLimits recorded for L.
func syntaxDepth(L *lua.LState) int {
	if n, ok := L.GetField(L.Get(lua.RegistryIndex), depthKey).(lua.LNumber); ok && n > 0 {
		return int(n)
	}
	return DefaultMaxSyntaxDepth
}

// checkDepth walks the syntax tree without recursion and fails when it is
// deeper than maxDepth nodes.
func checkDepth(chunk []ast.Stmt, name string, maxDepth int) error {
	type item struct {
		v     reflect.Value
		depth int
		line  int // of the nearest node that knows its line
	}
	stack := []item{{reflect.ValueOf(chunk), 0, 1}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		v, depth, line := it.v, it.depth, it.line
		switch v.Kind() {
		case reflect.Interface:
			if !v.IsNil() {
				stack = append(stack, item{v.Elem(), depth, line})
			}
		case reflect.Pointer:
			if v.IsNil() {
				continue
			}
			if p, ok := v.Interface().(ast.PositionHolder); ok && p.Line() > 0 {
				line = p.Line()
			}
			if depth++; depth > maxDepth {
				return fmt.Errorf("%s:%d: chunk has too many syntax levels (more than %d; --max-syntax-depth)", name, line, maxDepth)
			}
			stack = append(stack, item{v.Elem(), depth, line})
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				if f := v.Field(i); f.Kind() == reflect.Interface || f.Kind() == reflect.Pointer || f.Kind() == reflect.Slice || f.Kind() == reflect.Struct {
					stack = append(stack, item{f, depth, line})
				}
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				stack = append(stack, item{v.Index(i), depth, line})
			}
		}
	}
	return nil
}

// pushLoaded returns fn, or nil and the error text, as loadstring does.
func pushLoaded(L *lua.LState, fn *lua.LFunction, err error) int {
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(fn)
	return 1
}

func (lim *luaLimits) loadstring(L *lua.LState) int {
	src := L.CheckString(1)
	name := L.OptString(2, "<string>")
	fn, err := compileChunk(L, strings.NewReader(src), name, lim.maxDepth)
	return pushLoaded(L, fn, err)
}

// load(reader[, chunkname]) as gopher-lua's: the reader is called until it
// returns nil or an empty string.
func (lim *luaLimits) load(L *lua.LState) int {
	reader := L.CheckFunction(1)
	name := L.OptString(2, "?")
	top := L.GetTop()
	var buf strings.Builder
	for {
		L.SetTop(top)
		L.Push(reader)
		L.Call(0, 1)
		ret := L.Get(-1)
		L.Pop(1)
		if ret == lua.LNil {
			break
		}
		if !lua.LVCanConvToString(ret) {
			L.Push(lua.LNil)
			L.Push(lua.LString("reader function must return a string"))
			return 2
		}
		s := ret.String()
		if s == "" {
			break
		}
		if buf.Len()+len(s) > lim.maxString {
			lim.tooBig(L, "load", float64(buf.Len()+len(s)))
		}
		buf.WriteString(s)
	}
	fn, err := compileChunk(L, strings.NewReader(buf.String()), name, lim.maxDepth)
	return pushLoaded(L, fn, err)
}

// readChunk reads a file as LState.LoadFile does ("" is stdin); a first
// line starting with # is skipped.
func readChunk(path string) (string, error) {
	var b []byte
	var err error
	if path == "" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", err
	}
	src := string(b)
	if strings.HasPrefix(src, "#") {
		if nl := strings.IndexByte(src, '\n'); nl >= 0 {
			src = "\n" + src[nl+1:] // keep the line numbers
		} else {
			src = ""
		}
	}
	return src, nil
}

func (lim *luaLimits) loadfile(L *lua.LState) int {
	name := "<stdin>"
	path := ""
	if L.GetTop() >= 1 {
		name = L.CheckString(1)
		path = name
	}
	src, err := readChunk(path)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString("can not open file: " + name))
		return 2
	}
	fn, err := compileChunk(L, strings.NewReader(src), name, lim.maxDepth)
	return pushLoaded(L, fn, err)
}

func (lim *luaLimits) dofile(L *lua.LState) int {
	path := L.ToString(1)
	top := L.GetTop()
	src, err := readChunk(path)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	fn, err := compileChunk(L, strings.NewReader(src), path, lim.maxDepth)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	L.Push(fn)
	L.Call(0, lua.MultRet)
	return L.GetTop() - top
}
