package httphead_test

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"

	"pocketlua/httphead"
	"pocketlua/ws"
)

const goodRequest = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n" +
	"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n"

// FuzzParseRequest checks ParseRequest's contract on arbitrary input and
// runs the handshake helpers on whatever it accepts.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(goodRequest), uint16(0))
	f.Add([]byte(goodRequest), uint16(50))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n\x81\x80\x00\x00\x00\x00"), uint16(0))
	f.Fuzz(func(t *testing.T, buf []byte, maxHead uint16) {
		limit := int(maxHead)
		if limit == 0 {
			limit = httphead.DefaultMaxHead
		}
		term := bytes.Index(buf, []byte("\r\n\r\n"))
		req, n, err := httphead.ParseRequest(buf, int(maxHead))
		if n < 0 || n > len(buf) {
			t.Fatalf("n = %d of %d", n, len(buf))
		}
		if err != nil {
			he, ok := err.(*httphead.HTTPError)
			if !ok || req != nil || n != 0 {
				t.Fatalf("error %v with req %v, n %d", err, req, n)
			}
			switch he.Status {
			case 431:
				if len(buf) < limit || (term >= 0 && term+4 <= limit) {
					t.Fatalf("431 for %d bytes, head end at %d, limit %d", len(buf), term, limit)
				}
			case 400, 505:
				if term < 0 || term+4 > limit {
					t.Fatalf("%d without a complete head", he.Status)
				}
			default:
				t.Fatalf("status %d", he.Status)
			}
			he.Response()
			return
		}
		if req == nil {
			if n != 0 || len(buf) >= limit || term >= 0 {
				t.Fatalf("no request, no error: n %d, len %d, head end %d", n, len(buf), term)
			}
			return
		}
		if n != term+4 || n > limit {
			t.Fatalf("n = %d, head end at %d, limit %d", n, term, limit)
		}
		if err := ws.CheckUpgrade(req); err != nil {
			if _, ok := err.(*httphead.HTTPError); !ok {
				t.Fatalf("CheckUpgrade error %T", err)
			}
			err.(*httphead.HTTPError).Response()
			return
		}
		ws.Protocols(req)
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(ws.HandshakeResponse(req.Header.Get("Sec-WebSocket-Key"), "p", "", nil))), nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("handshake response: %v", err)
		}
	})
}
