package httphead_test

import (
	"fmt"
	"strings"

	"pocketlua/httphead"
	"pocketlua/ws"
)

// A WebSocket handshake: parse the head, check it, answer 101 or the error.
func ExampleParseRequest() {
	buf := []byte("GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n" +
		"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Version: 13\r\n\r\n")
	req, n, err := httphead.ParseRequest(buf, 8192)
	if err == nil && req == nil {
		return // wait for more bytes
	}
	if err == nil {
		err = ws.CheckUpgrade(req)
	}
	if err != nil {
		fmt.Printf("%s", err.(*httphead.HTTPError).Response())
		return
	}
	fmt.Println(n == len(buf))
	resp := ws.HandshakeResponse(req.Header.Get("Sec-WebSocket-Key"), "", "", nil)
	fmt.Print(strings.ReplaceAll(string(resp), "\r\n", "\n"))
	// Output:
	// true
	// HTTP/1.1 101 Switching Protocols
	// Upgrade: websocket
	// Connection: Upgrade
	// Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
}
