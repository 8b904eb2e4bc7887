package sandbox

import (
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// Chunk loading: loadstring, load, loadfile and dofile refuse code nested
// deeper than --max-syntax-depth before the recursive compiler sees it.

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

// CheckDepth refuses a parsed chunk nested deeper than the limit Install
// recorded for L; every compile of a script or module goes through it.
func CheckDepth(L *lua.LState, chunk []ast.Stmt, name string) error {
	return checkDepth(chunk, name, syntaxDepth(L))
}

// syntaxDepth is the limit Install recorded for L.
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
