package sandbox

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func TestLoadRefusesDeepNesting(t *testing.T) {
	L := limitedState(t, Limits{MaxSyntaxDepth: 500})
	// 10^6 levels of "{" overflowed the Go stack (a fatal error) in
	// gopher-lua's compiler; now every loader says no first.
	for _, src := range []string{
		`return loadstring("return " .. ("{"):rep(1e5) .. ("}"):rep(1e5))`,
		`return loadstring("return " .. ("f("):rep(600) .. "1" .. (")"):rep(600))`,
		`return loadstring("return " .. ("1 + "):rep(600) .. "1")`,
		`local parts = {"return ", ("{"):rep(600), ("}"):rep(600)} local i = 0
		 return load(function() i = i + 1 return parts[i] end)`,
	} {
		top := L.GetTop()
		if err := L.DoString(src); err != nil {
			t.Fatalf("%.60s: %v", src, err)
		}
		if fn, msg := L.Get(top+1), L.Get(top+2); fn != lua.LNil || !strings.Contains(msg.String(), "chunk has too many syntax levels") {
			t.Fatalf("%.60s: got %v, %v", src, fn, msg)
		}
		L.SetTop(top)
	}
	got, err := eval(L, `return loadstring("return " .. ("("):rep(100) .. "7" .. (")"):rep(100))()`)
	if err != nil || got != "7" {
		t.Fatalf("100 levels: %q, %v", got, err)
	}
	got, err = eval(L, `local f, e = loadstring("x = = 1", "chunk") return e`)
	if err != nil || !strings.Contains(got, "chunk") || !strings.Contains(got, "syntax error") {
		t.Fatalf("syntax error: %q, %v", got, err)
	}
}
