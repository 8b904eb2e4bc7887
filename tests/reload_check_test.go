package tests

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// rlCheck runs pocketlua --check with args and returns its exit code and
// combined output.
func rlCheck(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, append([]string{"--check"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("--check %v did not exit within 20 s: %s", args, out.String())
	}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// TestReloadCheck: --check loads the script (and the modules it requires)
// without serving: a good script exits 0 even when its listen address is
// taken; a syntax error, a runtime error at load, a script that returns no
// class, and a syntax error or runtime error in a required module exit 1
// and name the file and line in the standard Lua "file:line" form (the form
// runtime errors and tracebacks use, and editors jump to).
func TestReloadCheck(t *testing.T) {
	dir := filepath.Dir(testdata(t, "reload/check/good.lua"))
	path := func(name string) string { return filepath.Join(dir, name) }

	t.Run("good", func(t *testing.T) {
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		code, out := rlCheck(t, "-l", busy.Addr().String(), path("good.lua"))
		if code != 0 || !strings.Contains(out, path("good.lua")+": ok") {
			t.Fatalf("--check good.lua (listen address busy): exit %d, output %q; want 0 and %q", code, out, path("good.lua")+": ok")
		}
	})

	cases := []struct {
		name, script, file string
		line               int
		also               string
	}{
		{"syntax error", "syntax.lua", "syntax.lua", 6, "')' expected (to close '(' at line 5) near 'end'"},
		{"syntax error (= =)", "equals.lua", "equals.lua", 2, ""},
		{"error at load", "throw.lua", "throw.lua", 3, "boom at load"},
		{"syntax error in a module", "usesbad.lua", "badmod.lua", 3, ""},
		{"error at load in a module", "usesboom.lua", "boommod.lua", 3, "boom in module"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := rlCheck(t, path(tc.script))
			if code != 1 {
				t.Fatalf("exit %d, want 1; output:\n%s", code, out)
			}
			if tc.also != "" && !strings.Contains(out, tc.also) {
				t.Fatalf("output lacks %q:\n%s", tc.also, out)
			}
			file := path(tc.file)
			if !rlMentionsLine(out, file, tc.line) {
				t.Fatalf("output names neither %s:%d nor %s line:%d:\n%s", file, tc.line, file, tc.line, out)
			}
			want := regexp.MustCompile(regexp.QuoteMeta(fmt.Sprintf("%s:%d", file, tc.line)) + `\b`)
			if !want.MatchString(out) {
				first, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
				t.Errorf("PRODUCT BUG: syntax errors are reported in gopher-lua's parser form \"FILE line:N(column:M) near ...\" "+
					"instead of the file:line form (%s:%d:) that runtime errors use and the issue asks for; got %q", file, tc.line, first)
			}
		})
	}

	t.Run("no class returned", func(t *testing.T) {
		code, out := rlCheck(t, path("notable.lua"))
		if code != 1 || !strings.Contains(out, path("notable.lua")) || !strings.Contains(out, "must return its class table, got string") {
			t.Fatalf("exit %d, output %q; want 1 and the file named with \"must return its class table, got string\"", code, out)
		}
	})

	t.Run("missing module", func(t *testing.T) {
		code, out := rlCheck(t, path("usesnone.lua"))
		if code != 1 || !strings.Contains(out, path("usesnone.lua")+":3:") || !strings.Contains(out, "nosuchmod") {
			t.Fatalf("exit %d, output %q; want 1 and %s:3: naming nosuchmod", code, out, path("usesnone.lua"))
		}
	})
}
