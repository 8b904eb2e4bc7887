package tests

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestCheckWarnsOfStrayGlobals: --check warns, with file:line, of a global
// assigned in a function that no main chunk assigns (in the script or a
// module it requires from disk), says ok and exits 0; _G.name and globals
// the main chunk assigns are not warned of.
func TestCheckWarnsOfStrayGlobals(t *testing.T) {
	dir := t.TempDir()
	scriptFrom(t, dir, "check/helper.lua", nil)
	script := scriptFrom(t, dir, "check/main.lua", nil)
	r := rawRunCLI(t, "", "--check", script)
	if r.code != 0 || !strings.Contains(r.stdout, script+": ok") {
		t.Fatalf("--check: status %d, stdout %q, stderr %q; want 0 and ok", r.code, r.stdout, r.stderr)
	}
	want := []string{
		"pocketlua: warning: " + script + ":7: a function assigns the global last, which no main chunk assigns (a missing local? write _G.last = ... if it is meant)",
		"pocketlua: warning: " + dir + "/helper.lua:4: a function assigns the global bumps, which no main chunk assigns (a missing local? write _G.bumps = ... if it is meant)",
	}
	if got := strings.TrimSpace(r.stderr); got != strings.Join(want, "\n") {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}

	clean := scriptFrom(t, dir, "check/clean.lua", nil)
	if r := rawRunCLI(t, "", "--check", clean); r.code != 0 || r.stderr != "" {
		t.Errorf("--check clean.lua: status %d, stderr %q; want 0 and no warning", r.code, r.stderr)
	}
}

// TestCheckWarningDocExample runs the --check example of LUA_API §7.1.
func TestCheckWarningDocExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/LUA_API.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```lua\n(-- main\\.lua\n.*?)```\n\n```text\n\\$ pocketlua --check main\\.lua\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("LUA_API.md has no main.lua --check example")
	}
	dir := t.TempDir()
	rawWriteFile(t, dir, "main.lua", string(m[1]))
	r := rawRunCLI(t, dir, "--check", "main.lua")
	if got := r.stderr + r.stdout; r.code != 0 || got != string(m[2]) {
		t.Errorf("status %d, printed:\n%s\nthe doc shows:\n%s", r.code, got, m[2])
	}
}
