package tests

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// gzipFile writes the gzip of data to path.
func gzipFile(t *testing.T, path string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHTTPPrecompressed: file.gz (or file.br) beside file is sent to a
// client that accepts its coding, with the original's Content-Type,
// Content-Encoding, Vary and an ETag of its own; ranges count the
// compressed bytes; a client that does not accept it gets the plain file.
func TestHTTPPrecompressed(t *testing.T) {
	root, _ := httpSite(t)
	js := []byte(strings.Repeat("console.log('precompressed app');\n", 600))
	if err := os.WriteFile(filepath.Join(root, "app.js"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	gz := gzipFile(t, filepath.Join(root, "app.js.gz"), js)
	// Only the selection is tested for br (Go has no brotli encoder): the
	// bytes are sent as they are.
	css := []byte("body { color: red }\n")
	brBytes := []byte("not really brotli")
	os.WriteFile(filepath.Join(root, "style.css"), css, 0o644)
	os.WriteFile(filepath.Join(root, "style.css.br"), brBytes, 0o644)
	os.WriteFile(filepath.Join(root, "style.css.gz"), gzipFile(t, filepath.Join(t.TempDir(), "x"), css), 0o644)
	// A variant that is a symlink out of the root is never sent.
	outside := filepath.Join(t.TempDir(), "evil.gz")
	gzipFile(t, outside, []byte("secret"))
	os.WriteFile(filepath.Join(root, "plain.txt"), []byte("plain text\n"), 0o644)
	os.Symlink(outside, filepath.Join(root, "plain.txt.gz"))

	srv := batteryServer(t, "epoll", httpScript(t, root, ""))
	base := "http://" + srv.Addr

	resp, body := curlSaved(t, base+"/app.js", "-H", "Accept-Encoding: gzip")
	gzTag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(body, gz) ||
		resp.Header.Get("Vary") != "Accept-Encoding" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") ||
		!strings.HasSuffix(gzTag, `-gzip"`) || resp.Header.Get("Content-Length") != strconv.Itoa(len(gz)) {
		t.Fatalf("gzip: %d %v, %d bytes", resp.StatusCode, resp.Header, len(body))
	}
	// curl --compressed decodes it back to the file.
	if r := curlOK(t, "--compressed", base+"/app.js"); r.stdout != string(js) {
		t.Fatalf("--compressed: %d bytes, want %d", len(r.stdout), len(js))
	}
	for _, tc := range []struct {
		name, ae, encoding string
		want               []byte
	}{
		{"no Accept-Encoding", "", "", js},
		{"gzip refused with q=0", "gzip;q=0, identity", "", js},
		{"any coding", "*", "gzip", gz},
		{"br preferred to gzip when both exist", "gzip, br", "br", brBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/app.js"
			if tc.encoding == "br" {
				path = "/style.css"
			}
			resp, body := curlSaved(t, base+path, "-H", "Accept-Encoding: "+tc.ae)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != tc.encoding ||
				!bytes.Equal(body, tc.want) || resp.Header.Get("Vary") != "Accept-Encoding" {
				t.Fatalf("%d %v, %d bytes", resp.StatusCode, resp.Header, len(body))
			}
			if tc.encoding == "" && resp.Header.Get("ETag") == gzTag {
				t.Fatal("the plain file has the gzip file's ETag")
			}
		})
	}
	t.Run("a range counts the compressed bytes", func(t *testing.T) {
		resp, body := curlSaved(t, base+"/app.js", "-H", "Accept-Encoding: gzip", "-r", "0-9")
		if resp.StatusCode != 206 || !bytes.Equal(body, gz[:10]) ||
			resp.Header.Get("Content-Range") != "bytes 0-9/"+strconv.Itoa(len(gz)) || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%d %v %q", resp.StatusCode, resp.Header, body)
		}
	})
	t.Run("If-None-Match with the gzip ETag", func(t *testing.T) {
		resp, _ := curlSaved(t, base+"/app.js", "-H", "Accept-Encoding: gzip", "-H", "If-None-Match: "+gzTag)
		if resp.StatusCode != 304 || resp.Header.Get("Vary") != "Accept-Encoding" {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
		resp, _ = curlSaved(t, base+"/app.js", "-H", "If-None-Match: "+gzTag)
		if resp.StatusCode != 200 {
			t.Fatalf("the plain file matched the gzip ETag: %d", resp.StatusCode)
		}
	})
	t.Run("a variant outside the root is not sent", func(t *testing.T) {
		resp, body := curlSaved(t, base+"/plain.txt", "-H", "Accept-Encoding: gzip")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" || string(body) != "plain text\n" {
			t.Fatalf("%d %v %q", resp.StatusCode, resp.Header, body)
		}
	})
	srv.stop()
}

// TestHTTPCompressAndCache: compress = true gzips compressible route
// responses of compress_min bytes or more for clients that accept gzip;
// res:etag answers 304; cache_control sets Cache-Control by folder.
func TestHTTPCompressAndCache(t *testing.T) {
	root, _ := httpSite(t)
	srv := batteryServer(t, "epoll", httpScript(t, root, "compress.lua"))
	base := "http://" + srv.Addr

	resp, body := curlSaved(t, base+"/api/big", "-H", "Accept-Encoding: gzip")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" ||
		resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Fatalf("big JSON: %d %v", resp.StatusCode, resp.Header)
	}
	var items []map[string]any
	if err := json.Unmarshal(gunzip(t, body), &items); err != nil || len(items) != 200 {
		t.Fatalf("decoded body: %v, %d items", err, len(items))
	}
	if r := curlOK(t, "--compressed", base+"/api/big"); !json.Valid([]byte(r.stdout)) {
		t.Fatal("curl --compressed: not JSON")
	}
	for _, tc := range []struct {
		name, path, ae, encoding string
	}{
		{"a client without gzip gets it plain", "/api/big", "", ""},
		{"gzip;q=0 gets it plain", "/api/big", "gzip;q=0", ""},
		{"a small body is not compressed", "/api/small", "gzip", ""},
		{"an image is not compressed", "/api/png", "gzip", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := curlSaved(t, base+tc.path, "-H", "Accept-Encoding: "+tc.ae)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != tc.encoding {
				t.Fatalf("%d %v", resp.StatusCode, resp.Header)
			}
			if tc.path == "/api/big" && !json.Valid(body) {
				t.Fatal("the plain body is not JSON")
			}
		})
	}
	t.Run("res:etag", func(t *testing.T) {
		resp, body := curlSaved(t, base+"/api/versioned")
		if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"v7"` || resp.Header.Get("Cache-Control") != "max-age=5" ||
			!strings.HasPrefix(string(body), "versioned text") {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
		resp, _ = curlSaved(t, base+"/api/versioned", "-H", "Accept-Encoding: gzip")
		if resp.Header.Get("ETag") != `W/"v7"` || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("gzip: %v", resp.Header)
		}
		for _, inm := range []string{`"v7"`, `W/"v7"`, `"v1", "v7"`, `*`} {
			resp, body := curlSaved(t, base+"/api/versioned", "-H", "If-None-Match: "+inm)
			if resp.StatusCode != 304 || len(body) != 0 || resp.Header.Get("ETag") != `"v7"` {
				t.Fatalf("If-None-Match %s: %d %v", inm, resp.StatusCode, resp.Header)
			}
		}
		if resp, _ := curlSaved(t, base+"/api/versioned", "-H", `If-None-Match: "v6"`); resp.StatusCode != 200 {
			t.Fatalf("a stale tag: %d", resp.StatusCode)
		}
	})
	t.Run("cache_control by folder", func(t *testing.T) {
		for path, want := range map[string]string{
			"/hello.txt":       "no-cache",
			"/assets/site.css": "max-age=31536000, immutable",
			"/nothing-here":    "",
		} {
			resp, _ := curlSaved(t, base+path)
			if got := resp.Header.Get("Cache-Control"); got != want {
				t.Errorf("%s: Cache-Control %q, want %q", path, got, want)
			}
		}
	})
	srv.stop()
}
