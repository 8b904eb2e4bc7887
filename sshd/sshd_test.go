package sshd

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestRelStaysInside(t *testing.T) {
	for in, want := range map[string]string{
		"/": ".", "": ".", "..": ".", "/../../etc/passwd": "etc/passwd", "a/../../b": "b",
		"/a/./b/": "a/b", "../../../..": ".",
	} {
		if got := rel(in); got != want {
			t.Errorf("rel(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPipeBounds: Feed asks for a pause at maxIn and Read asks for the
// resume once half is read; Write blocks while the loop says full and
// fails once closed.
func TestPipeBounds(t *testing.T) {
	var posted []func()
	post := func(fn func()) { posted = append(posted, fn) }
	resumed := 0
	full := true
	var written []byte
	p := newPipe(post, func(b []byte) bool { written = append(written, b...); return !full }, func() { resumed++ }, nil, nil)
	p.maxIn = 8
	if !p.Feed([]byte("abc")) {
		t.Fatal("paused below maxIn")
	}
	if p.Feed([]byte("defgh")) {
		t.Fatal("no pause at maxIn")
	}
	buf := make([]byte, 6)
	if n, err := p.Read(buf); n != 6 || err != nil || string(buf) != "abcdef" {
		t.Fatalf("read %d %q %v", n, buf[:n], err)
	}
	if len(posted) != 1 {
		t.Fatalf("%d posts after reading below half, want the resume", len(posted))
	}
	posted[0]()
	posted = nil
	if resumed != 1 {
		t.Fatal("resume not called")
	}
	if n, err := p.Write([]byte("out")); n != 3 || err != nil {
		t.Fatal(n, err)
	}
	posted[0]() // the loop queues it and reports the socket full
	posted = nil
	done := make(chan error, 1)
	go func() { _, err := p.Write([]byte("more")); done <- err }()
	select {
	case <-done:
		t.Fatal("Write went on while the socket was full")
	default:
	}
	p.Close()
	if err := <-done; err == nil {
		t.Fatal("Write after Close succeeded")
	}
	if _, err := p.Read(buf); err != io.EOF {
		t.Fatalf("Read after Close: %v", err)
	}
	if string(written) != "out" {
		t.Fatalf("written %q", written)
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add("pty-req", ssh.Marshal(struct {
		Term             string
		Cols, Rows, W, H uint32
		Modes            string
	}{"xterm", 80, 24, 0, 0, ""}))
	f.Add("window-change", ssh.Marshal(struct{ Cols, Rows, W, H uint32 }{1 << 31, 5, 0, 0}))
	f.Add("exec", ssh.Marshal(struct{ Command string }{"ls -l"}))
	f.Add("subsystem", ssh.Marshal(struct{ Name string }{"sftp"}))
	f.Add("shell", []byte{})
	f.Add("env", []byte{0, 0, 0, 1, 'A'})
	f.Fuzz(func(t *testing.T, typ string, payload []byte) {
		r, ok := parseRequest(&ssh.Request{Type: typ, Payload: payload})
		if !ok {
			return
		}
		if r.Type != typ || r.Cols < 0 || r.Cols > 10000 || r.Rows < 0 || r.Rows > 10000 {
			t.Fatalf("%+v from %q %x", r, typ, payload)
		}
	})
}

// TestEnsureHostKeyOnce: processes racing to create the default key all
// end up with the one that was linked first, a complete 0600 file.
func TestEnsureHostKeyOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "pocketlua", "ssh_host_ed25519_key")
	keys := make(chan string, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := EnsureHostKey(path)
			if err != nil {
				t.Error(err)
				keys <- ""
				return
			}
			keys <- ssh.FingerprintSHA256(s.PublicKey())
		}()
	}
	wg.Wait()
	close(keys)
	first := ""
	for k := range keys {
		if first == "" {
			first = k
		}
		if k != first || k == "" {
			t.Fatalf("different keys: %q and %q", first, k)
		}
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	again, err := EnsureHostKey(path)
	if err != nil || ssh.FingerprintSHA256(again.PublicKey()) != first {
		t.Fatalf("second start: %v", err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".ssh_host_key-*")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}
