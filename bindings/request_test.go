package bindings

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"pocketlua/httphead"
	"pocketlua/ws"
)

// oldRequestFromTable is the full rebuild requestFromTable replaced: every
// header canonicalized into the request.
func oldRequestFromTable(t *lua.LTable) *http.Request {
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

// TestRequestFromTableMatchesFullRebuild: the ws helpers see the same
// request whatever the case of the names, the value types or extra headers.
func TestRequestFromTableMatchesFullRebuild(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	cases := []string{
		`{method="GET", version="HTTP/1.1", headers={host="a", upgrade="websocket", connection="Upgrade",
		  ["sec-websocket-version"]="13", ["sec-websocket-key"]="dGhlIHNhbXBsZSBub25jZQ==",
		  ["sec-websocket-protocol"]="chat, superchat", ["sec-websocket-extensions"]="permessage-deflate",
		  origin="http://x", ["user-agent"]="t"}}`,
		`{method="GET", version="HTTP/1.1", headers={Host="a", UPGRADE="WebSocket", Connection="keep-alive, Upgrade",
		  ["Sec-WebSocket-Version"]=13, ["Sec-WebSocket-Key"]="dGhlIHNhbXBsZSBub25jZQ==",
		  ["SEC-WEBSOCKET-PROTOCOL"]="a,b"}}`,
		`{method="POST", version="HTTP/1.1", headers={host="a"}}`,
		`{method="GET", version="HTTP/1.0", headers={host="a"}}`,
		`{method="GET", version="junk", headers={}}`,
		`{method="GET", version="HTTP/1.1"}`,
		`{method="GET", version="HTTP/1.1", headers={host="a", upgrade="websocket", connection="upgrade",
		  ["sec-websocket-version"]="12", ["sec-websocket-key"]="x"}}`,
		`{method="GET", version="HTTP/1.1", headers={host="a", upgrade="websocket", connection="upgrade",
		  ["sec-websocket-version"]="13", ["sec-websocket-key"]="short", [" host"]="b", [1]="x"}}`,
	}
	for _, src := range cases {
		if err := L.DoString("return " + src); err != nil {
			t.Fatal(err)
		}
		tb := L.Get(-1).(*lua.LTable)
		L.Pop(1)
		old := oldRequestFromTable(tb)
		for range 2 { // the second round reuses a pooled request
			sr := requestFromTable(L, tb)
			req := &sr.req
			if !reflect.DeepEqual(errText(ws.CheckUpgrade(req)), errText(ws.CheckUpgrade(old))) {
				t.Errorf("%s: CheckUpgrade %v, want %v", src, ws.CheckUpgrade(req), ws.CheckUpgrade(old))
			}
			if got, want := ws.Protocols(req), ws.Protocols(old); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: Protocols %q, want %q", src, got, want)
			}
			if got, want := ws.Extensions(req), ws.Extensions(old); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: Extensions %v, want %v", src, got, want)
			}
			for _, name := range wsHeaderNames {
				if got, want := req.Header.Values(name), old.Header.Values(name); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: %s %q, want %q", src, name, got, want)
				}
			}
			if got, want := requestHeader(tb, wsKeyIndex), old.Header.Get("Sec-WebSocket-Key"); got != want {
				t.Errorf("%s: requestHeader's key %q, want %q", src, got, want)
			}
			if req.Host != old.Host || req.Method != old.Method || req.Proto != old.Proto || req.ProtoMinor != old.ProtoMinor {
				t.Errorf("%s: request line differs", src)
			}
			sr.release()
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestHeadTableJoins: the Lua headers table joins repeated fields in
// order with ", " the same way with few fields and with many (the two
// code paths of headTable), and equals Head.Get.
func TestHeadTableJoins(t *testing.T) {
	for _, n := range []int{3, 40} {
		var b strings.Builder
		b.WriteString("GET / HTTP/1.1\r\nHost: h\r\n")
		for i := range n {
			fmt.Fprintf(&b, "X-%d: a%d\r\nAccept: t%d\r\n", i%3, i, i)
		}
		b.WriteString("\r\n")
		h, _, err := httphead.ReadHead([]byte(b.String()), 0)
		if err != nil {
			t.Fatal(err)
		}
		L := lua.NewState()
		tbl := headTable(L, h).RawGetString("headers").(*lua.LTable)
		count := 0
		tbl.ForEach(func(k, v lua.LValue) {
			count++
			want, _ := h.Get(k.String())
			if v.String() != want {
				t.Errorf("%d fields: %s = %q, want %q", n, k, v, want)
			}
		})
		if count != 5 {
			t.Errorf("%d fields: %d names", n, count)
		}
		L.Close()
	}
}
