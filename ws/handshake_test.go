package ws

import (
	"bufio"
	"bytes"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"pocketlua/httphead"
)

const goodRequest = "GET /chat HTTP/1.1\r\n" +
	"Host: server.example.com\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Origin: http://example.com\r\n" +
	"Sec-WebSocket-Protocol: chat, superchat\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"\r\n"

func TestAcceptKey(t *testing.T) {
	// RFC 6455 §1.3.
	if got := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatal(got)
	}
}

func mustParse(t *testing.T, head string) *http.Request {
	t.Helper()
	req, n, err := httphead.ParseRequest([]byte(head), 0)
	if err != nil || req == nil || n != len(head) {
		t.Fatalf("ParseRequest: %v, n=%d", err, n)
	}
	return req
}

func TestCheckUpgradeValid(t *testing.T) {
	for _, head := range []string{
		goodRequest,
		strings.Replace(goodRequest, "Connection: Upgrade", "Connection: keep-alive, Upgrade", 1),
		strings.Replace(goodRequest, "Connection: Upgrade", "Connection: keep-alive\r\nConnection: upgrade", 1),
		strings.Replace(goodRequest, "Upgrade: websocket", "Upgrade: WebSocket", 1),
		strings.Replace(goodRequest, "Upgrade: websocket", "Upgrade: h2c, websocket", 1),
		strings.Replace(goodRequest, "HTTP/1.1", "HTTP/1.2", 1),
	} {
		if err := CheckUpgrade(mustParse(t, head)); err != nil {
			t.Errorf("%q: %v", head, err)
		}
	}
}

func TestCheckUpgradeInvalid(t *testing.T) {
	for _, tc := range []struct {
		name, from, to string
		status         int
		header         http.Header
	}{
		{"POST", "GET", "POST", 405, http.Header{"Allow": {"GET"}}},
		{"HEAD", "GET", "HEAD", 405, http.Header{"Allow": {"GET"}}},
		{"HTTP/1.0", "HTTP/1.1", "HTTP/1.0", 400, nil},
		{"no Host", "Host: server.example.com\r\n", "", 400, nil},
		{"no Upgrade", "Upgrade: websocket\r\n", "", 400, nil},
		{"Upgrade h2c", "Upgrade: websocket", "Upgrade: h2c", 400, nil},
		{"Upgrade websocketx", "Upgrade: websocket", "Upgrade: websocketx", 400, nil},
		{"no Connection", "Connection: Upgrade\r\n", "", 400, nil},
		{"Connection keep-alive", "Connection: Upgrade", "Connection: keep-alive", 400, nil},
		{"Connection upgrades", "Connection: Upgrade", "Connection: upgrades", 400, nil},
		{"version 8", "Version: 13", "Version: 8", 426, http.Header{"Sec-Websocket-Version": {"13"}}},
		{"version 13x", "Version: 13", "Version: 13x", 426, http.Header{"Sec-Websocket-Version": {"13"}}},
		{"no version", "Sec-WebSocket-Version: 13\r\n", "", 426, http.Header{"Sec-Websocket-Version": {"13"}}},
		{"two versions", "Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 8\r\n", 426,
			http.Header{"Sec-Websocket-Version": {"13"}}},
		{"no key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 400, nil},
		{"key of 15 bytes", "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25j", 400, nil},
		{"key of 17 bytes", "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZXgx", 400, nil},
		{"key not base64", "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ!!", 400, nil},
		{"key without padding", "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ", 400, nil},
		{"two keys", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", 400, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			head := strings.Replace(goodRequest, tc.from, tc.to, 1)
			if head == goodRequest {
				t.Fatal("replacement did nothing")
			}
			err := CheckUpgrade(mustParse(t, head))
			he, ok := err.(*httphead.HTTPError)
			if !ok || he.Status != tc.status {
				t.Fatalf("error %v, want status %d", err, tc.status)
			}
			if !reflect.DeepEqual(he.Header, tc.header) {
				t.Fatalf("header %v, want %v", he.Header, tc.header)
			}
			checkResponse(t, he)
		})
	}
}

// checkResponse parses e.Response() with net/http and checks it matches e.
func checkResponse(t *testing.T, e *httphead.HTTPError) {
	t.Helper()
	raw := e.Response()
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("bad response %q: %v", raw, err)
	}
	if resp.StatusCode != e.Status || !resp.Close {
		t.Fatalf("response %q", raw)
	}
	body := new(bytes.Buffer)
	body.ReadFrom(resp.Body)
	if int64(body.Len()) != resp.ContentLength || strings.Count(body.String(), "\n") != 1 {
		t.Fatalf("body %q, Content-Length %d", body, resp.ContentLength)
	}
	for k, v := range e.Header {
		if !reflect.DeepEqual(resp.Header[k], v) {
			t.Fatalf("header %s = %v, want %v", k, resp.Header[k], v)
		}
	}
}

func TestProtocols(t *testing.T) {
	req := mustParse(t, strings.Replace(goodRequest, "Sec-WebSocket-Protocol: chat, superchat\r\n",
		"Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Protocol:  v2.json ,, mqtt \r\n", 1))
	if got, want := Protocols(req), []string{"chat", "superchat", "v2.json", "mqtt"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("%q, want %q", got, want)
	}
	if got := Protocols(mustParse(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")); got != nil {
		t.Fatalf("%q", got)
	}
}

func TestHandshakeResponse(t *testing.T) {
	got := string(HandshakeResponse("dGhlIHNhbXBsZSBub25jZQ==", "chat", "", nil))
	want := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	got = string(HandshakeResponse("dGhlIHNhbXBsZSBub25jZQ==", "", "permessage-deflate",
		http.Header{"X-B": {"2"}, "X-A": {"1\r\nEvil: 1"}, "Upgrade": {"h2c"}}))
	want = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n" +
		"X-A: 1  Evil: 1\r\nX-B: 2\r\n\r\n"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatal(err, resp)
	}
}

// TestParseRequestTrailingFrame: a client may send its first frame in the
// same segment as the head; n must stop at the head.
func TestParseRequestTrailingFrame(t *testing.T) {
	f := frame(fin|0x1, "early")
	buf := append([]byte(goodRequest), f...)
	req, n, err := httphead.ParseRequest(buf, 0)
	if err != nil || req == nil || n != len(goodRequest) {
		t.Fatal(n, err)
	}
	var d Decoder
	_, ev, err := d.Decode(buf[n:])
	if err != nil || string(ev.Payload) != "early" {
		t.Fatal(ev, err)
	}
	// A body announced by Content-Length is the caller's too.
	post := "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
	req, n, err = httphead.ParseRequest([]byte(post), 0)
	if err != nil || post[n:] != "hello" || req.ContentLength != 5 {
		t.Fatal(n, err)
	}
}
