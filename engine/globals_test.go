package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

func TestGlobalWarnings(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // "line name"
	}{
		{"missing local", "function f()\n  count = 1\nend", []string{"2 count"}},
		{"assigned by the main chunk", "count = 0\nfunction f() count = count + 1 end", nil},
		{"assigned later in the main chunk", "function f() count = 1 end\nif true then count = 0 end", nil},
		{"_G is deliberate", "function f() _G.count = 1 end", nil},
		{"a local of the function", "function f() local n n = 1 end", nil},
		{"a local of the chunk", "local n\nfunction f() n = 1 end", nil},
		{"a parameter", "function f(n) n = 2 end", nil},
		{"self in a method", "local C = {}\nfunction C:m() self = nil end", nil},
		{"a for variable", "function f() for i = 1, 2 do i = 3 end for k, v in pairs({}) do v = 1 end end", nil},
		{"out of the for's scope", "function f()\n  for i = 1, 2 do end\n  i = 3\nend", []string{"3 i"}},
		{"out of a do block's scope", "function f()\n  do local x end\n  x = 1\nend", []string{"3 x"}},
		{"a local function's own name", "local function f() f = nil end", nil},
		{"nested functions", "local t = {}\nt.cb = function()\n  return function() total = 1 end\nend", []string{"3 total"}},
		{"global function defined in a function", "function setup()\n  function helper() end\nend", []string{"2 helper"}},
		{"a field is no global", "local M = {}\nfunction f() M.x = 1 end", nil},
		{"repeat sees the body's locals", "function f() repeat local done = true until done end", nil},
		{"one warning per name", "function f()\n  a = 1\n  a = 2\nend", []string{"2 a"}},
		{"inside a table constructor", "local t = { f = function()\n  leak = 1\nend }", []string{"2 leak"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.lua")
			if err := os.WriteFile(path, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := globalWarnings([]string{path})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, w := range tc.want {
				var line int
				var name string
				if _, err := fmt.Sscan(w, &line, &name); err != nil {
					t.Fatal(err)
				}
				want = append(want, path+":"+strconv.Itoa(line)+": a function assigns the global "+name+
					", which no main chunk assigns (a missing local? write _G."+name+" = ... if it is meant)")
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %q\nwant %q", got, want)
			}
		})
	}
}

// A module's main chunk counts for the main script, and the other way round.
func TestGlobalWarningsAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "main.lua")
	mod := filepath.Join(dir, "mod.lua")
	os.WriteFile(main, []byte("shared = {}\nfunction f() modvar = 1 end\nfunction g() stray = 1 end"), 0o644)
	os.WriteFile(mod, []byte("modvar = 0\nfunction h() shared = nil end"), 0o644)
	got, err := globalWarnings([]string{main, mod})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{main + ":3: a function assigns the global stray, which no main chunk assigns (a missing local? write _G.stray = ... if it is meant)"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
