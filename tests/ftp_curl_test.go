package tests

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFTPCurlList: curl's FTP client lists a folder (EPSV and PASV) in
// ls -l form and with --list-only.
func TestFTPCurlList(t *testing.T) {
	ftpOnSite(t, func(t *testing.T, srv *server, _, _ string) {
		base := "ftp://" + srv.Addr
		t.Run("list", func(t *testing.T) {
			for _, args := range [][]string{nil, {"--disable-epsv"}} {
				r := curlOK(t, append(args, base+"/")...)
				var names []string
				// curl turns the CRLF of an ASCII-mode listing into LF
				for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
					line = strings.TrimSuffix(line, "\r")
					m := ftpLsLine.FindStringSubmatch(line)
					if m == nil {
						t.Fatalf("LIST line %q is not in ls -l form", line)
					}
					names = append(names, m[7])
				}
				if strings.Join(names, " ") != "alias.txt hello.txt pub" {
					t.Errorf("%v: listing names %q", args, names)
				}
			}
			r := curlOK(t, "--list-only", base+"/pub/")
			if strings.ReplaceAll(r.stdout, "\r", "") != "notes.txt\nreadme.txt\n" {
				t.Errorf("NLST /pub/ = %q", r.stdout)
			}
		})
	})
}

// TestFTPCurlDownload: curl downloads with each of its CWD methods, over
// EPSV and PASV, and resumes with REST.
func TestFTPCurlDownload(t *testing.T) {
	ftpOnSite(t, func(t *testing.T, srv *server, _, _ string) {
		base := "ftp://" + srv.Addr
		t.Run("download", func(t *testing.T) {
			for _, args := range [][]string{nil, {"--disable-epsv"}, {"--ftp-method", "nocwd"}, {"--ftp-method", "singlecwd"}} {
				r := curlOK(t, append(args, base+"/pub/readme.txt")...)
				if r.stdout != "read me\n" {
					t.Errorf("%v: got %q", args, r.stdout)
				}
			}
			if r := curlOK(t, "--range", "6-", base+"/hello.txt"); r.stdout != "from pocketlua\n" {
				t.Errorf("resumed download (REST) = %q", r.stdout)
			}
		})
	})
}

// TestFTPCurlSizeAndMDTM: curl -I and --remote-time read the size and the
// modification time (SIZE, MDTM).
func TestFTPCurlSizeAndMDTM(t *testing.T) {
	ftpOnSite(t, func(t *testing.T, srv *server, root, _ string) {
		base := "ftp://" + srv.Addr
		t.Run("SIZE and MDTM", func(t *testing.T) {
			resp := httpHeadFTP(t, base+"/hello.txt")
			info, _ := os.Stat(filepath.Join(root, "hello.txt"))
			if resp.Get("Content-Length") != "21" {
				t.Errorf("curl -I Content-Length %q, want 21 (SIZE)", resp.Get("Content-Length"))
			}
			lm, err := http.ParseTime(resp.Get("Last-Modified"))
			if err != nil || !lm.Equal(info.ModTime().Truncate(time.Second)) {
				t.Errorf("curl -I Last-Modified %q, want %s (MDTM)", resp.Get("Last-Modified"), info.ModTime().UTC())
			}
			out := filepath.Join(t.TempDir(), "h")
			curlOK(t, "--remote-time", "-o", out, base+"/hello.txt")
			if got, _ := os.Stat(out); !got.ModTime().Equal(info.ModTime().Truncate(time.Second)) {
				t.Errorf("curl --remote-time set %s, want %s", got.ModTime(), info.ModTime())
			}
		})
	})
}

// TestFTPCurlUpload: uploads are refused (curl's exit 25, nothing written)
// for anonymous and a user without write, a wrong password is exit 67,
// and alice uploads over EPSV and PASV, into new folders, and appends.
func TestFTPCurlUpload(t *testing.T) {
	ftpOnSite(t, func(t *testing.T, srv *server, root, _ string) {
		base := "ftp://" + srv.Addr
		alice := "ftp://alice:s3cret@" + srv.Addr
		t.Run("upload", func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "up.txt")
			os.WriteFile(src, []byte("uploaded by curl\n"), 0o644)
			// anonymous: refused, nothing written
			if r := runCurl(t, "-T", src, base+"/up.txt"); r.code != 25 {
				t.Errorf("anonymous upload: exit %d (%s), want 25", r.code, r.stderr)
			}
			// bob: a configured user without write
			if r := runCurl(t, "-T", src, "ftp://bob:hunter2@"+srv.Addr+"/up.txt"); r.code != 25 {
				t.Errorf("bob's upload: exit %d (%s), want 25", r.code, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(root, "up.txt")); err == nil {
				t.Errorf("a refused upload left a file")
			}
			if r := runCurl(t, "-T", src, "ftp://alice:wrong@"+srv.Addr+"/up.txt"); r.code != 67 {
				t.Errorf("wrong password: exit %d, want 67 (login denied)", r.code)
			}
			for i, args := range [][]string{nil, {"--disable-epsv"}} {
				name := []string{"up-epsv.txt", "up-pasv.txt"}[i]
				curlOK(t, append(args, "-T", src, alice+"/pub/"+name)...)
				if b, _ := os.ReadFile(filepath.Join(root, "pub", name)); string(b) != "uploaded by curl\n" {
					t.Errorf("%v: stored %q", args, b)
				}
			}
			curlOK(t, "--ftp-create-dirs", "-T", src, alice+"/a/b/deep.txt")
			if _, err := os.Stat(filepath.Join(root, "a", "b", "deep.txt")); err != nil {
				t.Errorf("--ftp-create-dirs: %v", err)
			}
			curlOK(t, "--append", "-T", src, alice+"/a/b/deep.txt")
			if b, _ := os.ReadFile(filepath.Join(root, "a", "b", "deep.txt")); string(b) != strings.Repeat("uploaded by curl\n", 2) {
				t.Errorf("--append (APPE) stored %q", b)
			}
		})
	})
}

// TestFTPCurlQuote: curl's quote commands (MKD, RMD, DELE, RNFR/RNTO) work
// for alice and are refused (exit 21, nothing changed) for anonymous and
// bob.
func TestFTPCurlQuote(t *testing.T) {
	ftpOnSite(t, func(t *testing.T, srv *server, root, _ string) {
		base := "ftp://" + srv.Addr
		alice := "ftp://alice:s3cret@" + srv.Addr
		t.Run("quote commands", func(t *testing.T) {
			curlOK(t, "-Q", "MKD made", "-Q", "MKD made/inner", alice+"/")
			if st, err := os.Stat(filepath.Join(root, "made", "inner")); err != nil || !st.IsDir() {
				t.Fatalf("MKD: %v", err)
			}
			curlOK(t, "-Q", "RMD made/inner", "-Q", "RMD made", alice+"/")
			if _, err := os.Stat(filepath.Join(root, "made")); err == nil {
				t.Errorf("RMD left the folder")
			}
			rawWriteFile(t, root, "pub/doomed.txt", "x")
			curlOK(t, "-Q", "DELE pub/doomed.txt", alice+"/")
			if _, err := os.Stat(filepath.Join(root, "pub", "doomed.txt")); err == nil {
				t.Errorf("DELE left the file")
			}
			curlOK(t, "-Q", "RNFR hello.txt", "-Q", "RNTO renamed.txt", "-Q", "RNFR renamed.txt", "-Q", "RNTO hello.txt", alice+"/")
			// anonymous and bob: refused (curl: quote error, exit 21), nothing changed
			for _, url := range []string{base + "/", "ftp://bob:hunter2@" + srv.Addr + "/"} {
				for _, q := range []string{"DELE hello.txt", "MKD x", "RMD pub"} {
					if r := runCurl(t, "-Q", q, url); r.code != 21 {
						t.Errorf("%s as %s: exit %d, want 21", q, url, r.code)
					}
				}
			}
			if _, err := os.Stat(filepath.Join(root, "hello.txt")); err != nil {
				t.Errorf("hello.txt: %v", err)
			}
		})
	})
}

// TestFTPCurlTraversal: no path, however encoded, reads or writes outside
// the root, through ".." or a symlink.
func TestFTPCurlTraversal(t *testing.T) {
	ftpOnSite(t, func(t *testing.T, srv *server, root, secret string) {
		base := "ftp://" + srv.Addr
		alice := "ftp://alice:s3cret@" + srv.Addr
		t.Run("traversal", func(t *testing.T) {
			for _, c := range []struct {
				path string
				args []string
			}{
				{"/../secret.txt", []string{"--path-as-is"}},
				{"/../../secret.txt", []string{"--path-as-is", "--ftp-method", "nocwd"}},
				{"/%2e%2e/secret.txt", nil},
				{"/..%2fsecret.txt", nil},
				{"/pub/..%2f..%2fsecret.txt", []string{"--ftp-method", "nocwd"}},
				{"/escape.txt", nil},
				{"/escape/secret.txt", nil},
				{"/escape/", nil},
			} {
				r := runCurl(t, append(c.args, base+c.path)...)
				if r.code == 0 || strings.Contains(r.stdout, strings.TrimSpace(secret)) {
					t.Errorf("%s %v: exit %d, %q", c.path, c.args, r.code, r.stdout)
				}
			}
			// Upload attempts through the same routes write nothing outside.
			src := filepath.Join(t.TempDir(), "evil")
			os.WriteFile(src, []byte("evil"), 0o644)
			for _, p := range []string{"/../evil.txt", "/escape/evil.txt", "/escape.txt"} {
				runCurl(t, "--path-as-is", "--ftp-method", "nocwd", "-T", src, alice+p)
			}
			outside := filepath.Dir(root)
			if b, _ := os.ReadFile(filepath.Join(outside, "secret.txt")); string(b) != secret {
				t.Errorf("the secret changed: %q", b)
			}
			if _, err := os.Stat(filepath.Join(outside, "evil.txt")); err == nil {
				t.Errorf("an upload escaped the root")
			}
		})
	})
}

// TestFTPLargeFiles: 50 MiB down and up with curl, byte for byte, through
// EPSV and PASV (each poller does one download and one upload, the two
// pollers between them both modes both ways). The server's queue is capped
// at 4 MiB, so RETR must wait for drain, and its memory stays far below
// the file's size.
func TestFTPLargeFiles(t *testing.T) {
	modes := map[string][2][]string{ // poller -> download args, upload args
		"epoll": {{"--limit-rate", "25M"}, {"--disable-epsv"}}, // RETR over EPSV to a slow reader, STOR over PASV
		"poll":  {{"--disable-epsv"}, nil},                     // RETR over PASV, STOR over EPSV
	}
	eachPoller(t, func(t *testing.T, poller string) {
		root, _ := ftpSite(t)
		sum := httpBigFile(t, filepath.Join(root, "big.bin"), httpLargeSize)
		srv := batteryServer(t, poller, append(httpLargeFlags, ftpScript(t, root))...)
		base := "ftp://" + srv.Addr
		alice := "ftp://alice:s3cret@" + srv.Addr
		curlOK(t, base+"/hello.txt")
		before := srv.procStatus("VmRSS")
		down, up := modes[poller][0], modes[poller][1]

		out := filepath.Join(t.TempDir(), "down.bin")
		start := time.Now()
		curlOK(t, append(down, "-o", out, base+"/big.bin")...)
		elapsed := time.Since(start)
		if fileSum(t, out) != sum {
			t.Fatal("the download differs")
		}
		t.Logf("%s: RETR 50 MiB %v in %s", poller, down, elapsed.Round(time.Millisecond))

		start = time.Now()
		curlOK(t, append(up, "-T", out, alice+"/pub/up.bin")...)
		elapsed = time.Since(start)
		if fileSum(t, filepath.Join(root, "pub", "up.bin")) != sum {
			t.Fatal("the upload differs")
		}
		t.Logf("%s: STOR 50 MiB %v in %s", poller, up, elapsed.Round(time.Millisecond))

		peak := srv.procStatus("VmHWM")
		t.Logf("%s: RSS %d KiB before, peak %d KiB (+%d KiB)", poller, before, peak, peak-before)
		if limit := httpLargeRSSLimit(); peak-before > limit {
			t.Errorf("peak RSS grew by %d KiB moving 50 MiB files; want under %d KiB", peak-before, limit)
		}
		srv.stop()
	})
}

// httpHeadFTP runs curl -I on an FTP URL and reads the header-like lines
// curl prints from SIZE and MDTM.
func httpHeadFTP(t *testing.T, url string) http.Header {
	t.Helper()
	r := curlOK(t, "--head", url)
	h := http.Header{}
	for _, line := range strings.Split(r.stdout, "\r\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			h.Set(k, v)
		}
	}
	return h
}
