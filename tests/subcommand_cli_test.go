package tests

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSubcommandRule: --help states the rule; the first argument is a
// subcommand when it is run, console, test or types; a script named like
// one runs as ./name (or after run).
func TestSubcommandRule(t *testing.T) {
	r := rawRunCLI(t, "", "--help")
	if r.code != 0 {
		t.Fatalf("--help: status %d", r.code)
	}
	help := r.stdout + r.stderr
	for _, want := range []string{
		"the first argument is a subcommand when it is one of these names",
		"(a script named like one is run as ./name)",
		"pocketlua run [flags] [script.lua]",
		"pocketlua console [PATH] [-e CHUNK]",
		"pocketlua test [flags] [FILES|DIRS]",
		"pocketlua types [flags] [DIR]",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q:\n%s", want, help)
		}
	}
	for _, sub := range []string{"test", "types", "console"} {
		r := rawRunCLI(t, "", sub, "--help")
		if r.code != 0 || !strings.Contains(r.stderr, "Usage: pocketlua "+sub) {
			t.Errorf("%s --help: status %d, stderr %q", sub, r.code, r.stderr)
		}
	}

	// Scripts named test and types, in a folder without *_test.lua files.
	dir := t.TempDir()
	echo, err := os.ReadFile("../scripts/tcp_echo.lua")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"test", "types"} {
		if err := os.WriteFile(filepath.Join(dir, name), echo, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r = rawRunCLI(t, dir, "test")
	if r.code != 1 || !strings.Contains(r.stderr, "no *_test.lua files") {
		t.Errorf("`pocketlua test` is the subcommand: status %d, stderr %q", r.code, r.stderr)
	}
	for _, args := range [][]string{{"--check", "./test"}, {"run", "--check", "test"}, {"--check", "./types"}} {
		r := rawRunCLI(t, dir, args...)
		if r.code != 0 || !strings.Contains(r.stdout, ": ok") {
			t.Errorf("pocketlua %q runs the script: status %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "types", "server.lua")); err == nil {
		t.Error("--check ./types wrote definitions")
	}

	// ./test really serves: a raw echo.
	srv := launch{poller: "epoll", dir: dir}.start(t, "./test")
	defer srv.stop()
	conn, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo from ./test: %q, %v", buf, err)
	}
}
