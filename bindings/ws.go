package bindings

import (
	"net/http"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
	"pocketlua/ws"
)

// wsLoader: ws.accept_key, ws.check, ws.protocols, ws.handshake_response.
func wsLoader(L *lua.LState) int {
	L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"accept_key": func(L *lua.LState) int {
			L.Push(lua.LString(ws.AcceptKey(L.CheckString(1))))
			return 1
		},
		"check":              wsCheck,
		"protocols":          wsProtocols,
		"handshake_response": wsHandshakeResponse,
		"negotiate_deflate":  wsNegotiateDeflate,
	}))
	return 1
}

// wsCheck returns true for a valid upgrade request, else nil, status, response.
func wsCheck(L *lua.LState) int {
	sr := requestFromTable(L, L.CheckTable(1))
	err := ws.CheckUpgrade(&sr.req)
	sr.release()
	if err != nil {
		return pushHTTPError(L, err)
	}
	L.Push(lua.LTrue)
	return 1
}

func wsProtocols(L *lua.LState) int {
	sr := requestFromTable(L, L.CheckTable(1))
	protos := ws.Protocols(&sr.req)
	sr.release()
	t := L.CreateTable(len(protos), 0)
	for _, p := range protos {
		t.Append(lua.LString(p))
	}
	L.Push(t)
	return 1
}

// wsHandshakeResponse(req[, {protocol=, extensions=, headers={}}]) returns the
// 101 response for a request that passed ws.check.
func wsHandshakeResponse(L *lua.LState) int {
	reqTable := L.CheckTable(1)
	var protocol, extensions string
	var extra http.Header
	if opts := L.OptTable(2, nil); opts != nil {
		if h, ok := opts.RawGetString("headers").(*lua.LTable); ok {
			extra = http.Header{}
			h.ForEach(func(k, v lua.LValue) { extra.Add(k.String(), v.String()) })
		}
		protocol = lua.LVAsString(opts.RawGetString("protocol"))
		extensions = lua.LVAsString(opts.RawGetString("extensions"))
	}
	key := requestHeader(reqTable, wsKeyIndex)
	if key == "" {
		L.ArgError(1, "request has no Sec-WebSocket-Key")
	}
	resp := ws.HandshakeResponse(key, protocol, extensions, extra)
	L.Push(lua.LString(unsafe.String(unsafe.SliceData(resp), len(resp)))) // resp is ours alone
	return 1
}

// wsNegotiateDeflate(req[, {server_context_takeover=, client_context_takeover=,
// client_max_window_bits=}]) picks the first acceptable permessage-deflate
// offer of the request (RFC 7692) and returns the Sec-WebSocket-Extensions
// answer and a table of the agreed parameters, for ws.handshake_response
// and conn:upgrade's deflate option; or nil when there is none.
func wsNegotiateDeflate(L *lua.LState) int {
	reqTable := L.CheckTable(1)
	o := ws.DeflateOptions{ClientContextTakeover: true}
	if opts := L.OptTable(2, nil); opts != nil {
		o.ServerContextTakeover = lua.LVAsBool(opts.RawGetString("server_context_takeover"))
		if v := opts.RawGetString("client_context_takeover"); v != lua.LNil {
			o.ClientContextTakeover = lua.LVAsBool(v)
		}
		if v := opts.RawGetString("client_max_window_bits"); v != lua.LNil {
			n, ok := v.(lua.LNumber)
			if !ok || float64(n) != float64(int(n)) || n < 8 || n > 15 {
				L.ArgError(2, "client_max_window_bits must be an integer from 8 to 15")
			}
			o.ClientMaxWindowBits = int(n)
		}
	}
	sr := requestFromTable(L, reqTable)
	exts := ws.Extensions(&sr.req)
	sr.release()
	p, ok := ws.NegotiateDeflate(exts, o)
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	t := L.CreateTable(0, 4)
	t.RawSetString("server_no_context_takeover", lua.LBool(p.ServerNoContextTakeover))
	t.RawSetString("client_no_context_takeover", lua.LBool(p.ClientNoContextTakeover))
	t.RawSetString("server_max_window_bits", lua.LNumber(p.ServerMaxWindowBits))
	t.RawSetString("client_max_window_bits", lua.LNumber(p.ClientMaxWindowBits))
	L.Push(lua.LString(p.String()))
	L.Push(t)
	return 2
}
