package lua

// This file is the project's (see PATCHES.md): error messages at Lua 5.1's
// level of detail.

import "fmt"

// callError raises Lua 5.1's message for calling lv, which register a of
// the running Lua function held: "attempt to call method 'sned' (a nil
// value)", "... global 'f' ...", "... field 'x' ...", "... local 'f' ...".
func (ls *LState) callError(a int, lv LValue) {
	what := ""
	if cf := ls.currentFrame; cf != nil && cf.Fn != nil && !cf.Fn.IsG {
		what = registerName(cf.Fn, cf.Pc-1, a)
	}
	if what != "" {
		ls.RaiseError("attempt to call %s (a %s value)", what, lv.Type().String())
	}
	ls.RaiseError("attempt to call a %s value", lv.Type().String())
}

// registerName tells where register a got the value it holds at
// instruction pc, by looking back for the instruction that set it (Lua
// 5.1's getobjname, without following jumps).
func registerName(fn *LFunction, pc int, a int) string {
	if name, ok := fn.LocalName(a+1, pc); ok {
		return fmt.Sprintf("local '%s'", name)
	}
	p := fn.Proto
	constName := func(rk int) (string, bool) {
		if !opIsK(rk) {
			return "", false
		}
		s, ok := p.Constants[opIndexK(rk)].(LString)
		return string(s), ok
	}
	for i := pc - 1; i >= 0 && i < len(p.Code); i-- {
		inst := p.Code[i]
		op := opGetOpCode(inst)
		switch op {
		case OP_SETGLOBAL, OP_SETUPVAL, OP_SETTABLE, OP_SETTABLEKS, OP_EQ, OP_LT, OP_LE,
			OP_TEST, OP_SETLIST, OP_CLOSE, OP_NOP:
			continue // they do not write register A
		case OP_JMP, OP_RETURN, OP_CALL, OP_TAILCALL, OP_TFORLOOP, OP_FORLOOP, OP_FORPREP:
			return "" // control flow, or a call that may clobber registers
		}
		if opGetArgA(inst) != a {
			if op == OP_LOADNIL && a >= opGetArgA(inst) && a <= opGetArgB(inst) {
				return ""
			}
			continue
		}
		switch op {
		case OP_GETGLOBAL:
			if s, ok := p.Constants[opGetArgBx(inst)].(LString); ok {
				return fmt.Sprintf("global '%s'", string(s))
			}
		case OP_GETTABLE, OP_GETTABLEKS:
			if s, ok := constName(opGetArgC(inst)); ok {
				return fmt.Sprintf("field '%s'", s)
			}
		case OP_SELF:
			if s, ok := constName(opGetArgC(inst)); ok {
				return fmt.Sprintf("method '%s'", s)
			}
		case OP_GETUPVAL:
			if b := opGetArgB(inst); b < len(p.DbgUpvalues) {
				return fmt.Sprintf("upvalue '%s'", p.DbgUpvalues[b])
			}
		case OP_MOVE:
			if name, ok := fn.LocalName(opGetArgB(inst)+1, i+1); ok {
				return fmt.Sprintf("local '%s'", name)
			}
		}
		return ""
	}
	return ""
}
