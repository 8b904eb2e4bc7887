package scripttest

import (
	"strings"
	"testing"

	"pocketlua/scripts"
)

// TestModule runs testdata/module_test.lua: the behaviour of the fake
// connections, the virtual clock, server.connect, broadcast, state and the
// assertions' messages, checked from Lua.
func TestModule(t *testing.T) {
	var out strings.Builder
	res, err := Run(Options{Paths: []string{"testdata/module_test.lua"}, Batteries: scripts.FS, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 0 || res.Passed < 13 {
		t.Errorf("%d passed, %d failed:\n%s", res.Passed, res.Failed, out.String())
	}
}
