package ws

import "encoding/binary"

// UTF-8 validation as a deterministic finite automaton over byte classes.
// It rejects a byte the moment no valid UTF-8 string can continue the input
// seen so far (RFC 3629 §4 table), so a text message fails on its first bad
// byte, not at its end: overlong forms (C0, C1, E0 80-9F, F0 80-8F),
// surrogates (ED A0-BF), code points above U+10FFFF (F4 90-BF, F5-FF) and
// stray continuation bytes.

// Byte classes: which bytes behave the same in every state.
const (
	cASCII  = iota // 00-7F
	cCont8         // 80-8F
	cCont9         // 90-9F
	cContA         // A0-BF
	cBad           // C0-C1, F5-FF: never valid
	cLead2         // C2-DF
	cLeadE0        // E0: second byte A0-BF (no overlongs)
	cLead3         // E1-EC, EE-EF
	cLeadED        // ED: second byte 80-9F (no surrogates)
	cLeadF0        // F0: second byte 90-BF (no overlongs)
	cLead4         // F1-F3
	cLeadF4        // F4: second byte 80-8F (nothing above U+10FFFF)
	numClasses
)

// States, premultiplied by numClasses so a transition is one table index.
const (
	sAccept   = iota * numClasses // between characters
	sReject                       // dead: the input can never become valid
	sNeed1                        // one continuation byte 80-BF to go
	sNeed2                        // two to go
	sNeed3                        // three to go
	sE0                           // after E0
	sED                           // after ED
	sF0                           // after F0
	sF4                           // after F4
	numStates = iota
)

var utf8Class = func() (t [256]uint8) {
	for b := range 256 {
		switch {
		case b < 0x80:
			t[b] = cASCII
		case b < 0x90:
			t[b] = cCont8
		case b < 0xA0:
			t[b] = cCont9
		case b < 0xC0:
			t[b] = cContA
		case b < 0xC2:
			t[b] = cBad
		case b < 0xE0:
			t[b] = cLead2
		case b == 0xE0:
			t[b] = cLeadE0
		case b == 0xED:
			t[b] = cLeadED
		case b < 0xF0:
			t[b] = cLead3
		case b == 0xF0:
			t[b] = cLeadF0
		case b < 0xF4:
			t[b] = cLead4
		case b == 0xF4:
			t[b] = cLeadF4
		default:
			t[b] = cBad
		}
	}
	return t
}()

// utf8Next has 256 entries (only numStates*numClasses are used) so that
// indexing with a uint8 needs no bounds check.
var utf8Next = func() (t [256]uint8) {
	for i := range t {
		t[i] = sReject
	}
	set := func(s int, next int, classes ...int) {
		for _, c := range classes {
			t[s+c] = uint8(next)
		}
	}
	set(sAccept, sAccept, cASCII)
	set(sAccept, sNeed1, cLead2)
	set(sAccept, sE0, cLeadE0)
	set(sAccept, sNeed2, cLead3)
	set(sAccept, sED, cLeadED)
	set(sAccept, sF0, cLeadF0)
	set(sAccept, sNeed3, cLead4)
	set(sAccept, sF4, cLeadF4)
	set(sNeed1, sAccept, cCont8, cCont9, cContA)
	set(sNeed2, sNeed1, cCont8, cCont9, cContA)
	set(sNeed3, sNeed2, cCont8, cCont9, cContA)
	set(sE0, sNeed1, cContA)
	set(sED, sNeed1, cCont8, cCont9)
	set(sF0, sNeed2, cCont9, cContA)
	set(sF4, sNeed2, cCont8)
	return t
}()

// utf8Lead describes each byte as the start of a character: the sequence
// length and the range allowed for the second byte, which is where
// overlongs, surrogates and values above U+10FFFF show (RFC 3629 §4).
// Bytes that cannot start a character get an empty range.
var utf8Lead = func() (t [256]struct{ n, lo, hi uint8 }) {
	for b := range 256 {
		switch {
		case b < 0x80:
			t[b].n = 1
		case b >= 0xC2 && b <= 0xDF:
			t[b].n, t[b].lo, t[b].hi = 2, 0x80, 0xBF
		case b == 0xE0:
			t[b].n, t[b].lo, t[b].hi = 3, 0xA0, 0xBF
		case b == 0xED:
			t[b].n, t[b].lo, t[b].hi = 3, 0x80, 0x9F
		case b >= 0xE1 && b <= 0xEF:
			t[b].n, t[b].lo, t[b].hi = 3, 0x80, 0xBF
		case b == 0xF0:
			t[b].n, t[b].lo, t[b].hi = 4, 0x90, 0xBF
		case b >= 0xF1 && b <= 0xF3:
			t[b].n, t[b].lo, t[b].hi = 4, 0x80, 0xBF
		case b == 0xF4:
			t[b].n, t[b].lo, t[b].hi = 4, 0x80, 0x8F
		default:
			t[b].n, t[b].lo, t[b].hi = 1, 0xFF, 0x00
		}
	}
	return t
}()

// UTF8Validator checks UTF-8 incrementally: text split at any byte
// boundary, across frames and reads, gives the same verdict as the whole.
// The zero value is ready to use.
type UTF8Validator struct {
	state uint8
}

// Write feeds p and reports whether the input so far can still be (a
// prefix of) valid UTF-8. Once it returns false it keeps returning false
// until Reset.
func (v *UTF8Validator) Write(p []byte) bool {
	s := v.state
	for len(p) > 0 {
		if s == sAccept {
			// ASCII runs: 32, then eight bytes at a time while no byte
			// has its high bit set.
			for len(p) >= 32 {
				q := p[:32:32]
				w := binary.LittleEndian.Uint64(q) | binary.LittleEndian.Uint64(q[8:]) |
					binary.LittleEndian.Uint64(q[16:]) | binary.LittleEndian.Uint64(q[24:])
				if w&0x8080808080808080 != 0 {
					break
				}
				p = p[32:]
			}
			for len(p) >= 8 && binary.LittleEndian.Uint64(p)&0x8080808080808080 == 0 {
				p = p[8:]
			}
			// Whole characters that fit in p are checked directly; the
			// automaton only carries characters split across Writes.
			i, end := 0, len(p)-3
			for i < end {
				c := p[i]
				if c < 0x80 {
					i++
					continue
				}
				l := &utf8Lead[c]
				if b := p[i+1]; b < l.lo || b > l.hi {
					v.state = sReject
					return false
				}
				if l.n >= 3 && (p[i+2]&0xC0 != 0x80 || l.n == 4 && p[i+3]&0xC0 != 0x80) {
					v.state = sReject
					return false
				}
				i += int(l.n)
				if i+8 <= len(p) && binary.LittleEndian.Uint64(p[i:])&0x8080808080808080 == 0 {
					break // back to whole words
				}
			}
			p = p[i:]
			if len(p) >= 8 {
				continue
			}
		}
		// The last few bytes, or a character split by the end of the
		// previous Write: one byte at a time.
		for len(p) > 0 {
			s = utf8Next[s+utf8Class[p[0]]]
			p = p[1:]
			if s == sReject {
				v.state = s
				return false
			}
			if s == sAccept && len(p) >= 8 {
				break
			}
		}
	}
	v.state = s
	return s != sReject
}

// Complete reports whether the input so far is valid UTF-8 that does not
// end inside a multi-byte sequence. Call it at the end of a message.
func (v *UTF8Validator) Complete() bool { return v.state == sAccept }

// Reset makes v ready for a new message.
func (v *UTF8Validator) Reset() { v.state = sAccept }

// ValidUTF8 reports whether p is entirely valid UTF-8. It agrees with
// unicode/utf8.Valid.
func ValidUTF8(p []byte) bool {
	var v UTF8Validator
	return v.Write(p) && v.Complete()
}
