package httphead_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"golang.org/x/net/http/httpguts"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"pocketlua/httphead"
)

// framed is what a server makes of one request in a byte stream: what the
// Lua req sees, its body and whether the connection goes on after it.
type framed struct {
	Method, Target, Path, Query, Proto, Host string
	Headers                                  map[string]string // lower-case names, repeats joined by ", "
	Chunked                                  bool
	Body                                     string
	Keep                                     bool
}

// stream is the whole outcome for a byte stream: the requests in order,
// then how the stream ended.
type stream struct {
	Reqs []framed
	End  string // "eof", "close" (after a request without keep-alive), "incomplete", "reject"
}

const maxFuzzHead = 1 << 16

// ours frames data with ReadHead and ChunkedDecoder as httpd.lua does.
func ours(data []byte) (s stream, ambiguous []bool, status int) {
	for {
		data = bytes.TrimLeft(data, "\r\n")
		if len(data) == 0 {
			s.End = "eof"
			return
		}
		h, n, err := httphead.ReadHead(data, maxFuzzHead)
		if err != nil {
			s.End, status = "reject", err.(*httphead.HTTPError).Status
			return
		}
		if h == nil {
			s.End = "incomplete"
			return
		}
		data = data[n:]
		r := framed{Method: h.Method, Target: h.Target, Path: h.Path, Query: h.Query, Proto: h.Proto,
			Host: h.Host, Headers: map[string]string{}, Keep: h.Keep}
		for _, f := range h.Fields {
			if f.Name == "host" || f.Name == "transfer-encoding" {
				continue
			}
			r.Headers[f.Name], _ = h.Get(f.Name)
		}
		switch h.Body {
		case httphead.LengthBody:
			if int64(len(data)) < h.Length {
				s.End = "incomplete"
				return
			}
			r.Body, data = string(data[:h.Length]), data[h.Length:]
		case httphead.ChunkedBody:
			r.Chunked = true
			d := &httphead.ChunkedDecoder{MaxTrailer: maxFuzzHead}
			// Fed in two pieces: a line split between reads must not matter.
			var body []byte
			var used int
			half := len(data) / 2
			body, used, err = d.Decode(nil, data[:half])
			if err == nil && !d.Done() {
				var more int
				body, more, err = d.Decode(body, data[used:])
				used += more
			}
			if err != nil {
				s.End, status = "reject", err.(*httphead.HTTPError).Status
				return
			}
			if !d.Done() {
				s.End = "incomplete"
				return
			}
			r.Body, data = string(body), data[used:]
		}
		s.Reqs = append(s.Reqs, r)
		ambiguous = append(ambiguous, h.Ambiguous)
		if !r.Keep {
			s.End = "close"
			return
		}
	}
}

var errIncomplete = errors.New("incomplete")

// blockingReader is a connection whose peer sent data and is waiting: a
// read past the end never returns (it panics with errWouldBlock, which
// reference recovers). At io.EOF net/http would take a partial last line
// as whole; a server whose client is still connected cannot.
type blockingReader struct{ r *bytes.Reader }

var errWouldBlock = errors.New("would block")

func (b *blockingReader) Read(p []byte) (int, error) {
	if b.r.Len() == 0 {
		panic(errWouldBlock)
	}
	return b.r.Read(p)
}

// reference frames data with net/http.ReadRequest plus the checks
// net/http's server adds (version, Host, header names), reading each body
// to its end. It applies two listed differences itself ("leading empty
// lines", "Transfer-Encoding in HTTP/1.0": net/http drops that header
// without a trace) and notes which requests hold what we refuse on purpose.
func reference(data []byte) (s stream, onPurpose []bool) {
	rd := &blockingReader{r: bytes.NewReader(data)}
	br := bufio.NewReader(rd)
	offset := func() int { return len(data) - rd.r.Len() - br.Buffered() }
	defer func() {
		if p := recover(); p != nil {
			if p != errWouldBlock {
				panic(p)
			}
			s.End = "incomplete"
		}
	}()
	for {
		for br.Buffered() > 0 || rd.r.Len() > 0 {
			if b, _ := br.Peek(1); b[0] != '\r' && b[0] != '\n' {
				break
			}
			br.Discard(1)
		}
		if br.Buffered() == 0 && rd.r.Len() == 0 {
			s.End = "eof"
			return
		}
		start := offset()
		r, purpose, err := referenceOne(br, func() []byte { return data[start:offset()] })
		onPurpose = append(onPurpose, purpose)
		if errors.Is(err, errIncomplete) {
			s.End = "incomplete"
			return
		}
		if err != nil {
			s.End = "reject"
			return
		}
		s.Reqs = append(s.Reqs, r)
		if !r.Keep {
			s.End = "close"
			return
		}
	}
}

func referenceOne(br *bufio.Reader, raw func() []byte) (r framed, onPurpose bool, err error) {
	req, err := http.ReadRequest(br)
	if err == io.ErrUnexpectedEOF {
		return r, false, errIncomplete
	}
	if err != nil {
		return r, false, err
	}
	head := string(raw())
	// "obs-fold": a field line that starts with whitespace.
	onPurpose = strings.Contains(head, "\n ") || strings.Contains(head, "\n\t")
	// "empty target": CONNECT with nothing between the spaces.
	onPurpose = onPurpose || req.RequestURI == ""
	if req.ProtoMajor != 1 {
		return r, onPurpose, errors.New("505")
	}
	if req.ProtoMinor == 0 && strings.Contains(strings.ToLower(head), "\ntransfer-encoding:") {
		return r, onPurpose, errors.New("Transfer-Encoding in HTTP/1.0")
	}
	// ReadRequest takes Host out of the header; the server's checks read
	// it, so find the Host lines in the raw head.
	var hosts []string
	for _, line := range strings.Split(head, "\n")[1:] {
		if name, value, ok := strings.Cut(strings.TrimSuffix(line, "\r"), ":"); ok && strings.EqualFold(name, "host") {
			hosts = append(hosts, strings.Trim(value, " \t"))
		}
	}
	if req.ProtoAtLeast(1, 1) && len(hosts) == 0 && req.Method != "CONNECT" {
		return r, onPurpose, errors.New("missing Host")
	}
	for k := range req.Header {
		if !httphead.IsToken(k) {
			return r, onPurpose, errors.New("invalid header name")
		}
	}
	if len(hosts) == 1 && !httpguts.ValidHostHeader(hosts[0]) {
		return r, onPurpose, errors.New("malformed Host")
	}
	body, err := io.ReadAll(req.Body)
	if err == io.ErrUnexpectedEOF || err != nil && strings.Contains(err.Error(), "unexpected EOF") {
		return r, onPurpose, errIncomplete
	}
	// "trailer fields": a name that is no token, or a folded line after the head.
	for k := range req.Trailer {
		if !httphead.IsToken(k) {
			onPurpose = true
		}
	}
	if rest := string(raw()[len(head):]); len(req.Trailer) > 0 && (strings.Contains(rest, "\n ") || strings.Contains(rest, "\n\t")) {
		onPurpose = true
	}
	if err != nil {
		return r, onPurpose, err
	}
	r = framed{Method: req.Method, Target: req.RequestURI, Path: req.URL.Path, Query: req.URL.RawQuery,
		Proto: req.Proto, Host: req.Host, Headers: map[string]string{}, Body: string(body),
		Chunked: slices.Contains(req.TransferEncoding, "chunked"), Keep: !req.Close}
	for k, v := range req.Header {
		if k != "Host" {
			r.Headers[strings.ToLower(k)] = strings.Join(v, ", ")
		}
	}
	return r, onPurpose, nil
}

// differences lists, once, where our framing departs from net/http's on
// purpose, each with its reason. compare consults it; TestFramingDifferences
// shows each one happens.
var differences = []struct {
	name, reason string
	input        string
	ours, ref    string // the end of each stream
	oursStatus   int
}{
	{"obs-fold", "RFC 9112 §5.2 lets a server refuse obs-fold with 400; net/http joins the lines and keeps the connection",
		"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", "reject", "eof", 400},
	{"space before colon", "RFC 9112 §5.1: MUST be refused with 400 (net/http also refuses, as an invalid name)",
		"GET / HTTP/1.1\r\nHost : x\r\n\r\n", "reject", "reject", 400},
	{"Transfer-Encoding in HTTP/1.0", "RFC 9112 §6.1: faulty framing, refused with 400; net/http ignores the header and reads no body",
		"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "reject", "", 400},
	{"CL+TE closes", "RFC 9112 §6.1: after a request with both, the server MUST close; net/http keeps the connection",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"close", "eof", 0},
	{"leading empty lines", "RFC 9112 §2.2: a server SHOULD ignore empty lines before a request line; net/http skips up to 4 CR/LF bytes and only after a POST",
		"\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", "eof", "", 0},
	{"Pragma", "net/http adds Cache-Control: no-cache beside Pragma: no-cache; req.headers holds what the client sent",
		"GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\n\r\n", "eof", "eof", 0},
	{"trailer fields", "trailers are checked like header fields (token names, no obs-fold), bounded by max_head; net/http accepts spaces in their names",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA B: 1\r\n\r\n", "reject", "eof", 400},
	{"trailer lookahead", "net/http reads a non-empty trailer section only once it sees CRLFCRLF within its 4 KiB buffer; we read trailer lines as they come, ending at an empty line (bare LF accepted as in heads)",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\nGET / HTTP/1.1\nHost: x\n\n", "eof", "incomplete", 0},
	{"empty target", "RFC 9112 §3.2: a request-target is never empty; net/http takes \"CONNECT  HTTP/1.0\" as CONNECT to no host",
		"CONNECT  HTTP/1.0\r\n\r\n", "reject", "close", 400},
	{"early refusal", "a line that can never be valid is refused when it is complete, without waiting for the rest of the head; net/http may ask for more bytes first",
		"GET / HTTP/1.1\r\nHost: x\r\n\x01\r\n", "reject", "", 400},
}

// compare fails unless ours and the reference agree, up to the
// differences above.
func compare(t *testing.T, data []byte) {
	t.Helper()
	got, ambiguous, _ := ours(data)
	want, onPurpose := reference(data)
	// "trailer lookahead": net/http waits for a CRLFCRLF within 4 KiB
	// before reading trailers; with one appended it must agree with us on
	// the requests we framed.
	if i := len(want.Reqs); want.End == "incomplete" && len(got.Reqs) > i && got.Reqs[i].Chunked {
		more, _ := reference(append(bytes.Clone(data), "\r\n\r\n"...))
		if len(more.Reqs) >= len(got.Reqs) {
			want.Reqs, want.End = more.Reqs[:len(got.Reqs)], got.End
		}
	}
	// "CL+TE closes": our stream stops after such a request.
	for i := range want.Reqs {
		if i < len(ambiguous) && ambiguous[i] {
			want.Reqs[i].Keep = false
			want.Reqs = want.Reqs[:i+1]
			want.End = "close"
			break
		}
	}
	// "Pragma".
	for i := range want.Reqs {
		h := want.Reqs[i].Headers
		if i < len(got.Reqs) && h["cache-control"] == "no-cache" && got.Reqs[i].Headers["cache-control"] == "" {
			delete(h, "cache-control")
		}
	}
	// "obs-fold", "trailer fields": we refuse a request net/http took.
	if i := len(got.Reqs); got.End == "reject" && i < len(onPurpose) && onPurpose[i] {
		want.Reqs, want.End = want.Reqs[:min(i, len(want.Reqs))], "reject"
	}
	// "early refusal".
	if want.End == "incomplete" && got.End == "reject" && len(got.Reqs) == len(want.Reqs) {
		want.End = "reject"
	}
	if len(want.Reqs) == 0 {
		want.Reqs = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("framing differs on %q\nours: %+v\nnet/http: %+v", data, got, want)
	}
}

var framingSeeds = []string{
	"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET / HTTP/1.1\nHost: x\n\n",
	"GET /a%20b?q=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nAccept: text/html\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET http://example.com/p?q HTTP/1.1\r\nHost: other\r\n\r\n",
	"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:  Chunked \r\n\r\n3;ext=1;q=\"a\"\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x/y\r\n\r\n",
	"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET / HTTP/1.1 \r\nHost: x\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
	"GET / HTTP/1.9\r\nHost: x\r\n\r\n",
	"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + strings.Repeat("a", 5000) + "\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\n\r\n",
	"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
	"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nhi",
	// found by the fuzzer
	"0",
	"0 0 HTTP/0.0\n0:00",
	"0 * HTTP/1.1\nHost:\n 000000000000000000000000\n\n000000000\n",
	"0 * HTTP/1.1\nHost:\nTrAnsfer-EnCoding:Chunked\n\n0\r\n\n0",
	"0 * HTTP/1.1\nHost:\nContent-Length:0\nTrAnsfer-EnCoding:Chunked\n\n0\r\n\n0",
	"CONNECT  HTTP/1.0\n\n",
	"0 * HTTP/1.1\nHost:\nTrAnsfer-EnCoding:\nTrAnsfer-EnCoding:Chunked\n\n",
	"GET / HTTP/1.1\rHost: x\r",
}

// FuzzFramingDifferential feeds the same bytes to our framing and to
// net/http's; they must agree on every request (method, target, path,
// query, headers, body, keep-alive) and on how the stream ends, up to
// the differences table.
func FuzzFramingDifferential(f *testing.F) {
	for _, s := range framingSeeds {
		f.Add([]byte(s))
	}
	for _, d := range differences {
		f.Add([]byte(d.input))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compare(t, data)
	})
}

// TestFramingSeeds runs the comparison on the seeds without -fuzz.
func TestFramingSeeds(t *testing.T) {
	for _, s := range framingSeeds {
		t.Run(fmt.Sprintf("%.30q", s), func(t *testing.T) { compare(t, []byte(s)) })
	}
}

// TestFramingDifferences shows each listed difference happens: net/http
// decides one way, we the other.
func TestFramingDifferences(t *testing.T) {
	for _, d := range differences {
		t.Run(d.name, func(t *testing.T) {
			got, _, status := ours([]byte(d.input))
			if got.End != d.ours || status != d.oursStatus {
				t.Fatalf("ours ended %q with %d, want %q with %d", got.End, status, d.ours, d.oursStatus)
			}
			raw, _ := reference([]byte(d.input))
			if d.ref != "" && raw.End != d.ref {
				t.Fatalf("net/http ended %q, want %q", raw.End, d.ref)
			}
		})
	}
}
