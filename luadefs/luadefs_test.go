package luadefs

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"

	"github.com/yuin/gopher-lua/parse"
)

// TestDefinitionsAreLua: every definition file parses as Lua and is a meta
// file; a module file returns its table so require finds its type.
func TestDefinitionsAreLua(t *testing.T) {
	n := 0
	err := fs.WalkDir(Files, "meta", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		src, err := Files.ReadFile(path)
		if err != nil {
			return err
		}
		if _, err := parse.Parse(strings.NewReader(string(src)), path); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		if !strings.HasPrefix(string(src), "---@meta") {
			t.Errorf("%s does not start with ---@meta", path)
		}
		if path != "meta/pocketlua/globals.lua" && !strings.Contains(string(src), "\nreturn ") {
			t.Errorf("%s does not return its module table", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 15 {
		t.Errorf("%d definition files, want 15 or more", n)
	}
}

func TestLuarc(t *testing.T) {
	var cfg map[string]any
	if err := json.Unmarshal(Luarc("defs"), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["runtime.version"] != "Lua 5.1" {
		t.Errorf("runtime.version %v", cfg["runtime.version"])
	}
	if lib, _ := cfg["workspace.library"].([]any); len(lib) != 1 || lib[0] != "defs" {
		t.Errorf("workspace.library %v", cfg["workspace.library"])
	}
	if g, _ := cfg["diagnostics.globals"].([]any); len(g) != 2 || g[0] != "server" || g[1] != "log" {
		t.Errorf("diagnostics.globals %v", cfg["diagnostics.globals"])
	}
}
