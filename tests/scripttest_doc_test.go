package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestScriptTestDocExample runs the worked example of LUA_API §12: every
// ```lua block that starts with "-- NAME.lua" is written to NAME.lua, and
// every "$ pocketlua test ..." line of a ```text block must print what the
// doc shows under it (test durations aside).
func TestScriptTestDocExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/LUA_API.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)
	start := strings.Index(section, "\n## 12. Testing your scripts\n")
	if start < 0 {
		t.Fatal("no section 12. Testing your scripts")
	}
	section = section[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	dir := t.TempDir()
	files := regexp.MustCompile("(?s)```lua\n(-- (\\S+\\.lua)\n.*?)```").FindAllStringSubmatch(section, -1)
	if len(files) < 3 {
		t.Fatalf("want the class, its tests and the failing test in the section, got %d files", len(files))
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f[2]), []byte(f[1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	durations := regexp.MustCompile(`\(\d+\.\d{3}s\)`)
	runs := 0
	for _, block := range regexp.MustCompile("(?s)```text\n(.*?)```").FindAllStringSubmatch(section, -1) {
		parts := strings.Split(block[1], "$ pocketlua ")
		for _, part := range parts[1:] {
			line, want, _ := strings.Cut(part, "\n")
			cmd := exec.Command(binary, strings.Fields(line)...)
			cmd.Dir = dir
			out, err := cmd.Output()
			wantStatus := 0
			if strings.Contains(want, "--- FAIL") {
				wantStatus = 1
			}
			if code := cmd.ProcessState.ExitCode(); code != wantStatus {
				t.Errorf("pocketlua %s: status %d, want %d (%v)", line, code, wantStatus, err)
			}
			got := durations.ReplaceAllString(string(out), "(T)")
			if w := durations.ReplaceAllString(want, "(T)"); got != w {
				t.Errorf("pocketlua %s printed:\n%s\nthe doc shows:\n%s", line, got, w)
			}
			runs++
		}
	}
	if runs < 3 {
		t.Errorf("ran %d commands from the section, want 3 or more", runs)
	}
}
