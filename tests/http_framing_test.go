package tests

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestHTTPFraming sends the request-smuggling classics and the other
// framing cases of RFC 9112 over raw sockets: each gets the answers
// listed, in order, then the connection closes or (keep) carries one more
// request.
func TestHTTPFraming(t *testing.T) {
	root, _ := httpSite(t)
	srv := batteryServer(t, "epoll", httpScript(t, root, ""))
	const hello = "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	cases := []struct {
		name   string
		send   string
		method string // of the answered requests
		codes  []int
		bodies []string // when given, the answers' bodies
		keep   bool
	}{
		{"CL+TE: body by chunked, then close before the pipelined request",
			"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + hello,
			"POST", []int{200}, []string{"hello"}, false},
		{"bare LF line endings are accepted",
			"GET /hello.txt HTTP/1.1\nHost: x\n\n", "GET", []int{200}, []string{"hello from pocketlua\n"}, true},
		{"bare LF and CRLF mixed, with a body",
			"POST /api/echo HTTP/1.1\nHost: x\r\nContent-Length: 2\n\nhi", "POST", []int{200}, []string{"hi"}, true},
		{"empty lines before a request are skipped",
			"\r\n\n\r\n" + hello, "GET", []int{200}, nil, true},
		{"an unknown transfer coding is 501",
			"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "POST", []int{501}, nil, false},
		{"chunked applied twice is 400",
			"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "POST", []int{400}, nil, false},
		{"Transfer-Encoding on HTTP/1.0 is 400",
			"POST /api/echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "POST", []int{400}, nil, false},
		{"differing Content-Length values are 400",
			"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", "POST", []int{400}, nil, false},
		{"a Content-Length list is 400",
			"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\nab", "POST", []int{400}, nil, false},
		{"a signed Content-Length is 400",
			"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\nab", "POST", []int{400}, nil, false},
		{"identical Content-Length repeats are one",
			"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", "POST", []int{200}, []string{"ab"}, true},
		{"obs-fold is 400",
			"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", "GET", []int{400}, nil, false},
		{"whitespace before the colon is 400",
			"GET /hello.txt HTTP/1.1\r\nHost : x\r\n\r\n", "GET", []int{400}, nil, false},
		{"a NUL in a value is 400",
			"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", "GET", []int{400}, nil, false},
		{"a bare CR is refused at once",
			"GET /hello.txt HTTP/1.1\rHost: x\r", "GET", []int{400}, nil, false},
		{"a bad line is refused before the head ends",
			"GET /hello.txt HTTP/1.1\r\nHost: x\r\nno colon here\r\n", "GET", []int{400}, nil, false},
		{"no Host on HTTP/1.1 is 400",
			"GET /hello.txt HTTP/1.1\r\n\r\n", "GET", []int{400}, nil, false},
		{"two Host fields are 400",
			"GET /hello.txt HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", "GET", []int{400}, nil, false},
		{"HTTP/2.0 on this port is 505",
			"GET /hello.txt HTTP/2.0\r\nHost: x\r\n\r\n", "GET", []int{505}, nil, false},
		{"an absolute-form target is served",
			"GET http://x/hello.txt HTTP/1.1\r\nHost: y\r\n\r\n", "GET", []int{200}, []string{"hello from pocketlua\n"}, true},
		{"a chunk size past 64 bits is 400",
			"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n", "POST", []int{400}, nil, false},
		{"a chunk larger than max_body is 413",
			"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffff\r\n", "POST", []int{413}, nil, false},
		{"chunk data not followed by CRLF is 400",
			"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", "POST", []int{400}, nil, false},
		{"a chunk line with a bare LF is 400",
			"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n", "POST", []int{400}, nil, false},
		{"extensions and trailers are read and dropped",
			"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2;a=b\r\nab\r\n1;q=\"x\"\r\nc\r\n0\r\nX-Sum: 3\r\n\r\n",
			"POST", []int{200}, []string{"abc"}, true},
		{"a bad trailer field is 400",
			"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX Sum: 3\r\n\r\n", "POST", []int{400}, nil, false},
		{"Connection: close closes",
			"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + hello, "GET", []int{200}, nil, false},
		{"HTTP/1.0 without keep-alive closes",
			"GET /hello.txt HTTP/1.0\r\n\r\n" + hello, "GET", []int{200}, nil, false},
		{"a long header line is 431",
			"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Long: " + strings.Repeat("a", 9000) + "\r\n\r\n", "GET", []int{431}, nil, false},
	}
	// More pipelined requests than max_pipeline (16) in one write: all
	// answered, in order, across turns of the loop.
	var many strings.Builder
	var manyCodes []int
	var manyBodies []string
	for i := range 40 {
		fmt.Fprintf(&many, "GET /users/%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		manyCodes = append(manyCodes, 200)
		manyBodies = append(manyBodies, fmt.Sprintf("user %d\n", i))
	}
	cases = append(cases, struct {
		name   string
		send   string
		method string
		codes  []int
		bodies []string
		keep   bool
	}{"40 pipelined requests", many.String(), "GET", manyCodes, manyBodies, true})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := httpDialRaw(t, srv.Addr)
			c.send(tc.send)
			for i, code := range tc.codes {
				resp, body := c.next(tc.method)
				if resp.StatusCode != code {
					t.Fatalf("answer %d: %d %q, want %d", i, resp.StatusCode, body, code)
				}
				if tc.bodies != nil && body != tc.bodies[i] {
					t.Fatalf("answer %d: body %q, want %q", i, body, tc.bodies[i])
				}
				if last := i == len(tc.codes)-1; last && resp.Close == tc.keep {
					t.Fatalf("answer %d: Connection: close is %v, want %v", i, resp.Close, !tc.keep)
				}
			}
			if !tc.keep {
				c.expectEOF(5 * time.Second)
				return
			}
			c.send(hello)
			if resp, body := c.next("GET"); resp.StatusCode != 200 || body != "hello from pocketlua\n" {
				t.Fatalf("the request after: %d %q", resp.StatusCode, body)
			}
		})
	}
	srv.stop()
}
