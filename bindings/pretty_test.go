package bindings

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func prettyOf(t *testing.T, chunk string, o PrettyOptions) string {
	t.Helper()
	L := lua.NewState()
	defer L.Close()
	if err := L.DoString(chunk); err != nil {
		t.Fatal(err)
	}
	return Pretty(L.Get(-1), o)
}

func TestPretty(t *testing.T) {
	for _, tc := range []struct{ chunk, want string }{
		{`return nil`, `nil`},
		{`return 1.5`, `1.5`},
		{`return "a\"b\\c\n\0" .. "1"`, `"a\"b\\c\n\0001"`},
		{`return {}`, `{}`},
		{`return {1, "two", {3}}`, "{\n  1,\n  \"two\",\n  {\n    3,\n  },\n}"},
		{`return {b = 1, a = 2, ["not id"] = 3, ["end"] = 4}`, "{\n  a = 2,\n  b = 1,\n  [\"end\"] = 4,\n  [\"not id\"] = 3,\n}"},
		{`return {print}`, "{\n  function: builtin,\n}"},
	} {
		if got := prettyOf(t, tc.chunk, PrettyOptions{}); got != tc.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.chunk, got, tc.want)
		}
	}
}

func TestPrettyBounds(t *testing.T) {
	cyc := prettyOf(t, `local t = {} t.me = t t.list = {t} return t`, PrettyOptions{})
	if strings.Count(cyc, "<cycle: table: 0x") != 2 {
		t.Errorf("cycles not marked:\n%s", cyc)
	}
	deep := prettyOf(t, `return {a = {b = {c = {d = 1}}}}`, PrettyOptions{Depth: 2})
	if !strings.Contains(deep, "b = {...} -- 1 entry") || strings.Contains(deep, "c =") {
		t.Errorf("depth 2:\n%s", deep)
	}
	wide := prettyOf(t, `local t = {} for i = 1, 1000 do t[i] = i; t["k" .. i] = i end return t`, PrettyOptions{Width: 5})
	if !strings.Contains(wide, "-- 2000 entries, 5 shown") || strings.Count(wide, "\n") != 7 {
		t.Errorf("width 5:\n%s", wide)
	}
	huge := prettyOf(t, `return string.rep("x", 100000)`, PrettyOptions{MaxBytes: 1000})
	if len(huge) > 1100 || !strings.HasSuffix(huge, "(output cut at 1000 bytes)") {
		t.Errorf("cut at 1000 bytes: %d bytes, ends %q", len(huge), huge[len(huge)-40:])
	}
	fn := prettyOf(t, "return function() end", PrettyOptions{})
	if fn != "function <<string>:1>" {
		t.Errorf("function: %q", fn)
	}
}

func TestPrettyOneLine(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	if err := L.DoString(`v = {1, "two", {3}, name = "x", ["a b"] = true}`); err != nil {
		t.Fatal(err)
	}
	got := Pretty(L.GetGlobal("v"), PrettyOptions{OneLine: true})
	if want := `{1, "two", {3}, ["a b"] = true, name = "x"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if err := L.DoString(`w = {} for i = 1, 5 do w[i] = i end w.deep = {{{{1}}}}`); err != nil {
		t.Fatal(err)
	}
	got = Pretty(L.GetGlobal("w"), PrettyOptions{OneLine: true, Width: 3, Depth: 2})
	if want := `{1, 2, 3, ... (6 entries, 3 shown)}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	got = Pretty(L.GetGlobal("w").(*lua.LTable).RawGetString("deep"), PrettyOptions{OneLine: true, Depth: 2})
	if want := `{{{... 1 entry}}}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
