package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runIn runs the binary with args in dir: stdout, stderr and the exit status.
func runIn(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	r := rawRunCLI(t, dir, args...)
	return r.stdout, r.stderr, r.code
}

// TestTypesWritesDefinitions: `pocketlua types` writes the definition
// files and a .luarc.json naming them; a second run is a no-op; another
// .luarc.json is left alone unless --force.
func TestTypesWritesDefinitions(t *testing.T) {
	dir := t.TempDir()
	out, errOut, status := runIn(t, dir, "types")
	if status != 0 {
		t.Fatalf("status %d: %s%s", status, out, errOut)
	}
	// The transcript of LUA_API §13.
	if want := "pocketlua types: 17 definition files in types\npocketlua types: .luarc.json points at types\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	for _, f := range []string{"server.lua", "log.lua", "http.lua", "ws.lua", "json.lua", "fs.lua",
		"fatclient.lua", "websocket.lua", "echo.lua", "tcp_echo.lua", "httpd.lua", "ftp.lua", "mux.lua", "ssh.lua", "metrics.lua",
		"pocketlua/globals.lua", "pocketlua/test.lua"} {
		src, err := os.ReadFile(filepath.Join(dir, "types", f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
		} else if !strings.HasPrefix(string(src), "---@meta") {
			t.Errorf("%s is not a ---@meta file", f)
		}
	}
	rc, err := os.ReadFile(filepath.Join(dir, ".luarc.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Library []string `json:"workspace.library"`
		Globals []string `json:"diagnostics.globals"`
		Version string   `json:"runtime.version"`
	}
	if err := json.Unmarshal(rc, &cfg); err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Library, ",") != "types" || strings.Join(cfg.Globals, ",") != "server,log" || cfg.Version != "Lua 5.1" {
		t.Errorf(".luarc.json: %s", rc)
	}

	if _, errOut, status := runIn(t, dir, "types"); status != 0 {
		t.Errorf("a second run: status %d: %s", status, errOut)
	}
	_, errOut, status = runIn(t, dir, "types", "defs")
	if status != 1 || !strings.Contains(errOut, ".luarc.json exists and does not point at defs") {
		t.Errorf("another folder without --force: status %d, stderr %q", status, errOut)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, ".luarc.json")); string(now) != string(rc) {
		t.Errorf(".luarc.json changed without --force:\n%s", now)
	}
	if _, errOut, status := runIn(t, dir, "types", "--force", "defs"); status != 0 {
		t.Errorf("--force: status %d: %s", status, errOut)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, ".luarc.json")); !strings.Contains(string(now), `"defs"`) {
		t.Errorf("--force did not point .luarc.json at defs:\n%s", now)
	}

	other := t.TempDir()
	if _, errOut, status := runIn(t, other, "types", "--luarc", "", "d"); status != 0 {
		t.Errorf("--luarc \"\": status %d: %s", status, errOut)
	}
	if _, err := os.Stat(filepath.Join(other, ".luarc.json")); err == nil {
		t.Error("--luarc \"\" wrote a .luarc.json")
	}
	os.WriteFile(filepath.Join(other, "file"), []byte("x"), 0o644)
	if _, errOut, status := runIn(t, other, "types", "file"); status != 1 || errOut == "" {
		t.Errorf("DIR is a file: status %d, stderr %q", status, errOut)
	}
	if _, errOut, status := runIn(t, other, "types", "a", "b"); status != 2 || errOut == "" {
		t.Errorf("two folders: status %d, stderr %q", status, errOut)
	}
}
