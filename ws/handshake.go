package ws

import (
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"strings"

	"pocketlua/httphead"
)

// acceptGUID is the fixed string RFC 6455 §1.3 appends to the client key.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// CheckUpgrade validates a WebSocket opening handshake request (RFC 6455
// §4.2.1). It returns nil or an *httphead.HTTPError to answer with:
// 405 (with Allow: GET) for a method other than GET; 400 for HTTP/1.0, a
// missing Host, an Upgrade header without the token "websocket", a
// Connection header without the token "upgrade", or a Sec-WebSocket-Key
// that is not the base64 of 16 bytes; 426 (with Sec-WebSocket-Version: 13)
// when Sec-WebSocket-Version is not exactly 13.
func CheckUpgrade(req *http.Request) error {
	if req.Method != http.MethodGet {
		return &httphead.HTTPError{Status: http.StatusMethodNotAllowed, Reason: "websocket handshake must be GET",
			Header: http.Header{"Allow": {"GET"}}}
	}
	if !req.ProtoAtLeast(1, 1) {
		return badRequest("websocket handshake needs HTTP/1.1")
	}
	if req.Host == "" {
		return badRequest("missing Host")
	}
	if !hasToken(req.Header, "Upgrade", "websocket") {
		return badRequest("Upgrade header must name websocket")
	}
	if !hasToken(req.Header, "Connection", "upgrade") {
		return badRequest("Connection header must include upgrade")
	}
	if v := req.Header.Values("Sec-Websocket-Version"); len(v) != 1 || strings.TrimSpace(v[0]) != "13" {
		return &httphead.HTTPError{Status: http.StatusUpgradeRequired, Reason: "unsupported websocket version; 13 is supported",
			Header: http.Header{"Sec-Websocket-Version": {"13"}}}
	}
	if k := req.Header.Values("Sec-Websocket-Key"); len(k) != 1 || !validKey(k[0]) {
		return badRequest("Sec-WebSocket-Key must be base64 of 16 bytes")
	}
	return nil
}

func badRequest(reason string) *httphead.HTTPError {
	return &httphead.HTTPError{Status: http.StatusBadRequest, Reason: reason}
}

// validKey reports whether key is the base64 encoding of exactly 16 bytes
// (24 characters with padding).
func validKey(key string) bool {
	key = strings.TrimSpace(key)
	if len(key) != 24 {
		return false
	}
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], []byte(key))
	return err == nil && n == 16
}

// hasToken reports whether any of the comma-separated values of the header
// name equals token, ignoring ASCII case.
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// AcceptKey returns the Sec-WebSocket-Accept value for a client key:
// base64(SHA-1(key + GUID)), RFC 6455 §4.2.2.
func AcceptKey(key string) string {
	var b [28]byte
	return string(appendAcceptKey(b[:0], key))
}

// appendAcceptKey appends AcceptKey(key) to b; a usual 24-byte key costs
// no allocation.
func appendAcceptKey(b []byte, key string) []byte {
	var in [64]byte
	sum := sha1.Sum(append(append(in[:0], key...), acceptGUID...))
	return base64.StdEncoding.AppendEncode(b, sum[:])
}

// Protocols returns the subprotocols the client offers, in order, from all
// Sec-WebSocket-Protocol headers, split on commas and trimmed.
func Protocols(req *http.Request) []string {
	var out []string
	for _, v := range req.Header.Values("Sec-Websocket-Protocol") {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

// HandshakeResponse builds the whole "101 Switching Protocols" response for
// the client key, with Sec-WebSocket-Protocol and Sec-WebSocket-Extensions
// when protocol and extensions are not empty, then the extra headers
// (sorted; CR and LF in values become spaces, invalid names and the headers
// set here are skipped).
func HandshakeResponse(key, protocol, extensions string, extra http.Header) []byte {
	b := make([]byte, 0, 160+len(protocol)+len(extensions))
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = appendAcceptKey(b, strings.TrimSpace(key))
	b = append(b, "\r\n"...)
	if protocol != "" {
		b = append(b, "Sec-WebSocket-Protocol: "...)
		b = append(b, httphead.OneLine(protocol)...)
		b = append(b, "\r\n"...)
	}
	if extensions != "" {
		b = append(b, "Sec-WebSocket-Extensions: "...)
		b = append(b, httphead.OneLine(extensions)...)
		b = append(b, "\r\n"...)
	}
	b = httphead.AppendHeaders(b, extra, "Upgrade", "Connection", "Sec-Websocket-Accept",
		"Sec-Websocket-Protocol", "Sec-Websocket-Extensions")
	return append(b, "\r\n"...)
}
