package tests

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHTTPStatic: curl fetches files from httpd.lua's root with the right
// status, type, length, validators and folder handling.
func TestHTTPStatic(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		root, _ := httpSite(t)
		srv := batteryServer(t, poller, httpScript(t, root, ""))
		base := "http://" + srv.Addr

		t.Run("file", func(t *testing.T) {
			want, _ := os.ReadFile(filepath.Join(root, "hello.txt"))
			resp := httpHead(t, base+"/hello.txt")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", got)
			}
			if resp.ContentLength != int64(len(want)) {
				t.Errorf("Content-Length %d, want %d", resp.ContentLength, len(want))
			}
			code, body := httpStatus(t, base+"/hello.txt")
			if code != 200 || body != string(want) {
				t.Errorf("GET = %d %q, want 200 %q", code, body, want)
			}
		})

		t.Run("content types", func(t *testing.T) {
			for path, typ := range map[string]string{
				"/index.html":       "text/html; charset=utf-8",
				"/assets/site.css":  "text/css; charset=utf-8",
				"/assets/app.js":    "text/javascript; charset=utf-8",
				"/assets/data.json": "application/json",
				"/assets/blob.bin":  "application/octet-stream",
			} {
				resp := httpHead(t, base+path)
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != typ {
					t.Errorf("%s: %d %q, want 200 %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), typ)
				}
			}
		})

		t.Run("HEAD", func(t *testing.T) {
			info, _ := os.Stat(filepath.Join(root, "index.html"))
			r := curlOK(t, "--head", "--write-out", "%{size_download}", base+"/index.html")
			if !strings.Contains(r.stdout, "Content-Length: "+strconv.FormatInt(info.Size(), 10)) {
				t.Errorf("HEAD head lacks the file's length %d:\n%s", info.Size(), r.stdout)
			}
			if !strings.HasSuffix(r.stdout, "\r\n\r\n0") {
				t.Errorf("HEAD sent a body: %q", r.stdout)
			}
		})

		t.Run("folders", func(t *testing.T) {
			index, _ := os.ReadFile(filepath.Join(root, "index.html"))
			if code, body := httpStatus(t, base+"/"); code != 200 || body != string(index) {
				t.Errorf("/ = %d %q", code, body)
			}
			resp := httpHead(t, base+"/sub?x=1")
			if resp.StatusCode != 301 || resp.Header.Get("Location") != "/sub/?x=1" {
				t.Errorf("/sub = %d Location %q, want 301 /sub/?x=1", resp.StatusCode, resp.Header.Get("Location"))
			}
			sub, _ := os.ReadFile(filepath.Join(root, "sub", "index.html"))
			if code, body := httpStatus(t, base+"/sub", "--location"); code != 200 || body != string(sub) {
				t.Errorf("/sub followed = %d %q", code, body)
			}
			if code, _ := httpStatus(t, base+"/docs/"); code != 404 {
				t.Errorf("folder without index.html = %d, want 404", code)
			}
			if code, body := httpStatus(t, base+"/docs/two%20words.txt"); code != 200 || body != "a name with a space\n" {
				t.Errorf("escaped name = %d %q", code, body)
			}
		})

		t.Run("304", func(t *testing.T) {
			resp := httpHead(t, base+"/hello.txt")
			lm, etag := resp.Header.Get("Last-Modified"), resp.Header.Get("ETag")
			mtime, err := http.ParseTime(lm)
			if err != nil || etag == "" {
				t.Fatalf("Last-Modified %q (%v), ETag %q", lm, err, etag)
			}
			info, _ := os.Stat(filepath.Join(root, "hello.txt"))
			if !mtime.Equal(info.ModTime().Truncate(time.Second)) {
				t.Errorf("Last-Modified %s, file mtime %s", mtime, info.ModTime())
			}
			if code, body := httpStatus(t, base+"/hello.txt", "-H", "If-Modified-Since: "+lm); code != 304 || body != "" {
				t.Errorf("If-Modified-Since the mtime = %d %q, want 304 and no body", code, body)
			}
			later := mtime.Add(time.Hour).Format(http.TimeFormat)
			if code, _ := httpStatus(t, base+"/hello.txt", "-H", "If-Modified-Since: "+later); code != 304 {
				t.Errorf("If-Modified-Since later = %d, want 304", code)
			}
			earlier := mtime.Add(-time.Hour).Format(http.TimeFormat)
			if code, _ := httpStatus(t, base+"/hello.txt", "-H", "If-Modified-Since: "+earlier); code != 200 {
				t.Errorf("If-Modified-Since earlier = %d, want 200", code)
			}
			// curl's own conditional GET: --time-cond with the file's date
			if code, _ := httpStatus(t, base+"/hello.txt", "--time-cond", lm); code != 304 {
				t.Errorf("curl --time-cond = %d, want 304", code)
			}
			if code, _ := httpStatus(t, base+"/hello.txt", "-H", "If-None-Match: "+etag); code != 304 {
				t.Errorf("If-None-Match = %d, want 304", code)
			}
			if code, _ := httpStatus(t, base+"/hello.txt", "-H", `If-None-Match: "other"`, "-H", "If-Modified-Since: "+lm); code != 200 {
				t.Errorf("If-None-Match mismatch (wins over If-Modified-Since) = %d, want 200", code)
			}
		})

		t.Run("404 and hidden", func(t *testing.T) {
			for _, p := range []string{"/nope.txt", "/sub/nope/", "/.secret", "/hello.txt/x"} {
				if code, _ := httpStatus(t, base+p); code != 404 {
					t.Errorf("%s = %d, want 404", p, code)
				}
			}
		})

		t.Run("405", func(t *testing.T) {
			for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
				resp := httpHead(t, base+"/hello.txt", "-X", m)
				if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
					t.Errorf("%s = %d Allow %q, want 405 GET, HEAD, OPTIONS", m, resp.StatusCode, resp.Header.Get("Allow"))
				}
			}
			resp := httpHead(t, base+"/api/echo")
			if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
				t.Errorf("GET on a POST route = %d Allow %q, want 405 POST", resp.StatusCode, resp.Header.Get("Allow"))
			}
		})

		t.Run("keep-alive", func(t *testing.T) {
			// Two URLs in one curl call: the second reuses the connection.
			r := curlOK(t, "--verbose", "--write-out", "%{num_connects}\n",
				base+"/hello.txt", "-o", os.DevNull, base+"/assets/site.css", "-o", os.DevNull,
				base+"/nope", "-o", os.DevNull, base+"/index.html", "-o", os.DevNull)
			if r.stdout != "1\n0\n0\n0\n" {
				t.Errorf("connects per transfer %q, want 1 0 0 0 (a 404 keeps the connection too)", r.stdout)
			}
			if n := strings.Count(r.stderr, "Re-using existing connection"); n != 3 {
				t.Errorf("curl re-used the connection %d times, want 3:\n%s", n, r.stderr)
			}
		})
		srv.stop()
	})
}
