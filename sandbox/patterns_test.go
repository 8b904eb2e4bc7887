package sandbox

import (
	"fmt"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

var gsubCases = []struct{ s, p, r string }{
	{"hello world", "o", "0"},
	{"hello world", "(o)", "[%1]"},
	{"hello world", "%w+", "<%0>"},
	{"hello world", "(%w+) (%w+)", "%2 %1"},
	{"abc", "", "-"},
	{"abc", "%w*", "-"},
	{"abc", "x*", "-"},
	{"abc", "^a", "A"},
	{"abc", "^b", "B"},
	{"aaa", "^a", "b"},
	{"abc", "()", "%1"},
	{"abc", "b()", "%1"},
	{"100%", "%%", "%%%%"},
	{"abc", "b", "%"},
	{"abc", "b", "x%y%"},
	{"a.b.c", ".", "%0%0"},
	{"a.b.c", "%.", "/"},
	{"", "", "x"},
	{"", "a", "x"},
	{"key=val, k2=v2", "(%w+)=(%w+)", "%2=%1"},
	{"abcabc", "[bc]+", "#"},
	{"  trim  ", "^%s*(.-)%s*$", "%1"},
	{strings.Repeat("ab", 1000), "b", "c"},
	{strings.Repeat("x", 700), "x", "yz"},
}

func TestGsubMatchesGopherLua(t *testing.T) {
	ours := limitedState(t, Limits{})
	stock := NewState() // the same options, stock libraries
	defer stock.Close()
	call := func(L *lua.LState, args ...lua.LValue) string {
		top := L.GetTop()
		defer L.SetTop(top)
		fn := L.GetField(L.GetGlobal("string"), "gsub")
		err := L.CallByParam(lua.P{Fn: fn, NRet: 2, Protect: true}, args...)
		if err != nil {
			msg, _ := ErrorText(err)
			if i := strings.LastIndex(msg, ": "); i >= 0 {
				msg = msg[i+2:] // the position prefix differs between the states
			}
			return "error: " + msg
		}
		return fmt.Sprintf("%q %v", L.Get(-2).String(), L.Get(-1))
	}
	for _, tc := range gsubCases {
		for _, limit := range []lua.LValue{lua.LNil, lua.LNumber(0), lua.LNumber(1), lua.LNumber(2), lua.LNumber(-1)} {
			args := []lua.LValue{lua.LString(tc.s), lua.LString(tc.p), lua.LString(tc.r), limit}
			if got, want := call(ours, args...), call(stock, args...); got != want {
				t.Errorf("gsub(%q, %q, %q, %v) = %s, gopher-lua gives %s", tc.s, tc.p, tc.r, limit, got, want)
			}
		}
	}
	// Tables and functions as the replacement.
	for _, src := range []string{
		`return ("$a $b $c"):gsub("%$(%w+)", {a = "1", b = false, c = 3})`,
		`return ("abc"):gsub("()", {[1] = "x", [3] = "y"})`,
		`return ("abc"):gsub("%w", function(c) if c ~= "b" then return c:upper() end end)`,
		`return ("a=1, b=2"):gsub("(%w+)=(%w+)", function(k, v) return v .. k end)`,
		`return ("abc"):gsub("()b()", function(p, q) return p .. q end)`,
		`return ("abc"):gsub("(", "x")`,
		`return ("abc"):gsub("b", "%2")`,
	} {
		var got, want string
		for i, L := range []*lua.LState{ours, stock} {
			top := L.GetTop()
			err := L.DoString(src)
			out := ""
			if err != nil {
				msg, _ := ErrorText(err)
				out = "error: " + msg[strings.LastIndex(msg, ": ")+2:]
			} else {
				out = fmt.Sprintf("%q %v", L.Get(top+1).String(), L.Get(top+2))
			}
			L.SetTop(top)
			if i == 0 {
				got = out
			} else {
				want = out
			}
		}
		if got != want {
			t.Errorf("%s = %s, gopher-lua gives %s", src, got, want)
		}
	}
}

func FuzzGsub(f *testing.F) {
	for _, tc := range gsubCases {
		f.Add(tc.s, tc.p, tc.r, int8(-1))
	}
	ours := NewState()
	Install(ours, Limits{})
	stock := NewState() // the same options, stock libraries
	run := func(L *lua.LState, src string, args ...lua.LValue) string {
		top := L.GetTop()
		defer L.SetTop(top)
		fn, err := L.LoadString(src)
		if err != nil {
			panic(err)
		}
		if err := L.CallByParam(lua.P{Fn: fn, NRet: 1, Protect: true}, args...); err != nil {
			msg, _ := ErrorText(err)
			return "error: " + msg[strings.LastIndex(msg, ": ")+2:]
		}
		return L.Get(-1).String()
	}
	const gsub = `local s, p, r, n = ... local out, c = s:gsub(p, r, n) return out .. "|" .. c`
	const gmatch = `local s, p = ... local t = {} for a, b in s:gmatch(p) do t[#t+1] = tostring(a) .. "," .. tostring(b) end return table.concat(t, ";")`
	f.Fuzz(func(t *testing.T, s, p, r string, n int8) {
		if len(s) > 4096 || len(p) > 64 {
			return
		}
		var limit lua.LValue = lua.LNil
		if n >= 0 {
			limit = lua.LNumber(n)
		}
		args := []lua.LValue{lua.LString(s), lua.LString(p), lua.LString(r), limit}
		if got, want := run(ours, gsub, args...), run(stock, gsub, args...); got != want && !referenceOverflow(want) {
			t.Fatalf("gsub(%q, %q, %q, %v): %q, gopher-lua %q", s, p, r, limit, got, want)
		}
		if got, want := run(ours, gmatch, args[:2]...), run(stock, gmatch, args[:2]...); got != want && !referenceOverflow(want) {
			t.Fatalf("gmatch(%q, %q): %q, gopher-lua %q", s, p, got, want)
		}
	})
}

func referenceOverflow(want string) bool {
	return strings.Contains(want, "registry overflow") || strings.Contains(want, "stack overflow")
}

func TestGsubAndGmatchManyMatches(t *testing.T) {
	L := limitedState(t, Limits{})
	got, err := eval(L, `local s, n = ("x"):rep(1e6):gsub("x", "yz") return #s .. " " .. n`)
	if err != nil || got != "2000000 1000000" {
		t.Fatalf("gsub: %q, %v", got, err)
	}
	got, err = eval(L, `local n = 0 for c in ("ab"):rep(5e5):gmatch("a(b)") do n = n + #c end return n`)
	if err != nil || got != "500000" {
		t.Fatalf("gmatch: %q, %v", got, err)
	}
}

func BenchmarkGsubMillion(b *testing.B) {
	L := limitedState(b, Limits{})
	for i := 0; i < b.N; i++ {
		if _, err := eval(L, `local s, n = ("x"):rep(1e6):gsub("x", "yz") return n`); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGsub(b *testing.B) {
	ours := limitedState(b, Limits{})
	stock := NewState() // the same options, stock libraries
	defer stock.Close()
	for _, s := range []struct {
		name string
		L    *lua.LState
	}{{"bounded", ours}, {"gopher-lua", stock}} {
		b.Run(s.name, func(b *testing.B) {
			if err := s.L.DoString(`subject = ("x"):rep(1e4)`); err != nil {
				b.Fatal(err)
			}
			fn, err := s.L.LoadString(`return (subject:gsub("x", "yz"))`)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s.L.Push(fn)
				if err := s.L.PCall(0, 1, nil); err != nil {
					b.Fatal(err)
				}
				s.L.Pop(1)
			}
		})
	}
}
