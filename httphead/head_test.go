package httphead_test

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"

	"pocketlua/httphead"
)

const browserHead = "GET /static/app.js?v=3 HTTP/1.1\r\nHost: example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36\r\n" +
	"Accept: */*\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n" +
	"Referer: http://example.com/\r\nConnection: keep-alive\r\nCookie: session=abc123\r\n\r\n"

// TestReadHeadIncomplete: every prefix of a head is incomplete, never an
// error; the whole head is one request.
func TestReadHeadIncomplete(t *testing.T) {
	for i := range len(browserHead) {
		h, n, err := httphead.ReadHead([]byte(browserHead[:i]), 0)
		if h != nil || n != 0 || err != nil {
			t.Fatalf("prefix %d: %v %d %v", i, h, n, err)
		}
	}
	h, n, err := httphead.ReadHead([]byte(browserHead), 0)
	if err != nil || n != len(browserHead) {
		t.Fatal(n, err)
	}
	ae, _ := h.Get("accept-encoding")
	if h.Method != "GET" || h.Path != "/static/app.js" || h.Query != "v=3" || h.Host != "example.com" ||
		ae != "gzip, deflate, br" || !h.Keep || h.Body != httphead.NoBody {
		t.Fatalf("%+v", h)
	}
}

// TestReadHeadLimit: a head of exactly maxHead bytes is read; one byte
// more, or maxHead empty lines, is 431.
func TestReadHeadLimit(t *testing.T) {
	if h, n, err := httphead.ReadHead([]byte(browserHead), len(browserHead)); h == nil || n != len(browserHead) || err != nil {
		t.Fatalf("at the limit: %v %d %v", h, n, err)
	}
	for _, buf := range []string{browserHead, strings.Repeat("\r\n", len(browserHead))} {
		_, _, err := httphead.ReadHead([]byte(buf), len(browserHead)-1)
		if he, ok := err.(*httphead.HTTPError); !ok || he.Status != 431 {
			t.Fatalf("%.20q over the limit: %v", buf, err)
		}
	}
}

// TestTransferCodings: repeated Transfer-Encoding fields are one list, in
// which only a single "chunked" is accepted.
func TestTransferCodings(t *testing.T) {
	for _, c := range []struct {
		fields string
		status int // 0: a chunked body
	}{
		{"Transfer-Encoding: chunked\r\n", 0},
		{"Transfer-Encoding: \r\nTransfer-Encoding: chunked\r\n", 400},
		{"Transfer-Encoding: chunked\r\nTransfer-Encoding: \r\n", 400},
		{"Transfer-Encoding: \r\n", 400},
		{"Transfer-Encoding: chunked,\r\n", 400},
		{"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400},
		{"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", 501},
	} {
		head := "POST / HTTP/1.1\r\nHost: x\r\n" + c.fields + "\r\n"
		h, _, err := httphead.ReadHead([]byte(head), 0)
		he, _ := err.(*httphead.HTTPError)
		switch {
		case c.status == 0 && (err != nil || h == nil || h.Body != httphead.ChunkedBody):
			t.Errorf("%q: %v %v, want a chunked body", c.fields, h, err)
		case c.status != 0 && (he == nil || he.Status != c.status):
			t.Errorf("%q: %v %v, want %d", c.fields, h, err, c.status)
		}
	}
}

// TestChunkedBytewise: a body fed one byte at a time decodes the same as
// whole, and the decoder stops exactly at the end of the body.
func TestChunkedBytewise(t *testing.T) {
	body := "4;x=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-A: 1\r\n\r\nGET"
	var d httphead.ChunkedDecoder
	var out []byte
	pending := []byte{}
	for i := 0; i < len(body) && !d.Done(); i++ {
		pending = append(pending, body[i])
		var used int
		var err error
		out, used, err = d.Decode(out, pending)
		if err != nil {
			t.Fatal(err)
		}
		pending = pending[used:]
	}
	if string(out) != "Wikipedia in\r\n\r\nchunks." || !d.Done() || len(pending) != 0 {
		t.Fatalf("%q done %v pending %q", out, d.Done(), pending)
	}
}

// TestChunkedLimits: max_body gives 413, long trailers 431.
func TestChunkedLimits(t *testing.T) {
	d := httphead.ChunkedDecoder{MaxBody: 10}
	if _, _, err := d.Decode(nil, []byte("6\r\nabcdef\r\n5\r\n")); err == nil || err.(*httphead.HTTPError).Status != 413 {
		t.Fatalf("over max_body: %v", err)
	}
	d = httphead.ChunkedDecoder{MaxTrailer: 20}
	if _, _, err := d.Decode(nil, []byte("0\r\nX-A: "+strings.Repeat("a", 30)+"\r\n\r\n")); err == nil || err.(*httphead.HTTPError).Status != 431 {
		t.Fatalf("long trailer: %v", err)
	}
}

// BenchmarkReadHead and BenchmarkNetHTTPReadRequest parse the same
// browser-like head (docs/PERFORMANCE.md compares their allocations).
func BenchmarkReadHead(b *testing.B) {
	buf := []byte(browserHead)
	b.ReportAllocs()
	for b.Loop() {
		if h, _, err := httphead.ReadHead(buf, 0); err != nil || h == nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNetHTTPReadRequest(b *testing.B) {
	buf := []byte(browserHead)
	rd := bytes.NewReader(buf)
	br := bufio.NewReader(rd)
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(buf)
		br.Reset(rd)
		if _, err := http.ReadRequest(br); err != nil {
			b.Fatal(err)
		}
	}
}
