package bindings

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// The json module: json.encode(value[, opts]), json.decode(text[, opts]),
// json.null, json.array(t). Lua values map to JSON as follows:
//
//   - nil and json.null encode as null; null decodes as json.null (never
//     nil, so a table keeps its array slots and decode's nil means failure);
//   - booleans, numbers (NaN and infinities refused), strings (escaped;
//     invalid UTF-8 becomes U+FFFD, so the output is always valid UTF-8);
//   - a table whose keys are exactly 1..n is an array; any other non-empty
//     table is an object, number keys written as strings, keys in sorted
//     order; an empty table is an object {} unless it carries the array mark
//     (json.array(t)); decoded arrays carry it, so [] round-trips.
//
// Encoding errors are the script's bugs (a function, a cycle, too deep) and
// raise. Decoding errors are the peer's (bad input) and come back as nil,
// message, with the 1-based byte offset.

// Limits, overridable per call with {max_depth = n, max_size = bytes}.
const (
	jsonMaxDepth     = 128      // nesting of arrays and objects
	jsonMaxSize      = 64 << 20 // bytes of encoder output or decoder input
	jsonDepthCeiling = 1000     // the largest max_depth a call may ask for: both sides recurse
)

const jsonNullType = "pocketlua.json.null"

type jsonModule struct {
	null    *lua.LUserData
	arrayMT *lua.LTable // the mark of an array, also on decoded arrays
}

func jsonLoader(L *lua.LState) int {
	m := &jsonModule{arrayMT: L.NewTable()}
	m.arrayMT.RawSetString("__name", lua.LString("json.array"))
	nullMT := L.NewTypeMetatable(jsonNullType)
	L.SetField(nullMT, "__tostring", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LString("null")); return 1 }))
	m.null = L.NewUserData()
	m.null.Metatable = nullMT
	mod := L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"encode": m.luaEncode,
		"decode": m.luaDecode,
		"array": func(L *lua.LState) int {
			t := L.OptTable(1, nil)
			if t == nil {
				t = L.NewTable()
			}
			t.Metatable = m.arrayMT
			L.Push(t)
			return 1
		},
	})
	mod.RawSetString("null", m.null)
	// is_array(v): true when encode would write v as a JSON array.
	mod.RawSetString("is_array", L.NewFunction(func(L *lua.LState) int {
		t, ok := L.CheckAny(1).(*lua.LTable)
		array := false
		if ok {
			array, _, _ = jsonShape(t, m.arrayMT)
		}
		L.Push(lua.LBool(array))
		return 1
	}))
	mod.RawSetString("array_mt", m.arrayMT)
	L.Push(mod)
	return 1
}

// jsonLimits reads {max_depth, max_size} from an optional options table.
func jsonLimits(L *lua.LState, n int) (depth, size int) {
	depth, size = jsonMaxDepth, jsonMaxSize
	opts := L.OptTable(n, nil)
	if opts == nil {
		return
	}
	get := func(name string, def, ceiling int) int {
		v := opts.RawGetString(name)
		if v == lua.LNil {
			return def
		}
		x, ok := v.(lua.LNumber)
		if !ok || x < 1 || float64(x) > float64(ceiling) {
			L.ArgError(n, fmt.Sprintf("%s must be a number from 1 to %d", name, ceiling))
		}
		return int(x)
	}
	return get("max_depth", depth, jsonDepthCeiling), get("max_size", size, math.MaxInt32)
}

// Encoding.

type jsonEncoder struct {
	m        *jsonModule
	buf      []byte
	path     []*lua.LTable // tables being encoded, to catch cycles
	maxDepth int
	maxSize  int
}

func (m *jsonModule) luaEncode(L *lua.LState) int {
	v := L.CheckAny(1)
	e := jsonEncoder{m: m}
	e.maxDepth, e.maxSize = jsonLimits(L, 2)
	err := e.value(v)
	if err == nil && len(e.buf) > e.maxSize {
		err = fmt.Errorf("output over %d bytes", e.maxSize)
	}
	if err != nil {
		L.RaiseError("json.encode: %s", err.Error())
	}
	L.Push(lua.LString(e.buf))
	return 1
}

func (e *jsonEncoder) value(v lua.LValue) error {
	if len(e.buf) > e.maxSize {
		return fmt.Errorf("output over %d bytes", e.maxSize)
	}
	switch x := v.(type) {
	case *lua.LNilType:
		e.buf = append(e.buf, "null"...)
	case lua.LBool:
		e.buf = strconv.AppendBool(e.buf, bool(x))
	case lua.LNumber:
		return e.number(float64(x))
	case lua.LString:
		e.buf = jsonAppendString(e.buf, string(x))
	case *lua.LTable:
		return e.table(x)
	case *lua.LUserData:
		if x == e.m.null {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return fmt.Errorf("cannot encode a userdata")
	default:
		return fmt.Errorf("cannot encode a %s", v.Type())
	}
	return nil
}

// number writes f as JavaScript would: integers without a fraction or
// exponent below 1e21, an exponent for very large or small magnitudes.
func (e *jsonEncoder) number(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("cannot encode %v (JSON has no NaN or infinity)", f)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(e.buf)
	e.buf = strconv.AppendFloat(e.buf, f, format, -1, 64)
	if format == 'e' { // 1e-07 -> 1e-7, as encoding/json and JavaScript write it
		n := len(e.buf) - start
		if n >= 4 && e.buf[len(e.buf)-4] == 'e' && e.buf[len(e.buf)-3] == '-' && e.buf[len(e.buf)-2] == '0' {
			e.buf[len(e.buf)-2] = e.buf[len(e.buf)-1]
			e.buf = e.buf[:len(e.buf)-1]
		}
	}
	return nil
}

// jsonShape says how encode writes t: as an array when its keys are
// exactly 1..count, or when it is empty and carries the array mark. badKey
// is a key no JSON object can hold (not a number or a string).
func jsonShape(t, mark *lua.LTable) (array bool, count int, badKey lua.LValue) {
	maxInt, allInts := 0, true
	t.ForEach(func(k, _ lua.LValue) {
		count++
		switch x := k.(type) {
		case lua.LNumber:
			f := float64(x)
			if f >= 1 && f == math.Trunc(f) && f <= math.MaxInt32 {
				maxInt = max(maxInt, int(f))
			} else {
				allInts = false
			}
		case lua.LString:
			allInts = false
		default:
			allInts = false
			badKey = k
		}
	})
	if count == 0 {
		return t.Metatable == mark, 0, nil
	}
	return allInts && maxInt == count, count, badKey
}

func (e *jsonEncoder) table(t *lua.LTable) error {
	if len(e.path) >= e.maxDepth {
		return fmt.Errorf("nesting deeper than %d", e.maxDepth)
	}
	if slices.Contains(e.path, t) {
		return fmt.Errorf("a table contains itself")
	}
	e.path = append(e.path, t)
	defer func() { e.path = e.path[:len(e.path)-1] }()

	array, count, badKey := jsonShape(t, e.m.arrayMT)
	if badKey != nil {
		return fmt.Errorf("cannot encode a table key of type %s", badKey.Type())
	}
	if count == 0 {
		if array {
			e.buf = append(e.buf, "[]"...)
		} else {
			e.buf = append(e.buf, "{}"...)
		}
		return nil
	}
	if array {
		e.buf = append(e.buf, '[')
		for i := 1; i <= count; i++ {
			if i > 1 {
				e.buf = append(e.buf, ',')
			}
			if err := e.value(t.RawGetInt(i)); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
		return nil
	}
	// An object, keys sorted so the same table always gives the same text.
	type member struct {
		key string
		val lua.LValue
	}
	members := make([]member, 0, count)
	var keyErr error
	t.ForEach(func(k, v lua.LValue) {
		switch x := k.(type) {
		case lua.LString:
			members = append(members, member{string(x), v})
		case lua.LNumber:
			f := float64(x)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				keyErr = fmt.Errorf("cannot encode the table key %v", f)
				return
			}
			members = append(members, member{x.String(), v})
		}
	})
	if keyErr != nil {
		return keyErr
	}
	slices.SortFunc(members, func(a, b member) int { return strings.Compare(a.key, b.key) })
	e.buf = append(e.buf, '{')
	for i, mb := range members {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = jsonAppendString(e.buf, mb.key)
		e.buf = append(e.buf, ':')
		if err := e.value(mb.val); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

const hexDigits = "0123456789abcdef"

// jsonAppendString writes s as a JSON string: quotes, backslashes and
// control characters escaped, U+2028/U+2029 escaped (JavaScript source
// safety), invalid UTF-8 replaced by U+FFFD.
func jsonAppendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '"', '\\':
				buf = append(buf, '\\', b)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// Decoding.

type jsonDecoder struct {
	L        *lua.LState
	m        *jsonModule
	s        string
	i        int
	depth    int
	maxDepth int
	clone    bool // copy strings out of a large input rather than keep it alive
}

// jsonSyntaxError is a decoding failure at a byte offset.
type jsonSyntaxError struct {
	msg string
	at  int // 0-based
}

func (e *jsonSyntaxError) Error() string { return fmt.Sprintf("%s at byte %d", e.msg, e.at+1) }

func (m *jsonModule) luaDecode(L *lua.LState) int {
	s := L.CheckString(1)
	maxDepth, maxSize := jsonLimits(L, 2)
	v, err := m.decode(L, s, maxDepth, maxSize)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString("json.decode: " + err.Error()))
		return 2
	}
	L.Push(v)
	return 1
}

func (m *jsonModule) decode(L *lua.LState, s string, maxDepth, maxSize int) (lua.LValue, error) {
	if len(s) > maxSize {
		return nil, fmt.Errorf("input of %d bytes is over the limit of %d", len(s), maxSize)
	}
	d := jsonDecoder{L: L, m: m, s: s, maxDepth: maxDepth, clone: len(s) > 4096}
	d.space()
	if d.i == len(s) {
		return nil, &jsonSyntaxError{"empty input", d.i}
	}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.space()
	if d.i < len(s) {
		return nil, &jsonSyntaxError{"trailing data after the value", d.i}
	}
	return v, nil
}

func (d *jsonDecoder) space() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonDecoder) unexpected() error {
	if d.i >= len(d.s) {
		return &jsonSyntaxError{"unexpected end of input", d.i}
	}
	c := d.s[d.i]
	if c >= 0x20 && c < 0x7f {
		return &jsonSyntaxError{fmt.Sprintf("unexpected character '%c'", c), d.i}
	}
	return &jsonSyntaxError{fmt.Sprintf("unexpected byte 0x%02x", c), d.i}
}

func (d *jsonDecoder) value() (lua.LValue, error) {
	if d.i >= len(d.s) {
		return nil, d.unexpected()
	}
	switch c := d.s[d.i]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		return lua.LString(s), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case strings.HasPrefix(d.s[d.i:], "true"):
		d.i += 4
		return lua.LTrue, nil
	case strings.HasPrefix(d.s[d.i:], "false"):
		d.i += 5
		return lua.LFalse, nil
	case strings.HasPrefix(d.s[d.i:], "null"):
		d.i += 4
		return d.m.null, nil
	}
	return nil, d.unexpected()
}

func (d *jsonDecoder) enter() error {
	if d.depth++; d.depth > d.maxDepth {
		return &jsonSyntaxError{fmt.Sprintf("nesting deeper than %d", d.maxDepth), d.i}
	}
	return nil
}

func (d *jsonDecoder) object() (lua.LValue, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.i++ // {
	t := d.L.NewTable()
	d.space()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		d.depth--
		return t, nil
	}
	for {
		d.space()
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			return nil, d.unexpected()
		}
		key, err := d.str()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			return nil, d.unexpected()
		}
		d.i++
		d.space()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		t.RawSetString(key, v)
		d.space()
		if d.i < len(d.s) && d.s[d.i] == ',' {
			d.i++
			continue
		}
		if d.i < len(d.s) && d.s[d.i] == '}' {
			d.i++
			d.depth--
			return t, nil
		}
		return nil, d.unexpected()
	}
}

func (d *jsonDecoder) array() (lua.LValue, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.i++ // [
	t := d.L.NewTable()
	t.Metatable = d.m.arrayMT
	d.space()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
		d.depth--
		return t, nil
	}
	for n := 1; ; n++ {
		d.space()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		t.RawSetInt(n, v)
		d.space()
		if d.i < len(d.s) && d.s[d.i] == ',' {
			d.i++
			continue
		}
		if d.i < len(d.s) && d.s[d.i] == ']' {
			d.i++
			d.depth--
			return t, nil
		}
		return nil, d.unexpected()
	}
}

// number checks the JSON number grammar, then converts.
func (d *jsonDecoder) number() (lua.LValue, error) {
	s, start := d.s, d.i
	i := start
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		d.i = i
		return nil, d.unexpected()
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			d.i = i
			return nil, d.unexpected()
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			d.i = i
			return nil, d.unexpected()
		}
	}
	f, err := strconv.ParseFloat(s[start:i], 64)
	if err != nil {
		return nil, &jsonSyntaxError{"number out of range", start}
	}
	d.i = i
	return lua.LNumber(f), nil
}

// str reads a string starting at its opening quote.
func (d *jsonDecoder) str() (string, error) {
	s := d.s
	d.i++ // "
	start := d.i
	// The common case: no escapes, the value is a slice of the input.
	for i := start; i < len(s); i++ {
		c := s[i]
		if c == '"' {
			d.i = i + 1
			if d.clone {
				return strings.Clone(s[start:i]), nil
			}
			return s[start:i], nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", &jsonSyntaxError{"control character in string", i}
		}
	}
	var b strings.Builder
	i := start
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			d.i = i + 1
			return b.String(), nil
		case c < 0x20:
			return "", &jsonSyntaxError{"control character in string", i}
		case c != '\\':
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			break
		}
		esc := s[i+1]
		switch esc {
		case '"', '\\', '/':
			b.WriteByte(esc)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				return "", &jsonSyntaxError{"invalid \\u escape", i}
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2, ok = hex4(s, i+2)
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError // a lone surrogate
				}
			}
			b.WriteRune(r)
			continue
		default:
			return "", &jsonSyntaxError{fmt.Sprintf("invalid escape '\\%c'", esc), i}
		}
		i += 2
	}
	d.i = len(s)
	return "", &jsonSyntaxError{"unterminated string", start - 1}
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
