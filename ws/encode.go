package ws

import (
	"encoding/binary"
	"unicode/utf8"
)

// Server frames are never masked (RFC 6455 §5.1), so a header is 2, 4 or
// 10 bytes.

// HeaderSize returns the size of an unmasked frame header for a payload of
// length bytes.
func HeaderSize(length int) int {
	switch {
	case length < 126:
		return 2
	case length <= 0xFFFF:
		return 4
	}
	return 10
}

// AppendHeader appends an unmasked frame header to dst, for callers that
// write the payload separately (writev). length must not be negative, and
// control frames must not be longer than 125 bytes; both are the caller's
// bugs, not the peer's, so they are not checked.
func AppendHeader(dst []byte, fin bool, op Opcode, length int) []byte {
	b0 := byte(op & 0x0F)
	if fin {
		b0 |= 0x80
	}
	switch {
	case length < 126:
		return append(dst, b0, byte(length))
	case length <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(dst, b0, 126), uint16(length))
	}
	return binary.BigEndian.AppendUint64(append(dst, b0, 127), uint64(length))
}

// AppendFrame appends a whole unmasked frame to dst.
func AppendFrame(dst []byte, fin bool, op Opcode, payload []byte) []byte {
	return append(AppendHeader(dst, fin, op, len(payload)), payload...)
}

// AppendClose appends a whole close frame to dst. Code 0 or CloseNoStatus
// gives an empty payload (no status, and no reason). Otherwise the payload
// is the code and reason, the reason cut to fit the 125-byte control
// payload at a UTF-8 character boundary so the peer does not fail it with
// 1007. Codes 1005, 1006 and 1015 must not be sent; the caller picks the
// code.
func AppendClose(dst []byte, code int, reason string) []byte {
	if code == 0 || code == CloseNoStatus {
		return append(dst, 0x80|byte(OpClose), 0)
	}
	if len(reason) > maxControlPayload-2 {
		cut := maxControlPayload - 2
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	dst = append(dst, 0x80|byte(OpClose), byte(2+len(reason)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...)
}
