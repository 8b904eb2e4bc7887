package tests

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestHTTPRanges: curl's -r and -C - against static files: 206 with
// Content-Range for one range, 416 with "bytes */size" for none that
// fits, If-Range deciding between 206 and the whole 200, several ranges
// answered with the whole file, and a large range streamed whole.
func TestHTTPRanges(t *testing.T) {
	root, _ := httpSite(t)
	const size = 100 << 10
	httpBigFile(t, filepath.Join(root, "data.bin"), size)
	whole, err := os.ReadFile(filepath.Join(root, "data.bin"))
	if err != nil {
		t.Fatal(err)
	}
	bigSize := 3 << 20
	httpBigFile(t, filepath.Join(root, "big.bin"), bigSize)
	big, err := os.ReadFile(filepath.Join(root, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	srv := batteryServer(t, "epoll", httpScript(t, root, ""))
	base := "http://" + srv.Addr
	sizeText := strconv.Itoa(size)

	head := httpHead(t, base+"/data.bin", "--head")
	etag, lastMod := head.Header.Get("ETag"), head.Header.Get("Last-Modified")
	if head.StatusCode != 200 || head.Header.Get("Accept-Ranges") != "bytes" || etag == "" {
		t.Fatalf("HEAD: %d, Accept-Ranges %q, ETag %q", head.StatusCode, head.Header.Get("Accept-Ranges"), etag)
	}

	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		body       []byte
		contentRng string
	}{
		{"first ten bytes", []string{"-r", "0-9"}, 206, whole[:10], "bytes 0-9/" + sizeText},
		{"a middle range", []string{"-r", "1000-1999"}, 206, whole[1000:2000], "bytes 1000-1999/" + sizeText},
		{"from an offset to the end", []string{"-r", "102000-"}, 206, whole[102000:], "bytes 102000-102399/" + sizeText},
		{"the last 100 bytes", []string{"-r", "-100"}, 206, whole[size-100:], "bytes 102300-102399/" + sizeText},
		{"an end past the size is cut", []string{"-r", "102390-999999"}, 206, whole[102390:], "bytes 102390-102399/" + sizeText},
		{"more bytes than the file has from the end", []string{"-r", "-999999"}, 206, whole, "bytes 0-102399/" + sizeText},
		{"a start past the end is 416", []string{"-r", "200000-"}, 416, nil, "bytes */" + sizeText},
		{"a zero-length suffix is 416", []string{"-H", "Range: bytes=-0"}, 416, nil, "bytes */" + sizeText},
		{"several ranges get the whole file", []string{"-r", "0-1,5-6"}, 200, whole, ""},
		{"a reversed range is ignored", []string{"-H", "Range: bytes=9-1"}, 200, whole, ""},
		{"another unit is ignored", []string{"-H", "Range: items=0-1"}, 200, whole, ""},
		{"If-Range with the current ETag", []string{"-r", "0-9", "-H", "If-Range: " + etag}, 206, whole[:10], "bytes 0-9/" + sizeText},
		{"If-Range with an old ETag", []string{"-r", "0-9", "-H", `If-Range: "0-0"`}, 200, whole, ""},
		{"If-Range with a weak ETag", []string{"-r", "0-9", "-H", "If-Range: W/" + etag}, 200, whole, ""},
		{"If-Range with the Last-Modified date", []string{"-r", "0-9", "-H", "If-Range: " + lastMod}, 206, whole[:10], "bytes 0-9/" + sizeText},
		{"If-Range with another date", []string{"-r", "0-9", "-H", "If-Range: Sun, 06 Nov 1994 08:49:37 GMT"}, 200, whole, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, got := curlSaved(t, base+"/data.bin", tc.args...)
			if resp.StatusCode != tc.code || resp.Header.Get("Content-Range") != tc.contentRng {
				t.Fatalf("%d Content-Range %q, want %d %q", resp.StatusCode, resp.Header.Get("Content-Range"), tc.code, tc.contentRng)
			}
			if tc.body != nil && string(got) != string(tc.body) {
				t.Fatalf("body: %d bytes, want %d", len(got), len(tc.body))
			}
			if tc.code != 416 && resp.Header.Get("Content-Length") != strconv.Itoa(len(got)) {
				t.Fatalf("Content-Length %q for %d bytes", resp.Header.Get("Content-Length"), len(got))
			}
		})
	}

	// curl -C - resumes a partial download: it asks for the rest and
	// appends it.
	t.Run("resume with -C -", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "big.bin")
		if err := os.WriteFile(out, big[:777777], 0o644); err != nil {
			t.Fatal(err)
		}
		resp := curlHead(t, out+".head", "-C", "-", "--output", out, "--dump-header", out+".head", base+"/big.bin")
		if resp.StatusCode != http.StatusPartialContent {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if sumOf(mustRead(t, out)) != sumOf(big) {
			t.Fatal("the resumed file differs")
		}
	})
	// A range larger than chunk_size streams with the file's backpressure.
	t.Run("a large range streams", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "part")
		curlOK(t, "-r", "100000-2999999", "--output", out, base+"/big.bin")
		if sumOf(mustRead(t, out)) != sumOf(big[100000:3000000]) {
			t.Fatal("the range differs")
		}
	})
	srv.stop()
}

// curlSaved runs curl with args on url and returns the (last) response
// head and the body as saved.
func curlSaved(t *testing.T, url string, args ...string) (*http.Response, []byte) {
	t.Helper()
	dir := t.TempDir()
	body, head := filepath.Join(dir, "body"), filepath.Join(dir, "head")
	resp := curlHead(t, head, append(args, "--output", body, "--dump-header", head, url)...)
	b, _ := os.ReadFile(body) // none for an empty body
	return resp, b
}

// curlHead runs curl (which must succeed) and parses the last response
// head it dumped to headFile.
func curlHead(t *testing.T, headFile string, args ...string) *http.Response {
	t.Helper()
	curlOK(t, args...)
	return lastHead(t, string(mustRead(t, headFile)))
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
