package ws

import "encoding/binary"

// DefaultMaxMessage is the message size limit used when
// [Decoder.MaxMessage] is zero.
const DefaultMaxMessage = 16 << 20

// keepBuffer is the largest message buffer a Decoder keeps between
// messages. Small buffers are reused so that frames split across reads cost
// no allocation in the steady state; a buffer that grew past this is
// dropped once its message has been delivered, so a connection that once
// received a big message does not hold that memory while idle.
const keepBuffer = 64 << 10

// maxHeaderSize is the longest client frame header: 2 bytes, a 64-bit
// length and a masking key.
const maxHeaderSize = 2 + 8 + 4

// maxControlPayload is the largest control frame payload (RFC 6455 §5.5).
const maxControlPayload = 125

// Allocator lends byte buffers: Get returns one with len 0 and cap at
// least n; Put takes back one from Get that is no longer used.
type Allocator interface {
	Get(n int) []byte
	Put(b []byte)
}

// spareLender is an Allocator that can also lend a buffer only if it
// has one free: Spare returns nil rather than allocate.
type spareLender interface {
	Spare(n int) []byte
}

// EventKind says what a [Decoder.Decode] call produced.
type EventKind uint8

// Event kinds.
const (
	EventNone    EventKind = iota // more bytes needed
	EventMessage                  // a complete text or binary message
	EventPing                     // a ping frame; the engine answers with a pong
	EventPong                     // a pong frame
	EventClose                    // a close frame; Code holds the status
)

// Event is one thing the peer said.
type Event struct {
	Kind   EventKind
	Opcode Opcode // OpText or OpBinary for EventMessage; the frame opcode for control events
	// Payload is the message, ping or pong payload, or the close reason.
	// It points into the caller's buffer or the Decoder's own, and is valid
	// only until the next Decode call (and, for the caller's buffer, until
	// the caller reuses it). Copy it to keep it.
	Payload []byte
	// Code is, for EventClose, the received status code, or CloseNoStatus
	// when the close frame had no payload.
	Code int
	// Compressed is RSV1 of the message's first frame; it can only be true
	// when AllowRSV1 is set. Such a payload is not UTF-8 checked here: that
	// has to happen after decompression.
	Compressed bool
}

// Decoder turns the byte stream a client sends into events, incrementally,
// whatever the TCP segmentation. It is strict about RFC 6455 §5: the first
// violation returns a *CloseError and the Decoder stays dead.
//
// The zero value is ready to use; set the limits before the first Decode.
type Decoder struct {
	// MaxFrame is the largest frame payload accepted; 0 means no limit
	// besides MaxMessage.
	MaxFrame int64
	// MaxMessage is the largest reassembled message; 0 means
	// DefaultMaxMessage.
	MaxMessage int64
	// AllowRSV1 accepts RSV1 on the first frame of a data message, for a
	// negotiated permessage-deflate (RFC 7692); the Event reports it as
	// Compressed. Decompression is not done here.
	AllowRSV1 bool

	// The message being reassembled, when msgOp != 0 (OpContinuation is 0
	// and never starts a message); its one-byte fields sit here, next to
	// AllowRSV1, so they share its word: an idle connection's size counts.
	msgOp      Opcode
	compressed bool
	delivered  bool // msg was handed out; recycle it on the next call
	utf8       UTF8Validator

	// Buffers, when set, lends the message buffer: it is taken when a
	// message needs one and given back by Release (or Reset), so an idle
	// connection holds none. Nil means plain allocation.
	Buffers Allocator

	err *CloseError // sticky: once set, every call returns it

	hdr    [maxHeaderSize]byte // a header that straddles Decode calls
	hdrLen int

	// The frame whose payload is being read, when inFrame.
	inFrame bool
	fin     bool
	rsv1    bool
	op      Opcode
	key     [4]byte
	keyPos  int   // mask key position of the next payload byte
	remain  int64 // payload bytes still to come

	msg []byte // the message being reassembled (see msgOp)

	ctl    *[maxControlPayload]byte // a control payload that straddles calls (made on first need)
	ctlLen int
}

// Decode consumes bytes from p and returns how many it consumed and at most
// one event. When it returns EventNone without an error it has consumed all
// of p, keeping any partial header, control payload or message inside the
// Decoder. Callers loop:
//
//	for len(p) > 0 {
//		n, ev, err := d.Decode(p)
//		p = p[n:]
//		...
//	}
//
// Decode unmasks payload bytes in place in p. An unfragmented message whose
// payload lies entirely in p is returned as a sub-slice of p without
// copying; only fragmented messages and frames split across calls are
// copied into the Decoder's buffer.
//
// A non-nil err is always a *CloseError (one of the Err* values); n then
// counts the bytes consumed, including those that showed the failure, and
// every later call returns the same error, consuming nothing, until Reset.
func (d *Decoder) Decode(p []byte) (n int, ev Event, err error) {
	if d.err != nil {
		return 0, Event{}, d.err
	}
	if d.delivered {
		d.recycle()
	}
	for {
		fresh := false
		if !d.inFrame {
			if n == len(p) {
				return n, Event{}, nil
			}
			m, e := d.readHeader(p[n:])
			n += m
			if e != nil {
				return n, Event{}, d.fail(e)
			}
			if !d.inFrame {
				return n, Event{}, nil // header incomplete; n == len(p)
			}
			fresh = true
		}
		avail := int64(len(p) - n)

		if d.op.IsControl() {
			if d.ctlLen == 0 && avail >= d.remain {
				// The whole payload is here: unmask it in place.
				pl := p[n : n+int(d.remain)]
				Mask(d.key, 0, pl)
				n += len(pl)
				d.inFrame = false
				return d.control(n, pl)
			}
			c := int(min(avail, d.remain))
			if d.ctl == nil {
				d.ctl = new([maxControlPayload]byte)
			}
			chunk := d.ctl[d.ctlLen : d.ctlLen+c]
			copy(chunk, p[n:])
			d.keyPos = Mask(d.key, d.keyPos, chunk)
			d.ctlLen += c
			d.remain -= int64(c)
			n += c
			if d.remain > 0 {
				return n, Event{}, nil
			}
			pl := d.ctl[:d.ctlLen]
			d.ctlLen = 0
			d.inFrame = false
			return d.control(n, pl)
		}

		if fresh && d.op != OpContinuation {
			if d.fin && avail >= d.remain {
				// Fast path: an unfragmented message entirely in p.
				pl := p[n : n+int(d.remain)]
				Mask(d.key, 0, pl)
				n += len(pl)
				d.inFrame = false
				if d.op == OpText && !d.rsv1 && !ValidUTF8(pl) {
					return n, Event{}, d.fail(ErrInvalidUTF8)
				}
				return n, Event{Kind: EventMessage, Opcode: d.op, Payload: pl, Compressed: d.rsv1}, nil
			}
			d.msgOp = d.op
			d.compressed = d.rsv1
			d.utf8.Reset()
		}

		// Slow path: append what is here to the message buffer.
		c := int(min(avail, d.remain))
		chunk := p[n : n+c]
		d.keyPos = Mask(d.key, d.keyPos, chunk)
		n += c
		d.remain -= int64(c)
		if d.msgOp == OpText && !d.compressed && !d.utf8.Write(chunk) {
			return n, Event{}, d.fail(ErrInvalidUTF8)
		}
		d.grow(c)
		d.msg = append(d.msg, chunk...)
		if d.remain > 0 {
			return n, Event{}, nil // n == len(p)
		}
		d.inFrame = false
		if !d.fin {
			continue
		}
		if d.msgOp == OpText && !d.compressed && !d.utf8.Complete() {
			return n, Event{}, d.fail(ErrInvalidUTF8)
		}
		ev = Event{Kind: EventMessage, Opcode: d.msgOp, Payload: d.msg, Compressed: d.compressed}
		d.msgOp = 0
		d.delivered = true
		return n, ev, nil
	}
}

// readHeader consumes header bytes from p. It sets d.inFrame once the
// header is complete and valid. A header wholly inside p is parsed in place;
// otherwise its bytes collect in d.hdr.
func (d *Decoder) readHeader(p []byte) (int, *CloseError) {
	if d.hdrLen == 0 && len(p) >= 2 {
		if need := headerSize(p[1]); len(p) >= need {
			if e := d.checkStart(p[0], p[1]); e != nil {
				return 2, e
			}
			return need, d.startFrame(p[:need])
		}
	}
	m := 0
	if d.hdrLen < 2 {
		m = copy(d.hdr[d.hdrLen:2], p)
		d.hdrLen += m
		if d.hdrLen < 2 {
			return m, nil
		}
	}
	// Judge the first two bytes as soon as they are here, before waiting
	// for the rest of the header.
	if e := d.checkStart(d.hdr[0], d.hdr[1]); e != nil {
		return m, e
	}
	need := headerSize(d.hdr[1])
	c := copy(d.hdr[d.hdrLen:need], p[m:])
	d.hdrLen += c
	m += c
	if d.hdrLen < need {
		return m, nil
	}
	d.hdrLen = 0
	return m, d.startFrame(d.hdr[:need])
}

// headerSize is the length of a masked frame header given its second byte.
func headerSize(b1 byte) int {
	switch b1 & 0x7F {
	case 126:
		return 2 + 2 + 4
	case 127:
		return 2 + 8 + 4
	}
	return 2 + 4
}

// checkStart validates what the first two header bytes alone decide.
func (d *Decoder) checkStart(b0, b1 byte) *CloseError {
	op := Opcode(b0 & 0x0F)
	if !op.known() {
		return ErrBadOpcode
	}
	if rsv := b0 & 0x70; rsv != 0 {
		// RFC 7692 §6: RSV1 marks a compressed message on its first frame only.
		if !d.AllowRSV1 || rsv != 0x40 || !op.IsData() {
			return ErrReservedBits
		}
	}
	if b1&0x80 == 0 {
		return ErrUnmasked
	}
	if op.IsControl() {
		if b0&0x80 == 0 {
			return ErrFragmentedControl
		}
		if l := b1 & 0x7F; l > maxControlPayload {
			return ErrControlTooLong
		} else if l == 1 && op == OpClose {
			return ErrBadClosePayload
		}
		return nil
	}
	if op == OpContinuation && d.msgOp == 0 {
		return ErrUnexpectedContinuation
	}
	if op != OpContinuation && d.msgOp != 0 {
		return ErrExpectedContinuation
	}
	return nil
}

// startFrame reads the length and key of a complete header h (already
// passed checkStart), applies the size limits and enters the frame.
func (d *Decoder) startFrame(h []byte) *CloseError {
	op := Opcode(h[0] & 0x0F)
	var length int64
	switch l := h[1] & 0x7F; l {
	case 126:
		length = int64(binary.BigEndian.Uint16(h[2:]))
	case 127:
		u := binary.BigEndian.Uint64(h[2:])
		if u>>63 != 0 {
			return ErrLengthMSB
		}
		length = int64(u)
	default:
		length = int64(l)
	}
	if !op.IsControl() {
		// Decided here, before any payload is buffered.
		if d.MaxFrame > 0 && length > d.MaxFrame {
			return ErrFrameTooBig
		}
		maxMsg := d.MaxMessage
		if maxMsg <= 0 {
			maxMsg = DefaultMaxMessage
		}
		if length > maxMsg-int64(len(d.msg)) {
			return ErrMessageTooBig
		}
	}
	d.inFrame = true
	d.fin = h[0]&0x80 != 0
	d.rsv1 = h[0]&0x40 != 0
	d.op = op
	d.remain = length
	copy(d.key[:], h[len(h)-4:])
	d.keyPos = 0
	return nil
}

// control turns a complete, unmasked control payload into an event.
func (d *Decoder) control(n int, pl []byte) (int, Event, error) {
	switch d.op {
	case OpPing:
		return n, Event{Kind: EventPing, Opcode: OpPing, Payload: pl}, nil
	case OpPong:
		return n, Event{Kind: EventPong, Opcode: OpPong, Payload: pl}, nil
	}
	// OpClose; a one-byte payload was refused by checkStart.
	if len(pl) == 0 {
		return n, Event{Kind: EventClose, Opcode: OpClose, Payload: pl, Code: CloseNoStatus}, nil
	}
	code := int(binary.BigEndian.Uint16(pl))
	if !ValidCloseCode(code) {
		return n, Event{}, d.fail(ErrBadCloseCode)
	}
	reason := pl[2:]
	if !ValidUTF8(reason) {
		return n, Event{}, d.fail(ErrBadCloseReason)
	}
	return n, Event{Kind: EventClose, Opcode: OpClose, Payload: reason, Code: code}, nil
}

// grow makes room in the message buffer for c more bytes, d.remain bytes
// of the frame still to come after them. It doubles the buffer where append
// would grow a large one by a quarter at a time, but never past the end of
// the current frame, so a header announcing a big frame cannot make the
// Decoder allocate much ahead of the bytes that actually arrive.
func (d *Decoder) grow(c int) {
	need := len(d.msg) + c
	if need <= cap(d.msg) {
		return
	}
	// Double, so a message of many small fragments is copied O(n) times in
	// all; but never past what can arrive: the end of a final frame, or the
	// message limit while more fragments may follow. A header announcing a
	// huge frame thus allocates only as its bytes come.
	size := max(2*cap(d.msg), need, 512)
	limit := int64(need) + d.remain
	if !d.fin {
		limit = max(limit, d.MaxMessage)
		if d.MaxMessage <= 0 {
			limit = max(limit, DefaultMaxMessage)
		}
	}
	size = int(min(int64(size), limit))
	if d.Buffers == nil {
		buf := make([]byte, len(d.msg), size)
		copy(buf, d.msg)
		d.msg = buf
		return
	}
	var buf []byte
	if sp, ok := d.Buffers.(spareLender); ok && d.fin && int64(size) < limit {
		// A free buffer for the whole frame costs no new memory and saves
		// the copies of growing into it.
		buf = sp.Spare(int(limit))
	}
	if buf == nil {
		buf = d.Buffers.Get(size)
	}
	buf = append(buf, d.msg...)
	if d.msg != nil {
		d.Buffers.Put(d.msg)
	}
	d.msg = buf
}

// fail makes the Decoder dead with e and drops its buffer.
func (d *Decoder) fail(e *CloseError) error {
	d.err = e
	d.drop()
	return e
}

// drop gives the message buffer back, or leaves it to the GC.
func (d *Decoder) drop() {
	if d.Buffers != nil && d.msg != nil {
		d.Buffers.Put(d.msg)
	}
	d.msg = nil
}

// recycle empties the message buffer after its message was delivered.
// Borrowed buffers go back; an own one is kept only if it is small (see
// keepBuffer).
func (d *Decoder) recycle() {
	d.delivered = false
	if d.Buffers != nil || cap(d.msg) > keepBuffer {
		d.drop()
	} else {
		d.msg = d.msg[:0]
	}
}

// Release ends the use of the last message's payload: when it lies in a
// borrowed buffer, the buffer goes back now rather than at the next
// Decode call, so a connection that goes idle holds none. The payload
// must not be used after Release.
func (d *Decoder) Release() {
	if d.delivered {
		d.recycle()
	}
}

// Reset drops all partial state and any error, and releases the message
// buffer. The limits, AllowRSV1 and Buffers are kept.
func (d *Decoder) Reset() {
	d.drop()
	*d = Decoder{MaxFrame: d.MaxFrame, MaxMessage: d.MaxMessage, AllowRSV1: d.AllowRSV1, Buffers: d.Buffers}
}
