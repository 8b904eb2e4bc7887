package tests

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHTTPTraversal: no request reaches a file outside the root: "..",
// its percent-encoded forms, encoded slashes and backslashes, NUL, and
// symlinks that point out of the root.
func TestHTTPTraversal(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		root, secret := httpSite(t)
		srv := batteryServer(t, poller, httpScript(t, root, ""))
		base := "http://" + srv.Addr
		for _, c := range []struct {
			path string
			want int
		}{
			{"/../secret.txt", 400},
			{"/sub/../../secret.txt", 400},
			{"/%2e%2e/secret.txt", 400},
			{"/%2E%2E/secret.txt", 400},
			{"/sub/%2e%2e/%2e%2e/secret.txt", 400},
			{"/.%2e/secret.txt", 400},
			{"/..%2fsecret.txt", 400},
			{"/sub%2f..%2f..%2fsecret.txt", 400},
			{"/..%5csecret.txt", 400},
			{`/..\secret.txt`, 400},
			{"/hello.txt%00.html", 400},
			{"/escape.txt", 403},
			{"/escape/secret.txt", 403},
			{"/rel-escape", 403},
		} {
			code, body := httpStatus(t, base+c.path, "--path-as-is")
			if code != c.want || strings.Contains(body, strings.TrimSpace(secret)) {
				t.Errorf("%s = %d %q, want %d", c.path, code, body, c.want)
			}
		}
		// Raw request targets curl would not send.
		c := httpDialRaw(t, srv.Addr)
		c.send("GET /../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n" +
			"GET http://x/%2e%2e/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n" +
			"GET /alias.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		for i, want := range []int{400, 400, 200} {
			resp, body := c.next("GET")
			if resp.StatusCode != want || strings.Contains(body, "outside the root") {
				t.Errorf("raw request %d: %d %q, want %d", i, resp.StatusCode, body, want)
			}
		}
		c.Close() // before stop: the server would wait for its FIN
		// A symlink that stays inside the root is served.
		if code, body := httpStatus(t, base+"/alias.txt"); code != 200 || body != "hello from pocketlua\n" {
			t.Errorf("/alias.txt = %d %q", code, body)
		}
		srv.stop()
	})
}

// TestHTTPLimits: 400, 411-free bodies, 413, 414, 431, 501, 505 and the
// timeouts, each answered precisely.
func TestHTTPLimits(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		root, _ := httpSite(t)
		srv := batteryServer(t, poller, httpScript(t, root, "timeouts.lua"))
		base := "http://" + srv.Addr

		t.Run("413", func(t *testing.T) {
			big := filepath.Join(t.TempDir(), "big")
			os.WriteFile(big, rawPattern(65537, 1), 0o644)
			if code, body := httpStatus(t, base+"/api/echo", "--data-binary", "@"+big); code != 413 || !strings.Contains(body, "65536") {
				t.Errorf("65537-byte body = %d %q, want 413", code, body)
			}
			if code, _ := httpStatus(t, base+"/api/echo", "--data-binary", "@"+big, "-H", "Transfer-Encoding: chunked"); code != 413 {
				t.Errorf("65537-byte chunked body = %d, want 413", code)
			}
			// Expect: 100-continue is answered with 413 before the body is sent.
			r := curlOK(t, "--verbose", "-H", "Expect: 100-continue", "--data-binary", "@"+big, "--write-out", "%{http_code}", base+"/api/echo")
			if !strings.HasSuffix(r.stdout, "413") || strings.Contains(r.stderr, "HTTP/1.1 100") {
				t.Errorf("Expect: 100-continue with a large body: %q\n%s", r.stdout, r.stderr)
			}
			ok := filepath.Join(t.TempDir(), "ok")
			os.WriteFile(ok, rawPattern(65536, 2), 0o644)
			if code, body := httpStatus(t, base+"/api/echo", "--data-binary", "@"+ok); code != 200 || body != string(rawPattern(65536, 2)) {
				t.Errorf("65536-byte body = %d (%d bytes back)", code, len(body))
			}
		})

		t.Run("414", func(t *testing.T) {
			long := "/" + strings.Repeat("a", 2100)
			if code, _ := httpStatus(t, base+long); code != 414 {
				t.Errorf("2101-byte target = %d, want 414", code)
			}
			if code, _ := httpStatus(t, base+"/x?"+strings.Repeat("q", 2100)); code != 414 {
				t.Errorf("long query = %d, want 414", code)
			}
			// Without a line end yet: refused once the line passes the limit.
			c := httpDialRaw(t, srv.Addr)
			c.send("GET /" + strings.Repeat("b", 3000))
			resp, _ := c.next("GET")
			if resp.StatusCode != 414 {
				t.Errorf("unterminated long target = %d, want 414", resp.StatusCode)
			}
			c.expectEOF(5 * time.Second)
		})

		t.Run("431", func(t *testing.T) {
			if code, _ := httpStatus(t, base+"/hello.txt", "-H", "X-Big: "+strings.Repeat("h", 9000)); code != 431 {
				t.Errorf("9000-byte header = %d, want 431", code)
			}
			var many []string
			for i := 0; i < 200; i++ {
				many = append(many, "-H", "X-Header-"+itoa3(i)+": "+strings.Repeat("v", 40))
			}
			if code, _ := httpStatus(t, base+"/hello.txt", many...); code != 431 {
				t.Errorf("200 headers = %d, want 431", code)
			}
		})

		t.Run("bad requests", func(t *testing.T) {
			for _, raw := range []string{
				"GARBAGE\r\n\r\n",
				"GET /hello.txt HTTP/1.1\r\n\r\n", // no Host
				"GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
				"GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
				"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
			} {
				c := httpDialRaw(t, srv.Addr)
				c.send(raw)
				resp, _ := c.next("GET")
				if resp.StatusCode != 400 {
					t.Errorf("%q = %d, want 400", raw, resp.StatusCode)
				}
				c.expectEOF(5 * time.Second)
			}
			c := httpDialRaw(t, srv.Addr)
			c.send("POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")
			if resp, _ := c.next("POST"); resp.StatusCode != 501 {
				t.Errorf("Transfer-Encoding: gzip = %d, want 501", resp.StatusCode)
			}
			c.expectEOF(5 * time.Second)
			c = httpDialRaw(t, srv.Addr)
			c.send("GET / HTTP/2.0\r\nHost: x\r\n\r\n")
			if resp, _ := c.next("GET"); resp.StatusCode != 505 {
				t.Errorf("HTTP/2.0 = %d, want 505", resp.StatusCode)
			}
			c.expectEOF(5 * time.Second)
		})

		t.Run("timeouts", func(t *testing.T) {
			// An idle keep-alive connection is closed without a word.
			c := httpDialRaw(t, srv.Addr)
			c.send("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, _ := c.next("GET"); resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			c.expectEOF(5 * time.Second)
			// A request that stops half-way gets 408.
			c = httpDialRaw(t, srv.Addr)
			c.send("GET /hello.txt HTTP/1.1\r\nHost: x\r\n")
			resp, _ := c.next("GET")
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Errorf("half a head = %d, want 408", resp.StatusCode)
			}
			c.expectEOF(5 * time.Second)
			// A client that stops reading a streamed file is dropped once
			// nothing moved for a whole request_timeout: it gets a short
			// body, then EOF.
			httpBigFile(t, filepath.Join(root, "stall.bin"), 24<<20)
			c = httpDialRaw(t, srv.Addr)
			c.send("GET /stall.bin HTTP/1.1\r\nHost: x\r\n\r\n")
			rawWaitLogs(t, srv, 20*time.Second, 1, "http response stalled; closing", "path=/stall.bin")
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(c.r, nil)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			if err == nil || n >= 24<<20 {
				t.Errorf("stalled client read %d bytes, %v; want a short body and an unexpected EOF", n, err)
			}
			c.Close()
		})
		srv.stop()
	})
}

func itoa3(i int) string {
	return string([]byte{byte('0' + i/100), byte('0' + i/10%10), byte('0' + i%10)})
}
