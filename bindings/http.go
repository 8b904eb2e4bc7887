package bindings

import (
	"net/http"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"pocketlua/engine/ws"
)

// httpLoader: http.parse_request(buf[, max_head]) and http.error_response(status[, message]).
func httpLoader(L *lua.LState) int {
	L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"parse_request":  httpParseRequest,
		"error_response": httpErrorResponse,
	}))
	return 1
}

// httpParseRequest returns nil while the head is incomplete, (req, consumed)
// once it is whole, or (nil, status, response) when it must be refused.
func httpParseRequest(L *lua.LState) int {
	buf := L.CheckString(1)
	maxHead := L.OptInt(2, ws.DefaultMaxHead)
	req, n, err := ws.ParseRequest([]byte(buf), maxHead)
	if err != nil {
		return pushHTTPError(L, err)
	}
	if req == nil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(requestTable(L, req))
	L.Push(lua.LNumber(n))
	return 2
}

func pushHTTPError(L *lua.LState, err error) int {
	he, ok := err.(*ws.HTTPError)
	if !ok {
		he = &ws.HTTPError{Status: http.StatusBadRequest, Reason: err.Error()}
	}
	L.Push(lua.LNil)
	L.Push(lua.LNumber(he.Status))
	L.Push(lua.LString(he.Response()))
	return 3
}

func httpErrorResponse(L *lua.LState) int {
	status := L.CheckInt(1)
	if status < 100 || status > 999 {
		L.ArgError(1, "HTTP status out of range")
	}
	reason := L.OptString(2, http.StatusText(status))
	he := &ws.HTTPError{Status: status, Reason: reason}
	if t := L.OptTable(3, nil); t != nil {
		he.Header = http.Header{}
		t.ForEach(func(k, v lua.LValue) { he.Header.Add(k.String(), v.String()) })
	}
	L.Push(lua.LString(he.Response()))
	return 1
}

// requestTable exposes a parsed request: method, target, path, query,
// version, and headers with lower-case names (repeated ones joined by ", ").
func requestTable(L *lua.LState, req *http.Request) *lua.LTable {
	t := L.CreateTable(0, 8)
	t.RawSetString("method", lua.LString(req.Method))
	t.RawSetString("target", lua.LString(req.RequestURI))
	t.RawSetString("path", lua.LString(req.URL.Path))
	t.RawSetString("query", lua.LString(req.URL.RawQuery))
	t.RawSetString("version", lua.LString(req.Proto))
	h := L.CreateTable(0, len(req.Header)+1)
	for name, values := range req.Header {
		h.RawSetString(strings.ToLower(name), lua.LString(strings.Join(values, ", ")))
	}
	if req.Host != "" {
		h.RawSetString("host", lua.LString(req.Host))
	}
	t.RawSetString("headers", h)
	return t
}

// requestFromTable rebuilds enough of an http.Request to validate a
// WebSocket upgrade from a table made by requestTable.
func requestFromTable(L *lua.LState, t *lua.LTable) *http.Request {
	req := &http.Request{Method: lua.LVAsString(t.RawGetString("method")), Header: http.Header{}}
	proto := lua.LVAsString(t.RawGetString("version"))
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		major, minor = 1, 0
	}
	req.Proto, req.ProtoMajor, req.ProtoMinor = proto, major, minor
	if h, ok := t.RawGetString("headers").(*lua.LTable); ok {
		h.ForEach(func(k, v lua.LValue) { req.Header.Set(k.String(), v.String()) })
	}
	req.Host = req.Header.Get("Host")
	return req
}
