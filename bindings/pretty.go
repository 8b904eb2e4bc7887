package bindings

import (
	"fmt"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// PrettyOptions bound what Pretty writes, so showing a huge or deep table
// can neither flood a terminal nor hold the loop for long. Zero fields take
// the defaults.
type PrettyOptions struct {
	Depth    int  // nesting levels shown; deeper tables print as {...}; default 3
	Width    int  // entries shown per table; the rest are counted; default 30
	MaxBytes int  // output beyond this is cut; default 64 KiB
	OneLine  bool // a table's entries on one line: {1, 2, a = 3}
}

// countLimit bounds the walk that counts a table's entries beyond Width.
const countLimit = 1_000_000

// Pretty renders a Lua value for people: strings quoted, tables with their
// nesting, a table met again inside itself marked as a cycle.
func Pretty(v lua.LValue, o PrettyOptions) string {
	if o.Depth <= 0 {
		o.Depth = 3
	}
	if o.Width <= 0 {
		o.Width = 30
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 10
	}
	p := &prettyPrinter{o: o, open: map[*lua.LTable]bool{}}
	p.value(v, 0)
	if p.cut {
		return p.b.String() + fmt.Sprintf("\n... (output cut at %d bytes)", o.MaxBytes)
	}
	return p.b.String()
}

type prettyPrinter struct {
	o    PrettyOptions
	b    strings.Builder
	open map[*lua.LTable]bool // tables being printed, for cycles
	cut  bool
}

func (p *prettyPrinter) write(s string) bool {
	if p.cut {
		return false
	}
	if p.b.Len()+len(s) > p.o.MaxBytes {
		p.b.WriteString(s[:max(p.o.MaxBytes-p.b.Len(), 0)])
		p.cut = true
		return false
	}
	p.b.WriteString(s)
	return true
}

func (p *prettyPrinter) value(v lua.LValue, depth int) {
	switch x := v.(type) {
	case lua.LString:
		p.write(quoteLua(string(x)))
	case *lua.LTable:
		p.table(x, depth)
	case *lua.LUserData:
		if c, ok := x.Value.(Conn); ok {
			p.write(fmt.Sprintf("conn#%d(%s, %s)", c.ID(), c.Peer(), c.Mode()))
			return
		}
		p.write(x.String())
	case *lua.LFunction:
		if x.IsG {
			p.write("function: builtin")
		} else {
			p.write(fmt.Sprintf("function <%s:%d>", x.Proto.SourceName, x.Proto.LineDefined))
		}
	default:
		p.write(v.String())
	}
}

func (p *prettyPrinter) table(t *lua.LTable, depth int) {
	if p.open[t] {
		p.write(fmt.Sprintf("<cycle: %s>", t))
		return
	}
	if depth >= p.o.Depth && p.o.OneLine {
		p.write(fmt.Sprintf("{... %s}", countEntries(t)))
		return
	}
	if depth >= p.o.Depth {
		p.write(fmt.Sprintf("{...} -- %s", countEntries(t)))
		return
	}
	p.open[t] = true
	defer delete(p.open, t)

	// The array part in order, then the other keys, strings sorted, among
	// the first Width entries of the traversal.
	n := t.Len()
	shown := 0
	var keys []lua.LValue
	for k, _ := t.Next(lua.LNil); k != lua.LNil && len(keys) < p.o.Width; k, _ = t.Next(k) {
		if num, ok := k.(lua.LNumber); ok && float64(num) >= 1 && float64(num) <= float64(n) && float64(num) == float64(int(num)) {
			continue
		}
		keys = append(keys, k)
	}
	sort.SliceStable(keys, func(i, j int) bool {
		a, aok := keys[i].(lua.LString)
		b, bok := keys[j].(lua.LString)
		return aok && (!bok || a < b)
	})
	if n == 0 && len(keys) == 0 {
		p.write("{}")
		return
	}
	if p.o.OneLine {
		p.oneLine(t, n, keys, depth)
		return
	}
	indent := strings.Repeat("  ", depth+1)
	if !p.write("{\n") {
		return
	}
	for i := 1; i <= n && shown < p.o.Width; i++ {
		p.write(indent)
		p.value(t.RawGetInt(i), depth+1)
		if !p.write(",\n") {
			return
		}
		shown++
	}
	for _, k := range keys {
		if shown >= p.o.Width {
			break
		}
		p.write(indent)
		if s, ok := k.(lua.LString); ok && isIdentifier(string(s)) {
			p.write(string(s))
		} else {
			p.write("[")
			p.value(k, depth+1)
			p.write("]")
		}
		p.write(" = ")
		p.value(t.RawGet(k), depth+1)
		if !p.write(",\n") {
			return
		}
		shown++
	}
	if total := countEntries(t); shown < total.n || total.more {
		p.write(fmt.Sprintf("%s-- %s, %d shown\n", indent, total, shown))
	}
	p.write(strings.Repeat("  ", depth) + "}")
}

// oneLine writes t's entries as table does, on one line.
func (p *prettyPrinter) oneLine(t *lua.LTable, n int, keys []lua.LValue, depth int) {
	p.write("{")
	shown := 0
	next := func() bool {
		if shown > 0 && !p.write(", ") {
			return false
		}
		shown++
		return true
	}
	for i := 1; i <= n && shown < p.o.Width; i++ {
		if !next() {
			return
		}
		p.value(t.RawGetInt(i), depth+1)
	}
	for _, k := range keys {
		if shown >= p.o.Width || !next() {
			break
		}
		if s, ok := k.(lua.LString); ok && isIdentifier(string(s)) {
			p.write(string(s))
		} else {
			p.write("[")
			p.value(k, depth+1)
			p.write("]")
		}
		p.write(" = ")
		p.value(t.RawGet(k), depth+1)
	}
	if total := countEntries(t); shown < total.n || total.more {
		p.write(fmt.Sprintf(", ... (%s, %d shown)", total, shown))
	}
	p.write("}")
}

type entryCount struct {
	n    int
	more bool // counting stopped at countLimit
}

func (c entryCount) String() string {
	if c.more {
		return fmt.Sprintf("over %d entries", c.n)
	}
	if c.n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", c.n)
}

func countEntries(t *lua.LTable) entryCount {
	var c entryCount
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		if c.n == countLimit {
			c.more = true
			break
		}
		c.n++
	}
	return c
}

var luaKeywords = map[string]bool{
	"and": true, "break": true, "do": true, "else": true, "elseif": true, "end": true,
	"false": true, "for": true, "function": true, "if": true, "in": true, "local": true,
	"nil": true, "not": true, "or": true, "repeat": true, "return": true, "then": true,
	"true": true, "until": true, "while": true,
}

func isIdentifier(s string) bool {
	if s == "" || luaKeywords[s] {
		return false
	}
	for i, r := range s {
		if r != '_' && !(r >= 'a' && r <= 'z') && !(r >= 'A' && r <= 'Z') && !(i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// quoteLua writes a string as a Lua literal that reads back the same bytes.
func quoteLua(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 || c == 0x7f {
				fmt.Fprintf(&b, `\%03d`, c) // three digits: a digit after it stays itself
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
