// Package luadefs holds the lua-language-server (LuaLS) definition files of
// everything scripts see: the globals and modules the bindings register,
// the conn, timer and listener objects, the batteries' classes and the
// pocketlua.test module. `pocketlua types` writes them out with a
// .luarc.json that points the editor at them.
package luadefs

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Files holds the definitions by path: module files by require name
// (server.lua, websocket.lua, pocketlua/test.lua, ...), the globals and
// objects in pocketlua/globals.lua.
//
//go:embed meta
var Files embed.FS

// Globals are the names every script has besides Lua's own.
var Globals = []string{"server", "log"}

// Write copies the definitions into dir (made if missing) and returns the
// paths it wrote. Files of ours already there are replaced; others stay.
func Write(dir string) ([]string, error) {
	var wrote []string
	err := fs.WalkDir(Files, "meta", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel("meta", path)
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		src, err := Files.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, src, 0o644); err != nil {
			return err
		}
		wrote = append(wrote, dst)
		return nil
	})
	return wrote, err
}

// luarc is the .luarc.json that makes lua-language-server read the
// definitions: gopher-lua's dialect (Lua 5.1), the globals, and the
// definitions' folder as a library.
type luarc struct {
	Schema           string   `json:"$schema"`
	RuntimeVersion   string   `json:"runtime.version"`
	Library          []string `json:"workspace.library"`
	CheckThirdParty  bool     `json:"workspace.checkThirdParty"`
	DiagnosticGlobal []string `json:"diagnostics.globals"`
}

// Luarc returns the .luarc.json for definitions in dir.
func Luarc(dir string) []byte {
	data, err := json.MarshalIndent(luarc{
		Schema:           "https://raw.githubusercontent.com/LuaLS/vscode-lua/master/setting/schema.json",
		RuntimeVersion:   "Lua 5.1",
		Library:          []string{dir},
		DiagnosticGlobal: Globals,
	}, "", "  ")
	if err != nil {
		panic(err) // a fixed struct of strings always encodes
	}
	return append(data, '\n')
}

// WriteLuarc writes path (a .luarc.json) pointing at dir. A file already
// there is replaced only with force, or left alone when it already names
// dir as a library and declares the globals.
func WriteLuarc(path, dir string, force bool) error {
	old, err := os.ReadFile(path)
	if err == nil && !force {
		var cfg luarc
		if json.Unmarshal(old, &cfg) == nil && slices.Contains(cfg.Library, dir) &&
			!slices.ContainsFunc(Globals, func(g string) bool { return !slices.Contains(cfg.DiagnosticGlobal, g) }) {
			return nil
		}
		return fmt.Errorf("%s exists and does not point at %s: left as it is (add %q to its \"workspace.library\" and %s to \"diagnostics.globals\", or use --force)",
			path, dir, dir, `"`+strings.Join(Globals, `", "`)+`"`)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.WriteFile(path, Luarc(dir), 0o644)
}
