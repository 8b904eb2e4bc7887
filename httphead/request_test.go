package httphead

import (
	"net/http"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	req, n, err := ParseRequest([]byte(goodRequest), 0)
	if err != nil || n != len(goodRequest) {
		t.Fatal(n, err)
	}
	if req.Method != "GET" || req.URL.Path != "/chat" || req.Host != "server.example.com" ||
		req.Header.Get("Sec-WebSocket-Key") != "dGhlIHNhbXBsZSBub25jZQ==" || req.Body != http.NoBody {
		t.Fatalf("%+v", req)
	}
}

// TestParseRequestIncomplete feeds every prefix of a head: no request and
// no error until the blank line is complete.
func TestParseRequestIncomplete(t *testing.T) {
	for i := range len(goodRequest) {
		req, n, err := ParseRequest([]byte(goodRequest[:i]), 0)
		if req != nil || n != 0 || err != nil {
			t.Fatalf("prefix %d: %v %d %v", i, req, n, err)
		}
	}
}

func TestParseRequestLimits(t *testing.T) {
	head := goodRequest
	size := len(head)
	// A complete head of exactly maxHead bytes is fine.
	if req, n, err := ParseRequest([]byte(head), size); err != nil || req == nil || n != size {
		t.Fatalf("at limit: %v %d", err, n)
	}
	// One byte less and the head cannot fit: 431, even though it would
	// complete with one more byte.
	for _, buf := range []string{head, head[:size-1]} {
		_, n, err := ParseRequest([]byte(buf), size-1)
		if he, ok := err.(*HTTPError); !ok || he.Status != 431 || n != 0 {
			t.Fatalf("over limit (%d bytes): %v", len(buf), err)
		}
	}
	// Shorter than the limit and incomplete: wait.
	if req, n, err := ParseRequest([]byte(head[:size-2]), size-1); req != nil || n != 0 || err != nil {
		t.Fatalf("under limit: %v", err)
	}
	// An endless header line.
	long := "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", DefaultMaxHead)
	if _, _, err := ParseRequest([]byte(long), 0); err == nil || err.(*HTTPError).Status != 431 {
		t.Fatalf("default limit: %v", err)
	}
}

func TestParseRequestMalformed(t *testing.T) {
	for _, head := range []string{
		"\r\n\r\n",
		"GET\r\n\r\n",
		"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
		"GET / FTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
		"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
		"\x16\x03\x01\x00\xa5\r\n\r\n", // TLS on the plain port
	} {
		req, n, err := ParseRequest([]byte(head), 0)
		he, ok := err.(*HTTPError)
		if req != nil || n != 0 || !ok || he.Status != 400 {
			t.Errorf("%q: %v %d %v", head, req, n, err)
		}
	}
	for _, head := range []string{"GET / HTTP/2.0\r\nHost: x\r\n\r\n", "GET / HTTP/0.9\r\nHost: x\r\n\r\n"} {
		req, n, err := ParseRequest([]byte(head), 0)
		if he, ok := err.(*HTTPError); req != nil || n != 0 || !ok || he.Status != 505 {
			t.Errorf("%q: %v %d %v", head, req, n, err)
		}
	}
}

const goodRequest = "GET /chat HTTP/1.1\r\n" +
	"Host: server.example.com\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Origin: http://example.com\r\n" +
	"Sec-WebSocket-Protocol: chat, superchat\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"\r\n"
