package bindings

import (
	"net/http"

	lua "github.com/yuin/gopher-lua"
	"pocketlua/engine/ws"
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
	}))
	return 1
}

// wsCheck returns true for a valid upgrade request, else nil, status, response.
func wsCheck(L *lua.LState) int {
	if err := ws.CheckUpgrade(requestFromTable(L, L.CheckTable(1))); err != nil {
		return pushHTTPError(L, err)
	}
	L.Push(lua.LTrue)
	return 1
}

func wsProtocols(L *lua.LState) int {
	protos := ws.Protocols(requestFromTable(L, L.CheckTable(1)))
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
	req := requestFromTable(L, L.CheckTable(1))
	opts := L.OptTable(2, L.NewTable())
	var extra http.Header
	if h, ok := opts.RawGetString("headers").(*lua.LTable); ok {
		extra = http.Header{}
		h.ForEach(func(k, v lua.LValue) { extra.Add(k.String(), v.String()) })
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	if key == "" {
		L.ArgError(1, "request has no Sec-WebSocket-Key")
	}
	resp := ws.HandshakeResponse(key, lua.LVAsString(opts.RawGetString("protocol")),
		lua.LVAsString(opts.RawGetString("extensions")), extra)
	L.Push(lua.LString(resp))
	return 1
}
