package httphead

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Body says how a request's body is framed (RFC 9112 §6).
type Body uint8

const (
	NoBody      Body = iota // no Content-Length, no Transfer-Encoding: the request ends with its head
	LengthBody              // Content-Length bytes follow
	ChunkedBody             // Transfer-Encoding: chunked; see ChunkedDecoder
)

// Field is one header field line: Name in lower case, Value without the
// surrounding whitespace.
type Field struct {
	Name, Value string
}

// Head is a request head read by ReadHead. Its strings share one copy of
// the head's bytes.
type Head struct {
	Method, Target string
	Path, Query    string // Path percent-decoded, as net/http's URL.Path
	Proto          string // "HTTP/1.1"
	Minor          int    // HTTP/1.Minor
	Host           string // from an absolute-form target, else the Host field
	Fields         []Field

	Body   Body
	Length int64 // with LengthBody
	// Keep: the connection may carry another request after this one's
	// response (the version, Connection, and no ambiguous framing).
	Keep bool
	// Ambiguous: Content-Length came with Transfer-Encoding; the body is
	// framed by Transfer-Encoding and the connection must close after the
	// response (RFC 9112 §6.1).
	Ambiguous bool

	absoluteHost string // the host of an absolute-form target, while parsing
}

// Get returns the values of the fields named name (lower case) joined by
// ", ", and whether there was one.
func (h *Head) Get(name string) (string, bool) {
	first := -1
	n := 0
	for i, f := range h.Fields {
		if f.Name == name {
			if first < 0 {
				first = i
			}
			n += len(f.Value) + 2
		}
	}
	if first < 0 {
		return "", false
	}
	v := h.Fields[first].Value
	if n-2 == len(v) {
		return v, true
	}
	var b strings.Builder
	b.Grow(n - 2)
	b.WriteString(v)
	for _, f := range h.Fields[first+1:] {
		if f.Name == name {
			b.WriteString(", ")
			b.WriteString(f.Value)
		}
	}
	return b.String(), true
}

func badRequest(reason string) *HTTPError {
	return &HTTPError{Status: http.StatusBadRequest, Reason: reason}
}

// ReadHead reads the HTTP/1.x request head at the start of buf, checking
// its framing as RFC 9112 asks of a server.
//
// It returns (nil, 0, nil) while the head is incomplete, *HTTPError 431
// once it is, or would be, longer than maxHead bytes (maxHead <= 0 means
// DefaultMaxHead), and 400, 501 or 505 for a head that must be refused.
// Every complete line is checked as it arrives, so a bad line is refused
// at once rather than after the blank line. Lines may end in CRLF or a
// bare LF (§2.2), and empty lines before the request line are skipped.
// n counts the bytes of the head, the skipped lines included (they count
// toward maxHead too, so a stream of empty lines cannot grow a buffer).
func ReadHead(buf []byte, maxHead int) (h *Head, n int, err error) {
	if maxHead <= 0 {
		maxHead = DefaultMaxHead
	}
	start := 0
	for start < len(buf) && (buf[start] == '\r' || buf[start] == '\n') {
		start++
	}
	// Find the end of the head, checking each line on the way.
	end, lines := -1, 0
	for i := start; i < len(buf) && i < maxHead; {
		j := indexByte(buf[i:min(len(buf), maxHead)], '\n')
		if j < 0 {
			// A CR that is not the end of a line makes no valid head
			// (RFC 9112 §2.2): refuse it now rather than wait.
			if k := indexByte(buf[i:min(len(buf), maxHead)], '\r'); k >= 0 && i+k+1 < len(buf) && buf[i+k+1] != '\n' {
				return nil, 0, badRequest("CR without LF")
			}
			break
		}
		line := buf[i : i+j]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		i += j + 1
		if len(line) == 0 {
			end = i
			break
		}
		if lines == 0 {
			if e := checkRequestLine(line); e != nil {
				return nil, 0, e
			}
		} else if e := checkFieldLine(line); e != nil {
			return nil, 0, e
		}
		lines++
	}
	if end < 0 {
		if len(buf) >= maxHead {
			return nil, 0, &HTTPError{Status: http.StatusRequestHeaderFieldsTooLarge, Reason: "request head too large"}
		}
		return nil, 0, nil
	}
	h, err = parseHead(string(buf[start:end]), lines-1)
	if err != nil {
		return nil, 0, err
	}
	return h, end, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// splitRequestLine: method SP request-target SP HTTP-version, single
// spaces (§3).
func splitRequestLine(line []byte) (method, target, proto []byte, ok bool) {
	sp1 := indexByte(line, ' ')
	if sp1 <= 0 {
		return nil, nil, nil, false
	}
	rest := line[sp1+1:]
	sp2 := indexByte(rest, ' ')
	if sp2 <= 0 {
		return nil, nil, nil, false
	}
	method, target, proto = line[:sp1], rest[:sp2], rest[sp2+1:]
	for _, c := range method {
		if !IsTokenChar(c) {
			return nil, nil, nil, false
		}
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return nil, nil, nil, false
		}
	}
	if len(proto) != 8 || string(proto[:5]) != "HTTP/" || !isDigit(proto[5]) || proto[6] != '.' || !isDigit(proto[7]) {
		return nil, nil, nil, false
	}
	return method, target, proto, true
}

// checkRequestLine refuses a request line as soon as it is complete: its
// syntax, the version (505 unless HTTP/1.x), the target's escapes.
func checkRequestLine(line []byte) *HTTPError {
	method, target, proto, ok := splitRequestLine(line)
	if !ok {
		return badRequest("malformed request line")
	}
	if proto[5] != '1' {
		return &HTTPError{Status: http.StatusHTTPVersionNotSupported, Reason: "only HTTP/1.x is served here"}
	}
	if target[0] == '/' {
		for i, c := range target {
			if c == '?' {
				break
			}
			if c == '%' && (i+2 >= len(target) || !isHex(target[i+1]) || !isHex(target[i+2])) {
				return badRequest("malformed request target")
			}
		}
		return nil
	}
	raw := string(target)
	if string(method) == "CONNECT" {
		raw = "http://" + raw
	}
	if _, err := url.ParseRequestURI(raw); err != nil {
		return badRequest("malformed request target")
	}
	return nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// checkFieldLine: field-name ":" OWS field-value OWS, no whitespace before
// the colon (§5.1), no obs-fold (§5.2), no CTL but HTAB in the value.
func checkFieldLine(line []byte) *HTTPError {
	if line[0] == ' ' || line[0] == '\t' {
		return badRequest("obsolete line folding")
	}
	colon := indexByte(line, ':')
	if colon <= 0 {
		return badRequest("malformed header line")
	}
	for _, c := range line[:colon] {
		if !IsTokenChar(c) {
			return badRequest("invalid header name")
		}
	}
	for _, c := range line[colon+1:] {
		if c < ' ' && c != '\t' || c == 0x7f {
			return badRequest("invalid header value")
		}
	}
	return nil
}

// parseHead splits a head already checked line by line into a Head.
func parseHead(s string, nfields int) (*Head, error) {
	h := &Head{Fields: make([]Field, 0, nfields)}
	line, rest := cutLine(s)
	sp1 := strings.IndexByte(line, ' ')
	sp2 := sp1 + 1 + strings.IndexByte(line[sp1+1:], ' ')
	h.Method, h.Target, h.Proto = line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	h.Minor = int(h.Proto[7] - '0')
	if err := h.parseTarget(); err != nil {
		return nil, err
	}
	var hosts, lengths, codings int
	var length, te, connection string
	for rest != "" {
		line, rest = cutLine(rest)
		if line == "" {
			break
		}
		colon := strings.IndexByte(line, ':')
		name := lowerName(line[:colon])
		value := strings.Trim(line[colon+1:], " \t")
		switch name {
		case "host":
			hosts++
			if !validHost(value) {
				return nil, badRequest("malformed Host header")
			}
			if h.Host == "" {
				h.Host = value
			}
		case "content-length":
			if lengths > 0 && value != length {
				return nil, badRequest("Content-Length values differ")
			}
			lengths++
			if lengths > 1 {
				continue // identical repeats are one field
			}
			length = value
		case "transfer-encoding":
			// Joined by count, not by te != "": an empty field is an
			// empty list element, which checkCodings refuses.
			if codings > 0 {
				te += ", "
			}
			codings++
			te += value
		case "connection":
			if connection != "" {
				connection += ", "
			}
			connection += value
		}
		h.Fields = append(h.Fields, Field{name, value})
	}
	if hosts > 1 {
		return nil, badRequest("more than one Host header")
	}
	if hosts == 0 && h.Minor >= 1 && h.Method != "CONNECT" {
		return nil, badRequest("missing required Host header")
	}
	if u := h.absoluteHost; u != "" {
		h.Host = u
	}
	if h.Minor >= 1 {
		h.Keep = !hasToken(connection, "close")
	} else {
		h.Keep = hasToken(connection, "keep-alive") && !hasToken(connection, "close")
	}
	if lengths > 0 {
		n, err := strconv.ParseUint(length, 10, 63)
		if err != nil || length == "" || length[0] == '+' {
			return nil, badRequest("bad Content-Length")
		}
		h.Body, h.Length = LengthBody, int64(n)
	}
	if codings > 0 {
		if h.Minor == 0 {
			// §6.1: faulty framing on HTTP/1.0; refuse rather than guess.
			return nil, badRequest("Transfer-Encoding in an HTTP/1.0 request")
		}
		if err := checkCodings(te); err != nil {
			return nil, err
		}
		if lengths > 0 {
			h.Ambiguous, h.Keep = true, false
			h.dropField("content-length")
		}
		h.Body, h.Length = ChunkedBody, 0
	}
	h.absoluteHost = ""
	return h, nil
}

// checkCodings accepts exactly one "chunked": a coding we do not know is
// 501 (RFC 9112 §6.1), chunked applied twice or not last is 400.
func checkCodings(te string) *HTTPError {
	chunked := 0
	for item := range strings.SplitSeq(te, ",") {
		item = strings.Trim(item, " \t")
		switch {
		case item == "":
			return badRequest("empty transfer coding")
		case strings.EqualFold(item, "chunked"):
			chunked++
		default:
			return &HTTPError{Status: http.StatusNotImplemented, Reason: "only the chunked transfer coding is supported"}
		}
	}
	if chunked != 1 {
		return badRequest("chunked transfer coding applied more than once")
	}
	return nil
}

func (h *Head) dropField(name string) {
	kept := h.Fields[:0]
	for _, f := range h.Fields {
		if f.Name != name {
			kept = append(kept, f)
		}
	}
	h.Fields = kept
}

// parseTarget fills Path and Query. The origin form is read here; the
// others (absolute, authority, "*") go through url.ParseRequestURI as in
// net/http.
func (h *Head) parseTarget() *HTTPError {
	t := h.Target
	if t != "" && t[0] == '/' {
		path, query, _ := strings.Cut(t, "?")
		h.Query = query
		if strings.IndexByte(path, '%') < 0 {
			h.Path = path
			return nil
		}
		p, err := url.PathUnescape(path)
		if err != nil {
			return badRequest("malformed request target")
		}
		h.Path = p
		return nil
	}
	raw := t
	authority := h.Method == "CONNECT"
	if authority {
		raw = "http://" + t
	}
	u, err := url.ParseRequestURI(raw)
	if err != nil {
		return badRequest("malformed request target")
	}
	h.Path, h.Query, h.absoluteHost = u.Path, u.RawQuery, u.Host
	return nil
}

func cutLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	if line != "" && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, rest
}

// hasToken reports whether the comma-separated list v holds token,
// ignoring case.
func hasToken(v, token string) bool {
	for item := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.Trim(item, " \t"), token) {
			return true
		}
	}
	return false
}

// validHost is net/http's check of a Host value: the bytes a URI host and
// port may hold.
func validHost(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0) {
			return false
		}
	}
	return true
}

// commonNames are field names seen in most requests, lower-cased without
// allocating.
var commonNames = [...]string{"host", "user-agent", "accept", "accept-encoding", "accept-language",
	"connection", "content-length", "content-type", "transfer-encoding", "cookie", "referer",
	"origin", "upgrade", "cache-control", "pragma", "range", "if-range", "if-none-match",
	"if-modified-since", "authorization", "sec-websocket-key", "sec-websocket-version",
	"sec-websocket-extensions", "sec-websocket-protocol", "expect", "x-forwarded-for",
	"sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest", "upgrade-insecure-requests", "priority"}

func lowerName(name string) string {
	for _, c := range commonNames {
		if len(c) == len(name) && strings.EqualFold(c, name) {
			return c
		}
	}
	return strings.ToLower(name)
}
