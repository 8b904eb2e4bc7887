package tests

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
)

// rawOneLine fails unless out, trimmed, is exactly one line.
func rawOneLine(t *testing.T, what, out string) string {
	t.Helper()
	s := strings.TrimSpace(out)
	if s == "" || strings.Contains(s, "\n") {
		t.Fatalf("%s: want one error line, got %q", what, out)
	}
	return s
}

// TestRawCLISyntaxError: a script with a syntax error makes pocketlua exit
// 1 without listening, with one error line that names the script as
// file:line.
func TestRawCLISyntaxError(t *testing.T) {
	script := testdata(t, "raw/bad_syntax.lua")
	r := rawRunCLI(t, "", "-l", "127.0.0.1:0", script)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	if r.listened() {
		t.Fatalf("listened despite the syntax error: %q", r.stderr)
	}
	line := rawOneLine(t, "syntax error", r.stderr)
	if want := script + ":3"; !strings.Contains(line, want) {
		t.Fatalf("syntax error reported as %q: want it to name the script as file:line %q", line, want)
	}
}

// TestRawCLICheck: --check exits 0 and says ok for a good script, and exits
// 1 with file:line for a syntax error and for an error raised while the
// script loads.
func TestRawCLICheck(t *testing.T) {
	good := testdata(t, "raw/good.lua")
	r := rawRunCLI(t, "", "--check", good)
	if r.code != 0 || !strings.Contains(r.stdout, good) || !strings.Contains(r.stdout, "ok") {
		t.Fatalf("--check good.lua: exit %d, stdout %q, stderr %q; want 0 and ok", r.code, r.stdout, r.stderr)
	}

	raising := testdata(t, "raw/raising.lua")
	r = rawRunCLI(t, "", "--check", raising)
	if r.code != 1 || !strings.Contains(r.stderr, raising+":2: no config") {
		t.Fatalf("--check raising.lua: exit %d, stderr %q; want 1 and %q", r.code, r.stderr, raising+":2: no config")
	}

	bad := testdata(t, "raw/bad_syntax.lua")
	r = rawRunCLI(t, "", "--check", bad)
	if r.code != 1 {
		t.Fatalf("--check bad.lua: exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	line := rawOneLine(t, "--check bad.lua", r.stderr)
	if want := bad + ":3"; !strings.Contains(line, want) {
		t.Fatalf("--check bad.lua reported %q: want it to name the script as file:line %q", line, want)
	}
}

// TestRawCLIStartFailures: a missing script, a port already in use and a
// script that returns no table each stop pocketlua before it listens, with
// a non-zero exit and a message that says what is wrong.
func TestRawCLIStartFailures(t *testing.T) {
	missing := t.TempDir() + "/nosuch.lua"
	r := rawRunCLI(t, "", "-l", "127.0.0.1:0", missing)
	if r.code == 0 || !strings.Contains(r.stderr, missing) || !strings.Contains(r.stderr, "no such file") {
		t.Fatalf("missing script: exit %d, stderr %q; want non-zero naming %s and 'no such file'", r.code, r.stderr, missing)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	r = rawRunCLI(t, "", "-l", busy.Addr().String(), "../scripts/tcp_echo.lua")
	if r.code == 0 || !strings.Contains(r.stderr, "address already in use") || r.listened() {
		t.Fatalf("port in use: exit %d, stdout %q, stderr %q; want non-zero with 'address already in use'", r.code, r.stdout, r.stderr)
	}

	for _, ret := range []string{"42", "nil", `"Echo"`} {
		notTable := scriptFrom(t, "", "raw/returns.lua", ret)
		r = rawRunCLI(t, "", "-l", "127.0.0.1:0", notTable)
		if r.code != 1 || !strings.Contains(r.stderr, "must return its class table") || !strings.Contains(r.stderr, notTable) {
			t.Fatalf("script returning %s: exit %d, stderr %q; want 1 and 'must return its class table'", ret, r.code, r.stderr)
		}
	}
}

// TestRawCLIFlagsAndVersion: an unknown flag or a malformed value exits 2
// without starting; --version prints "pocketlua <version> (<build>)" and
// exits 0.
func TestRawCLIFlagsAndVersion(t *testing.T) {
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"--max-conns", "lots"},
		{"--max-conns", "0"},
		{"--poller", "kqueue"},
		{"--poller", "io-uring"},
		{"--high-water", "10", "--low-water", "20"},
		{"--gc-reserve", "2GiB"},
		{"--gc-reserve", "-1"},
	} {
		r := rawRunCLI(t, "", append(args, "-l", "127.0.0.1:0", "../scripts/tcp_echo.lua")...)
		if r.code != 2 || r.listened() || strings.TrimSpace(r.stderr) == "" {
			t.Fatalf("pocketlua %q: exit %d, stdout %q, stderr %q; want 2 with a message", args, r.code, r.stdout, r.stderr)
		}
	}
	r := rawRunCLI(t, "", "--version")
	if r.code != 0 || !regexp.MustCompile(`^pocketlua \S+ \((.+, )?go1\.\d+\S*\)\n$`).MatchString(r.stdout) {
		t.Fatalf("--version: exit %d, stdout %q", r.code, r.stdout)
	}
}

// TestRawListenIPv6: -l [::1]:0 serves on the IPv6 loopback and the
// listening line names it in brackets.
func TestRawListenIPv6(t *testing.T) {
	rawQuickExit(t)
	probe, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	probe.Close()
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "-l", "[::1]:0", "../scripts/tcp_echo.lua")
		if len(srv.All) != 1 || !strings.HasPrefix(srv.Addr, "[::1]:") {
			t.Fatalf("listening on %q, want [::1]:<port>", srv.All)
		}
		c := dialRaw(t, srv.Addr)
		c.roundTrip("over ipv6", "over ipv6")
		c.Close()
		srv.stop()
	})
}

// TestRawListenTwice: two -l addresses are both named in the listening line,
// in order, and both serve the script.
func TestRawListenTwice(t *testing.T) {
	rawQuickExit(t)
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "-l", "127.0.0.1:0", "-l", "127.0.0.1:0", "../scripts/tcp_echo.lua")
		if len(srv.All) != 2 || srv.All[0] == srv.All[1] {
			t.Fatalf("listening on %q, want two distinct addresses", srv.All)
		}
		for i, a := range srv.All {
			c := dialRaw(t, a)
			msg := fmt.Sprintf("via listener %d", i)
			c.roundTrip(msg, msg)
			c.Close()
		}
		srv.stop()
	})
}
