package main

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

const maxControlPayload = 125

var (
	errMaskedServerFrame = errors.New("server frame is masked")
	errRSV               = errors.New("server frame has RSV bits set (no extension was negotiated)")
	errBadControl        = errors.New("fragmented or oversized control frame")
	errBadContinuation   = errors.New("continuation frame outside a fragmented message")
	errNestedMessage     = errors.New("new data frame inside a fragmented message")
	errFrameTooLong      = errors.New("frame length has the most significant bit set")
)

// clientHeaderLen is the header size of a masked client frame with n payload bytes.
func clientHeaderLen(n int) int {
	switch {
	case n < 126:
		return 2 + 4
	case n <= 0xFFFF:
		return 4 + 4
	default:
		return 10 + 4
	}
}

// appendClientFrame appends one final, masked client frame. The load side
// builds frames once and then only re-masks the few bytes that change per
// message (see echoFrame.setSeq), so masking costs nothing on the hot path.
func appendClientFrame(dst []byte, op byte, payload []byte, mask [4]byte) []byte {
	n := len(payload)
	dst = append(dst, 0x80|op)
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, mask[:]...)
	for i, b := range payload {
		dst = append(dst, b^mask[i&3])
	}
	return dst
}

// closeFrame builds a masked close frame carrying code.
func closeFrame(code uint16, mask [4]byte) []byte {
	var p [2]byte
	binary.BigEndian.PutUint16(p[:], code)
	return appendClientFrame(make([]byte, 0, 8), opClose, p[:], mask)
}

// frameReader decodes server frames from arbitrary chunks of the byte stream
// without copying data payloads: it hands back sub-slices of the caller's
// buffer. Only control-frame payloads (≤125 bytes) are gathered in ctrl.
type frameReader struct {
	hdr     [14]byte
	hdrN    int
	hdrNeed int // header bytes needed once the first two are known; 0 = unknown

	inPayload bool
	op        byte
	fin       bool
	remain    uint64 // payload bytes left in the current frame

	msgOp byte // opcode of the data message being received; 0 = between messages

	ctrl  [maxControlPayload]byte
	ctrlN int
}

// readResult says what one call to next found.
type readResult struct {
	n      int    // bytes of b consumed
	data   []byte // data-frame payload bytes (sub-slice of b), possibly empty
	msgEnd bool   // the current data message ended
	msgOp  byte   // opcode (text/binary) of the message data belongs to
	ctrl   byte   // a complete control frame (opClose/opPing/opPong), payload in ctrl[:ctrlN]
}

// next consumes bytes from b up to the end of one frame header, one run of
// payload, or one complete control frame. Call it until all of b is consumed.
func (r *frameReader) next(b []byte) (res readResult, err error) {
	if !r.inPayload {
		n, done, err := r.readHeader(b)
		res.n = n
		if err != nil || !done {
			return res, err
		}
		b = b[n:]
		if r.remain == 0 {
			r.inPayload = false
			return r.finishFrame(res), nil
		}
		if len(b) == 0 {
			return res, nil
		}
	}
	take := uint64(len(b))
	if take > r.remain {
		take = r.remain
	}
	chunk := b[:take]
	r.remain -= take
	res.n += int(take)
	if r.op >= opClose {
		r.ctrlN += copy(r.ctrl[r.ctrlN:], chunk)
	} else {
		res.data = chunk
		res.msgOp = r.msgOp
	}
	if r.remain == 0 {
		r.inPayload = false
		res = r.finishFrame(res)
	}
	return res, nil
}

func (r *frameReader) finishFrame(res readResult) readResult {
	if r.op >= opClose {
		res.ctrl = r.op
		return res
	}
	res.msgOp = r.msgOp
	if r.fin {
		res.msgEnd = true
		r.msgOp = 0
	}
	return res
}

// readHeader gathers and validates one frame header.
func (r *frameReader) readHeader(b []byte) (n int, done bool, err error) {
	for n < len(b) {
		r.hdr[r.hdrN] = b[n]
		r.hdrN++
		n++
		if r.hdrN == 2 {
			need := 2
			switch r.hdr[1] & 0x7F {
			case 126:
				need = 4
			case 127:
				need = 10
			}
			if r.hdr[1]&0x80 != 0 {
				return n, false, errMaskedServerFrame
			}
			r.hdrNeed = need
		}
		if r.hdrNeed != 0 && r.hdrN == r.hdrNeed {
			return n, true, r.parseHeader()
		}
	}
	return n, false, nil
}

func (r *frameReader) parseHeader() error {
	h := r.hdr[:r.hdrN]
	r.hdrN, r.hdrNeed = 0, 0
	if h[0]&0x70 != 0 {
		return errRSV
	}
	r.fin = h[0]&0x80 != 0
	r.op = h[0] & 0x0F
	switch l := h[1] & 0x7F; l {
	case 126:
		r.remain = uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		r.remain = binary.BigEndian.Uint64(h[2:10])
		if r.remain>>63 != 0 {
			return errFrameTooLong
		}
	default:
		r.remain = uint64(l)
	}
	switch r.op {
	case opClose, opPing, opPong:
		if !r.fin || r.remain > maxControlPayload {
			return errBadControl
		}
		r.ctrlN = 0
	case opText, opBinary:
		if r.msgOp != 0 {
			return errNestedMessage
		}
		r.msgOp = r.op
	case opCont:
		if r.msgOp == 0 {
			return errBadContinuation
		}
	default:
		return fmt.Errorf("reserved opcode 0x%x", r.op)
	}
	r.inPayload = true
	return nil
}
