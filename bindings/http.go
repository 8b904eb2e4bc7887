package bindings

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strings"
	"sync"
	"time"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
	"pocketlua/httphead"
)

// httpLoader: http.parse_request(buf[, max_head]),
// http.error_response(status[, message[, headers]]), http.chunked(...)
// (a chunked body decoder), http.gzip(s[, level]), and the small helpers an HTTP server written
// in Lua needs: http.status_text(status), http.date([unix_seconds]) and
// http.parse_date(text).
func httpLoader(L *lua.LState) int {
	registerChunked(L)
	L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"chunked":        httpChunked,
		"gzip":           httpGzip,
		"parse_request":  httpParseRequest,
		"error_response": httpErrorResponse,
		"status_text":    httpStatusText,
		"date":           httpDate,
		"parse_date":     httpParseDate,
	}))
	return 1
}

// httpStatusText: http.status_text(404) == "Not Found"; "" for an unknown code.
func httpStatusText(L *lua.LState) int {
	L.Push(lua.LString(http.StatusText(L.CheckInt(1))))
	return 1
}

// httpDate: http.date([t]) formats Unix seconds t (default now) as an HTTP
// date, "Sun, 06 Nov 1994 08:49:37 GMT".
func httpDate(L *lua.LState) int {
	t := time.Now()
	if L.GetTop() >= 1 {
		t = time.Unix(L.CheckInt64(1), 0)
	}
	L.Push(lua.LString(t.UTC().Format(http.TimeFormat)))
	return 1
}

// httpParseDate: http.parse_date(s) reads an HTTP date in any of the three
// formats RFC 9110 accepts and returns Unix seconds, or nil.
func httpParseDate(L *lua.LState) int {
	t, err := http.ParseTime(strings.TrimSpace(L.CheckString(1)))
	if err != nil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LNumber(t.Unix()))
	return 1
}

// httpParseRequest returns nil while the head is incomplete, (req, consumed)
// once it is whole, or (nil, status, response) when it must be refused.
func httpParseRequest(L *lua.LState) int {
	buf := L.CheckString(1)
	maxHead := L.OptInt(2, httphead.DefaultMaxHead)
	// ReadHead only reads buf and keeps no reference to it.
	h, n, err := httphead.ReadHead(unsafe.Slice(unsafe.StringData(buf), len(buf)), maxHead)
	if err != nil {
		return pushHTTPError(L, err)
	}
	if h == nil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(headTable(L, h))
	L.Push(lua.LNumber(n))
	return 2
}

func pushHTTPError(L *lua.LState, err error) int {
	he, ok := err.(*httphead.HTTPError)
	if !ok {
		he = &httphead.HTTPError{Status: http.StatusBadRequest, Reason: err.Error()}
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
	he := &httphead.HTTPError{Status: status, Reason: reason}
	if t := L.OptTable(3, nil); t != nil {
		he.Header = http.Header{}
		t.ForEach(func(k, v lua.LValue) { he.Header.Add(k.String(), v.String()) })
	}
	L.Push(lua.LString(he.Response()))
	return 1
}

// headTable exposes a parsed request: method, target, path, query,
// version, headers with lower-case names (repeated ones joined by ", ";
// identical Content-Length values merged into one), and its framing:
// length (Content-Length) or chunked, keep (the connection may carry
// another request) and ambiguous (Content-Length with Transfer-Encoding).
func headTable(L *lua.LState, h *httphead.Head) *lua.LTable {
	t := L.CreateTable(0, 10)
	t.RawSetString("method", boxed(h.Method))
	t.RawSetString("target", boxed(h.Target))
	t.RawSetString("path", boxed(h.Path))
	t.RawSetString("query", boxed(h.Query))
	t.RawSetString("version", boxed(h.Proto))
	hdr := L.CreateTable(0, len(h.Fields))
	if len(h.Fields) <= 32 {
		for _, f := range h.Fields {
			if hdr.RawGetString(f.Name) == lua.LNil { // joined at its first appearance
				v, _ := h.Get(f.Name)
				hdr.RawSetString(f.Name, boxed(v))
			}
		}
	} else { // many fields: join in one pass, not one scan per name
		joined := make(map[string]*strings.Builder, len(h.Fields))
		var order []string
		for _, f := range h.Fields {
			b := joined[f.Name]
			if b == nil {
				b = &strings.Builder{}
				joined[f.Name] = b
				order = append(order, f.Name)
			} else {
				b.WriteString(", ")
			}
			b.WriteString(f.Value)
		}
		for _, name := range order {
			hdr.RawSetString(name, lua.LString(joined[name].String()))
		}
	}
	if h.Host != "" {
		hdr.RawSetString("host", lua.LString(h.Host))
	}
	t.RawSetString("headers", hdr)
	switch h.Body {
	case httphead.LengthBody:
		t.RawSetString("length", lua.LNumber(h.Length))
	case httphead.ChunkedBody:
		t.RawSetString("chunked", lua.LTrue)
	}
	t.RawSetString("keep", lua.LBool(h.Keep))
	if h.Ambiguous {
		t.RawSetString("ambiguous", lua.LTrue)
	}
	return t
}

// boxed is lua.LString(s) as an LValue. Putting a string in an interface
// allocates; the values most requests share (a WebSocket handshake's
// above all) come from constants the compiler boxed once.
func boxed(s string) lua.LValue {
	switch s {
	case "":
		return lua.LString("")
	case "GET":
		return lua.LString("GET")
	case "HTTP/1.1":
		return lua.LString("HTTP/1.1")
	case "/":
		return lua.LString("/")
	case "websocket":
		return lua.LString("websocket")
	case "Upgrade":
		return lua.LString("Upgrade")
	case "upgrade":
		return lua.LString("upgrade")
	case "13":
		return lua.LString("13")
	case "keep-alive":
		return lua.LString("keep-alive")
	case "close":
		return lua.LString("close")
	case "*/*":
		return lua.LString("*/*")
	}
	return lua.LString(s)
}

// wsHeaderNames are the only headers the ws helpers read from a request
// (ws: CheckUpgrade, Protocols, Extensions, the handshake key).
var wsHeaderNames = [...]string{"Host", "Upgrade", "Connection", "Sec-Websocket-Version",
	"Sec-Websocket-Key", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions"}

// wsKeyIndex is Sec-WebSocket-Key's index in wsHeaderNames.
const wsKeyIndex = 4

// requestHeader is requestFromTable's value of wsHeaderNames[i] alone (the
// last field of that name, as there), without building a request.
func requestHeader(t *lua.LTable, i int) string {
	var v string
	if h, ok := t.RawGetString("headers").(*lua.LTable); ok {
		for k, val := h.Next(lua.LNil); k != lua.LNil; k, val = h.Next(k) {
			if wsHeaderIndex(k) == i {
				v = val.String()
			}
		}
	}
	return v
}

// wsHeaderIndex returns the index in wsHeaderNames of the header a table key
// names after canonicalization (ASCII case-insensitive), or -1.
func wsHeaderIndex(k lua.LValue) int {
	s, ok := k.(lua.LString)
	if !ok {
		return -1
	}
	for i, name := range wsHeaderNames {
		if len(s) == len(name) && asciiEqualFold(string(s), name) {
			return i
		}
	}
	return -1
}

func asciiEqualFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// requestFromTable rebuilds enough of an http.Request to validate a
// WebSocket upgrade from a table made by requestTable (or by a script):
// method, version and the headers in wsHeaderNames, names matched without
// regard to case. It runs three times per handshake, so it keeps only
// those headers, in a pooled request: the caller hands it back with
// release once the ws helper (which keeps no reference) is done.
func requestFromTable(L *lua.LState, t *lua.LTable) *scratchRequest {
	sr := scratchRequests.Get().(*scratchRequest)
	req := &sr.req
	req.Method = lua.LVAsString(t.RawGetString("method"))
	proto := lua.LVAsString(t.RawGetString("version"))
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		major, minor = 1, 0
	}
	req.Proto, req.ProtoMajor, req.ProtoMinor = proto, major, minor
	var found [len(wsHeaderNames)]bool
	if h, ok := t.RawGetString("headers").(*lua.LTable); ok {
		// Next hands out the table's own boxed keys; ForEach would box
		// every string key again.
		for k, v := h.Next(lua.LNil); k != lua.LNil; k, v = h.Next(k) {
			if i := wsHeaderIndex(k); i >= 0 {
				sr.vals[i] = v.String()
				found[i] = true
			}
		}
	}
	for i, name := range wsHeaderNames {
		if found[i] {
			req.Header[name] = sr.vals[i : i+1 : i+1]
		}
	}
	req.Host = req.Header.Get("Host")
	return sr
}

type scratchRequest struct {
	req  http.Request
	vals [len(wsHeaderNames)]string
}

var scratchRequests = sync.Pool{New: func() any {
	return &scratchRequest{req: http.Request{Header: make(http.Header, len(wsHeaderNames))}}
}}

func (sr *scratchRequest) release() {
	h := sr.req.Header
	clear(h)
	*sr = scratchRequest{req: http.Request{Header: h}}
	scratchRequests.Put(sr)
}

const chunkedType = "http.chunked"

func registerChunked(L *lua.LState) {
	mt := L.NewTypeMetatable(chunkedType)
	L.SetField(mt, "__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"feed": chunkedFeed,
		"done": func(L *lua.LState) int {
			L.Push(lua.LBool(checkChunked(L).Done()))
			return 1
		},
	}))
}

// httpChunked: http.chunked([max_body[, max_trailer]]) makes a decoder for
// one chunked request body.
func httpChunked(L *lua.LState) int {
	d := &httphead.ChunkedDecoder{MaxBody: L.OptInt64(1, 0), MaxTrailer: L.OptInt(2, 0)}
	ud := L.NewUserData()
	ud.Value = d
	L.SetMetatable(ud, L.GetTypeMetatable(chunkedType))
	L.Push(ud)
	return 1
}

func checkChunked(L *lua.LState) *httphead.ChunkedDecoder {
	if d, ok := L.CheckUserData(1).Value.(*httphead.ChunkedDecoder); ok {
		return d
	}
	L.ArgError(1, "http.chunked decoder expected")
	return nil
}

// chunkedFeed: d:feed(bytes) returns the body bytes decoded from bytes,
// the bytes it left (a partial line, or what follows the body once done)
// and whether the body is complete; or nil, status, response when the body
// cannot be framed (400, 413, 431).
func chunkedFeed(L *lua.LState) int {
	d := checkChunked(L)
	in := L.CheckString(2)
	// Decode only reads in.
	out, used, err := d.Decode(nil, unsafe.Slice(unsafe.StringData(in), len(in)))
	if err != nil {
		return pushHTTPError(L, err)
	}
	L.Push(lua.LString(out))
	if used == len(in) {
		L.Push(lua.LString(""))
	} else {
		L.Push(lua.LString(in[used:]))
	}
	L.Push(lua.LBool(d.Done()))
	return 3
}

// gzipWriters pools one writer per level (1..9): a writer costs ~800 KB
// of tables to make.
var gzipWriters [10]sync.Pool

// httpGzip: http.gzip(s[, level]) compresses s with gzip (compress/gzip),
// level 1 (fast) to 9 (small), default 6.
func httpGzip(L *lua.LState) int {
	s := L.CheckString(1)
	level := L.OptInt(2, gzip.DefaultCompression)
	if level == gzip.DefaultCompression {
		level = 6
	}
	if level < 1 || level > 9 {
		L.ArgError(2, "level must be 1 to 9")
	}
	var buf bytes.Buffer
	buf.Grow(len(s)/3 + 64)
	w, _ := gzipWriters[level].Get().(*gzip.Writer)
	if w == nil {
		w, _ = gzip.NewWriterLevel(&buf, level)
	} else {
		w.Reset(&buf)
	}
	w.Write(unsafe.Slice(unsafe.StringData(s), len(s))) // Write only reads s; a bytes.Buffer does not fail
	w.Close()
	w.Reset(nil)
	gzipWriters[level].Put(w)
	L.Push(lua.LString(buf.String()))
	return 1
}
