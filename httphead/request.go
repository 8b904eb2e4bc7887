// Package httphead parses HTTP/1.x request heads from a connection's bytes
// and builds the short error replies sent before closing. It has no sockets
// and no Lua: httpd.lua and the WebSocket handshake (through bindings) use it.
package httphead

import (
	"bufio"
	"bytes"
	"net/http"
	"sync"
)

// DefaultMaxHead is the request head size limit ParseRequest uses when
// maxHead is not positive.
const DefaultMaxHead = 8 << 10

var headEnd = []byte("\r\n\r\n")

// ParseRequest parses the HTTP/1.x request head at the start of buf with
// net/http's parser.
//
// It returns (nil, 0, nil) while buf does not yet hold the whole head (up
// to and including the blank line "\r\n\r\n"), and *HTTPError 431 once the
// head is, or would be, longer than maxHead bytes (maxHead <= 0 means
// DefaultMaxHead). A malformed head gives *HTTPError 400, and a version
// other than HTTP/1.x gives 505.
//
// n is the length of the head. The bytes after it (a request body, or a
// first WebSocket frame sent in the same segment) belong to the caller;
// req.Body is http.NoBody and req.ContentLength says how much body follows.
// req keeps no reference to buf.
func ParseRequest(buf []byte, maxHead int) (req *http.Request, n int, err error) {
	if maxHead <= 0 {
		maxHead = DefaultMaxHead
	}
	i := bytes.Index(buf[:min(len(buf), maxHead)], headEnd)
	if i < 0 {
		if len(buf) >= maxHead {
			return nil, 0, &HTTPError{Status: http.StatusRequestHeaderFieldsTooLarge, Reason: "request head too large"}
		}
		return nil, 0, nil
	}
	n = i + len(headEnd)
	req, err = readRequest(buf[:n])
	if err != nil {
		return nil, 0, &HTTPError{Status: http.StatusBadRequest, Reason: "malformed request: " + err.Error()}
	}
	if req.ProtoMajor != 1 {
		return nil, 0, &HTTPError{Status: http.StatusHTTPVersionNotSupported, Reason: "only HTTP/1.x is served here"}
	}
	req.Body = http.NoBody
	return req, n, nil
}

// headReader is a pooled reader for one request head: a head that fits its
// buffer is read exactly as by a reader of the head's own size.
type headReader struct {
	src bytes.Reader
	br  *bufio.Reader
}

var headReaders = sync.Pool{New: func() any {
	r := &headReader{}
	r.br = bufio.NewReaderSize(&r.src, DefaultMaxHead)
	return r
}}

func readRequest(head []byte) (*http.Request, error) {
	if len(head) > DefaultMaxHead {
		return http.ReadRequest(bufio.NewReaderSize(bytes.NewReader(head), len(head)))
	}
	r := headReaders.Get().(*headReader)
	r.src.Reset(head)
	r.br.Reset(&r.src)
	req, err := http.ReadRequest(r.br)
	r.src.Reset(nil)
	r.br.Reset(&r.src) // keeps no reference to head
	headReaders.Put(r)
	return req, err
}
