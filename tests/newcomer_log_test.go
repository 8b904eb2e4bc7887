package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStartupLineIsALogRecord: the listening line is a log record on
// stderr in the chosen format, nothing goes to stdout, it names the
// listeners the main script opened, and durations in JSON are strings.
func TestStartupLineIsALogRecord(t *testing.T) {
	script := testdata(t, "newcomer/side.lua")
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			srv := startServer(t, "epoll", "--log-format", format, "--shutdown-grace", "1500ms", script)
			lines := rawLogLines(srv, "listening")
			if len(lines) != 1 {
				t.Fatalf("want one listening line, got %q", lines)
			}
			line := lines[0]
			if format == "json" {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("listening line is not JSON: %q", line)
				}
				side, _ := rec["script_listeners"].(string)
				if rec["addr"] != srv.Addr || !strings.HasPrefix(side, "127.0.0.1:") || rec["script"] != script || rec["poller"] != "epoll" {
					t.Fatalf("listening record %v: want addr %s, script_listeners, script and poller", rec, srv.Addr)
				}
			} else if !strings.Contains(line, "level=INFO msg=listening addr="+srv.Addr+" script_listeners=127.0.0.1:") {
				t.Fatalf("listening line %q", line)
			}
			if code, ok := srv.signal(syscall.SIGTERM, 15*time.Second); !ok || code != 0 {
				t.Fatalf("exit %d after SIGTERM", code)
			}
			down := rawLogLines(srv, "shutting down")
			want := "grace=1.5s"
			if format == "json" {
				want = `"grace":"1.5s"`
			}
			if len(down) != 1 || !strings.Contains(down[0], want) {
				t.Fatalf("shutdown line %q: want %s", down, want)
			}
		})
	}
}

// TestStartupNothingOnStdout: a server that starts and stops writes
// nothing to stdout; every line is on stderr.
func TestStartupNothingOnStdout(t *testing.T) {
	script := testdata(t, "newcomer/quit.lua")
	r := rawRunCLI(t, "", "-l", "127.0.0.1:0", script)
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "msg=listening addr=127.0.0.1:") {
		t.Fatalf("exit %d, stdout %q, stderr %q: want 0, nothing on stdout, the listening record on stderr", r.code, r.stdout, r.stderr)
	}
}

// TestListenEmptyHostIsAllInterfaces: -l :port binds every IPv4
// interface (Go's convention) and says so in the log; the loopback
// still reaches it. The default without -l stays 127.0.0.1.
func TestListenEmptyHostIsAllInterfaces(t *testing.T) {
	srv := startServer(t, "epoll", "-l", ":0", "../scripts/tcp_echo.lua")
	if !strings.HasPrefix(srv.Addr, "0.0.0.0:") {
		t.Fatalf("-l :0 listens on %s, want 0.0.0.0:<port>", srv.Addr)
	}
	rawWaitLogs(t, srv, 10*time.Second, 1, "listening on all interfaces", "addr="+srv.Addr)
	c := dialRaw(t, "127.0.0.1:"+strings.TrimPrefix(srv.Addr, "0.0.0.0:"))
	c.roundTrip("over loopback", "over loopback")
	c.Close()

	local := startServer(t, "epoll", "-l", "127.0.0.1:0", "../scripts/tcp_echo.lua")
	if len(rawLogLines(local, "all interfaces")) != 0 {
		t.Fatalf("a loopback listener logged 'all interfaces'")
	}
	// A script's socket_bind keeps its loopback default for an empty host.
	side := startServer(t, "epoll", testdata(t, "newcomer/bind.lua"))
	if len(rawLogLines(side, "msg=bound", "host=127.0.0.1")) != 1 {
		t.Fatalf("socket_bind(\"\") did not bind 127.0.0.1; logs:\n%s", side.Logs())
	}
}

// TestVersionBuildStamps: --version shows what -ldflags -X set (a release
// build), and, for a build from a git checkout, the commit go build
// recorded.
func TestVersionBuildStamps(t *testing.T) {
	dir := t.TempDir()
	rel := filepath.Join(dir, "pocketlua-release")
	build := exec.Command("go", "build", "-o", rel, "-ldflags",
		"-X main.version=1.2.3 -X main.commit=0123456789abcdef0123 -X main.date=2026-12-01T10:00:00Z", "../cmd/pocketlua")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(rel, "--version").Output()
	want := regexp.MustCompile(`^pocketlua 1\.2\.3 \(commit 0123456789ab, 2026-12-01T10:00:00Z, go1\.\d+\S*\)\n$`)
	if err != nil || !want.Match(out) {
		t.Fatalf("release build --version: %q %v", out, err)
	}

	// go build stamps the commit only in a checkout whose .git is a folder
	// (not in a git worktree, where .git is a file).
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	if st, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git")); err != nil || !st.IsDir() {
		t.Skip("a git worktree: go build records no VCS stamp here")
	}
	head, _ := exec.Command("git", "rev-parse", "HEAD").Output()
	dev := filepath.Join(dir, "pocketlua-dev")
	build = exec.Command("go", "build", "-buildvcs=true", "-o", dev, "../cmd/pocketlua")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err = exec.Command(dev, "--version").Output()
	if err != nil || !strings.Contains(string(out), "(commit "+string(head[:12])+", ") {
		t.Fatalf("checkout build --version: %q %v, want commit %s", out, err, head[:12])
	}
}
