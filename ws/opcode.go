package ws

// Opcode is the 4-bit frame type of RFC 6455 §5.2.
type Opcode byte

// Frame opcodes. 0x3-0x7 and 0xB-0xF are reserved and rejected by the [Decoder].
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether op is a control opcode (close, ping, pong or a
// reserved 0xB-0xF): the high bit of the opcode marks control frames.
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

// IsData reports whether op starts a data message (text or binary).
func (op Opcode) IsData() bool { return op == OpText || op == OpBinary }

// known reports whether op is one of the six opcodes RFC 6455 defines.
func (op Opcode) known() bool {
	switch op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		return true
	}
	return false
}

// String returns the opcode's lower-case name, or "reserved" for the
// reserved values; it never allocates, so it is safe in log paths.
func (op Opcode) String() string {
	switch op {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "reserved"
}
