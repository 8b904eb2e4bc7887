package httphead

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// HTTPError refuses a request: the caller sends Response() and closes.
type HTTPError struct {
	Status int         // HTTP status code, e.g. 400, 426, 431
	Reason string      // one line for the body and logs; the status text when empty
	Header http.Header // extra response headers, e.g. Sec-WebSocket-Version: 13 with 426
}

func (e *HTTPError) Error() string {
	return "http " + strconv.Itoa(e.Status) + ": " + e.reason()
}

func (e *HTTPError) reason() string {
	if e.Reason != "" {
		return e.Reason
	}
	if t := http.StatusText(e.Status); t != "" {
		return t
	}
	return "error"
}

// Response returns a complete minimal HTTP/1.1 response for e with a
// one-line text body and Connection: close.
func (e *HTTPError) Response() []byte {
	body := OneLine(e.reason()) + "\n"
	text := http.StatusText(e.Status)
	if text == "" {
		text = "Error"
	}
	b := make([]byte, 0, 160+len(body))
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	b = append(b, text...)
	b = append(b, "\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n"...)
	b = AppendHeaders(b, e.Header, "Connection", "Content-Type", "Content-Length")
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// AppendHeaders writes h in canonical, sorted order, skipping the names the
// caller writes itself and any name that is not an HTTP token. Values have
// CR and LF replaced so a header cannot be split into two (the values often
// come from scripts).
func AppendHeaders(b []byte, h http.Header, skip ...string) []byte {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ck := http.CanonicalHeaderKey(k)
		if !IsToken(k) || slices.Contains(skip, ck) {
			continue
		}
		for _, v := range h[k] {
			b = append(b, ck...)
			b = append(b, ": "...)
			b = append(b, OneLine(v)...)
			b = append(b, "\r\n"...)
		}
	}
	return b
}

// OneLine replaces CR, LF and NUL with spaces.
func OneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\x00") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, s)
}

// IsToken reports whether s is an RFC 9110 token (a valid header name).
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !IsTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// IsTokenChar reports whether c may appear in a token.
func IsTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
