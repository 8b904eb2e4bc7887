package sandbox

import (
	"strconv"
	"strings"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/pm"
)

// Patterns: string.gsub and string.gmatch that match in batches, build the
// result once, stop at --max-string and check the guard between batches.

// interrupted raises the guard's error if it cancelled the running call,
// for long Go loops that do not run Lua instructions.
func interrupted(L *lua.LState) {
	if ctx := L.Context(); ctx != nil {
		select {
		case <-ctx.Done():
			L.RaiseError("%s", ctx.Err().Error())
		default:
		}
	}
}

// matchBatch is how many matches gsub and gmatch ask pm.Find for at a time.
const matchBatch = 256

// gsub is gopher-lua's string.gsub (same matches, same replacement rules,
// including its quirks: "%x" for a non-digit x stays "%x", a limit of 0
// replaces nothing unless the subject's first byte matches), built in one
// pass and bounded by --max-string.
func (lim *luaLimits) gsub(L *lua.LState) int {
	str := L.CheckString(1)
	pat := L.CheckString(2)
	L.CheckTypes(3, lua.LTString, lua.LTTable, lua.LTFunction)
	repl := L.CheckAny(3)
	limit := L.OptInt(4, -1)
	src := unsafeBytes(str)
	anchored := len(pat) > 0 && pat[0] == '^'
	var out []byte
	last, count, sp := 0, 0, 0
	for sp <= len(src) {
		want := matchBatch
		switch {
		case limit == 0:
			// pm.Find's own quirk: it stops at the first position that
			// does not match, or goes on to the end. Keep it, unbatched.
			want = 0
		case limit > 0:
			want = min(want, limit-count)
		}
		mds, err := pm.Find(pat, src, sp, want)
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		for _, md := range mds {
			start, end := md.Capture(0), md.Capture(1)
			rep, ok := gsubValue(L, str, repl, md)
			count++
			if !ok {
				continue
			}
			if size := len(out) + (start - last) + len(rep); size > lim.maxString {
				lim.tooBig(L, "string.gsub", float64(size+len(src)-end))
			}
			out = append(out, src[last:start]...)
			out = append(out, rep...)
			last = end
		}
		if len(mds) < want || want == 0 || anchored || count == limit {
			break
		}
		md := mds[len(mds)-1]
		sp = max(md.Capture(0)+1, md.Capture(1))
		interrupted(L)
	}
	if last == 0 && out == nil {
		L.Push(lua.LString(str))
	} else {
		if size := len(out) + len(src) - last; size > lim.maxString {
			lim.tooBig(L, "string.gsub", float64(size))
		}
		out = append(out, src[last:]...)
		L.Push(lua.LString(unsafe.String(unsafe.SliceData(out), len(out))))
	}
	L.Push(lua.LNumber(count))
	return 2
}

// gsubValue is the replacement for one match, and false when the match
// stays as it is (a table or function gave false or nil).
func gsubValue(L *lua.LState, str string, repl lua.LValue, md *pm.MatchData) (string, bool) {
	switch r := repl.(type) {
	case lua.LString:
		return expandRepl(L, string(r), str, md), true
	case *lua.LTable:
		idx := 0
		if md.CaptureLength() > 2 {
			idx = 2
		}
		var v lua.LValue
		if md.IsPosCapture(idx) {
			v = L.GetTable(r, lua.LNumber(md.Capture(idx)))
		} else {
			v = L.GetField(r, str[md.Capture(idx):md.Capture(idx+1)])
		}
		if lua.LVIsFalse(v) {
			return "", false
		}
		return lua.LVAsString(v), true
	case *lua.LFunction:
		L.Push(r)
		nargs := 0
		if md.CaptureLength() > 2 {
			for i := 2; i < md.CaptureLength(); i += 2 {
				if md.IsPosCapture(i) {
					L.Push(lua.LNumber(md.Capture(i)))
				} else {
					L.Push(lua.LString(captured(L, md, str, i)))
				}
				nargs++
			}
		} else {
			L.Push(lua.LString(captured(L, md, str, 0)))
			nargs++
		}
		L.Call(nargs, 1)
		v := L.Get(-1)
		L.Pop(1)
		if lua.LVIsFalse(v) {
			return "", false
		}
		return lua.LVAsString(v), true
	}
	return "", false
}

// expandRepl applies a string replacement as gopher-lua does: "%%" is a
// percent sign, "%0".."%9" a capture, "%" and another byte stay as they
// are, a final lone "%" too.
func expandRepl(L *lua.LState, repl, str string, md *pm.MatchData) string {
	if strings.IndexByte(repl, '%') < 0 {
		return repl
	}
	var b []byte
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '%' || i == len(repl)-1 {
			b = append(b, c)
			continue
		}
		i++
		switch d := repl[i]; {
		case d == '%':
			b = append(b, '%')
		case d >= '0' && d <= '9':
			b = append(b, captured(L, md, str, 2*int(d-'0'))...)
		default:
			b = append(b, '%', d)
		}
	}
	return string(b)
}

// captured is gopher-lua's capturedString: capture idx/2 of a match, the
// whole match for capture 1 of a pattern without captures, a position
// capture as its number.
func captured(L *lua.LState, md *pm.MatchData, str string, idx int) string {
	if idx > 2 && idx >= md.CaptureLength() {
		L.RaiseError("invalid capture index")
	}
	if idx >= md.CaptureLength() && idx == 2 {
		idx = 0
	}
	if md.IsPosCapture(idx) {
		return strconv.Itoa(md.Capture(idx))
	}
	return str[md.Capture(idx):md.Capture(idx+1)]
}

// gmatch is string.gmatch finding matches a batch at a time instead of all
// at once. The pattern is checked (and the first batch found) at the call.
func (lim *luaLimits) gmatch(L *lua.LState) int {
	it := &gmatchIter{str: L.CheckString(1), pat: L.CheckString(2)}
	it.anchored = len(it.pat) > 0 && it.pat[0] == '^'
	it.fetch(L)
	L.Push(L.NewFunction(it.next))
	return 1
}

type gmatchIter struct {
	str, pat string
	anchored bool
	sp       int // where the next batch starts
	done     bool
	batch    []*pm.MatchData
}

func (it *gmatchIter) fetch(L *lua.LState) {
	mds, err := pm.Find(it.pat, unsafeBytes(it.str), it.sp, matchBatch)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	it.batch = mds
	if len(mds) < matchBatch || it.anchored {
		it.done = true
		return
	}
	md := mds[len(mds)-1]
	it.sp = max(md.Capture(0)+1, md.Capture(1))
}

func (it *gmatchIter) next(L *lua.LState) int {
	if len(it.batch) == 0 {
		if it.done {
			return 0
		}
		it.fetch(L)
		if len(it.batch) == 0 {
			return 0
		}
	}
	md := it.batch[0]
	it.batch[0] = nil
	it.batch = it.batch[1:]
	if md.CaptureLength() == 2 {
		L.Push(lua.LString(it.str[md.Capture(0):md.Capture(1)]))
		return 1
	}
	for i := 2; i < md.CaptureLength(); i += 2 {
		if md.IsPosCapture(i) {
			L.Push(lua.LNumber(md.Capture(i)))
		} else {
			L.Push(lua.LString(it.str[md.Capture(i):md.Capture(i+1)]))
		}
	}
	return md.CaptureLength()/2 - 1
}

// unsafeBytes views a string's bytes without copying; they must not be modified.
func unsafeBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
