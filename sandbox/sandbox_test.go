package sandbox

import (
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// limitedState is a Lua state as the server makes it, with the library
// limits installed and no guard.
func limitedState(t testing.TB, limits Limits) *lua.LState {
	t.Helper()
	L := NewState()
	Install(L, limits)
	t.Cleanup(L.Close)
	return L
}

// eval runs a chunk that returns one value and gives it as a string, or
// the error text.
func eval(L *lua.LState, src string) (string, error) {
	top := L.GetTop()
	defer L.SetTop(top)
	if err := L.DoString(src); err != nil {
		return "", err
	}
	if L.GetTop() == top {
		return "", nil
	}
	return L.Get(-1).String(), nil
}

// gsubCases are compared between the bounded gsub and gopher-lua's own.
// FuzzGsub compares the bounded gsub and gmatch with gopher-lua's own on
// arbitrary subjects, patterns and replacements.
// TestGsubAndGmatchManyMatches checks the results of a million matches;
// their speed (gopher-lua's own gsub took 19 s for 100,000 replacements)
// is a benchmark's business, not a test's.
// referenceOverflow: stock gopher-lua ran out of its own stack, where ours
// (which does not push every match) succeeds; no answer to compare with.
// TestCoroutinesShareTheGuard: a coroutine runs under the guard (a runaway
// inside one is interrupted), survives the interruption of another call,
// and an abandoned one leaves nothing behind.
// BenchmarkGsub is 10,000 replacements in a 10,000-byte string, by the
// bounded gsub and by gopher-lua's own (which copies the string per
// replacement).
// BenchmarkDispatchMessageMemCap is BenchmarkDispatchMessage/guard=on with
// the heap cap on too: the cap is sampled by the watchdog, so a call costs
// the same.
