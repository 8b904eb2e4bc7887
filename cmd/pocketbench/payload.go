package main

import "fmt"

// Message payloads are built once per connection. The first seqDigits(size)
// bytes carry the message's sequence number as lowercase hex (ASCII, so text
// frames stay valid UTF-8); the rest is a fixed filler. Only the digits
// change from one message to the next.
const maxSeqDigits = 16

const hexDigits = "0123456789abcdef"

func seqDigits(size int) int { return min(size, maxSeqDigits) }

// fillPayload writes the filler for a connection into p. Binary payloads use
// all byte values so a server that mangles non-ASCII bytes is caught; text
// payloads stay ASCII.
func fillPayload(p []byte, text bool, conn int) {
	for i := range p {
		if text {
			p[i] = 'a' + byte((i+conn)%26)
		} else {
			p[i] = byte(i*31 + conn*7 + 11)
		}
	}
}

// putSeq writes the low len(dst) hex digits of seq into dst, most significant first.
func putSeq(dst []byte, seq uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = hexDigits[seq&0xF]
		seq >>= 4
	}
}

// echoFrame is one pre-built masked frame whose sequence digits are patched
// in place before each send.
type echoFrame struct {
	buf    []byte
	digits []byte // the masked sequence digits inside buf
	mask   [4]byte
}

func newEchoFrame(payload []byte, op byte, mask [4]byte) *echoFrame {
	buf := appendClientFrame(make([]byte, 0, clientHeaderLen(len(payload))+len(payload)), op, payload, mask)
	h := clientHeaderLen(len(payload))
	return &echoFrame{buf: buf, digits: buf[h : h+seqDigits(len(payload))], mask: mask}
}

// setSeq re-masks only the digit bytes: the payload starts at mask offset 0.
func (f *echoFrame) setSeq(seq uint64) {
	for i := len(f.digits) - 1; i >= 0; i-- {
		f.digits[i] = hexDigits[seq&0xF] ^ f.mask[i&3]
		seq >>= 4
	}
}

// echoCheck validates the echoed byte stream against what was sent, chunk
// by chunk, without buffering a whole message.
type echoCheck struct {
	expect []byte // payload of message seq
	seq    uint64 // sequence number of the next echo expected
	off    int    // bytes of the current echo already matched
}

func newEchoCheck(payload []byte) *echoCheck {
	c := &echoCheck{expect: append([]byte(nil), payload...)}
	putSeq(c.expect[:seqDigits(len(payload))], 0)
	return c
}

// data checks the next bytes of the current echo.
func (c *echoCheck) data(p []byte) error {
	if len(p) > len(c.expect)-c.off {
		return fmt.Errorf("echo of message %d is longer than the %d bytes sent", c.seq, len(c.expect))
	}
	want := c.expect[c.off : c.off+len(p)]
	if string(want) != string(p) { // compiles to a memequal, no allocation
		for i := range p {
			if p[i] != want[i] {
				if c.off+i < seqDigits(len(c.expect)) {
					return fmt.Errorf("echo of message %d carries another sequence number (byte %d: got %q, want %q): a message was lost, reordered, duplicated or corrupted", c.seq, c.off+i, p[i], want[i])
				}
				return fmt.Errorf("echo of message %d differs at byte %d: got 0x%02x, want 0x%02x", c.seq, c.off+i, p[i], want[i])
			}
		}
	}
	c.off += len(p)
	return nil
}

// full reports whether the current echo has all its bytes (raw mode).
func (c *echoCheck) full() bool { return c.off == len(c.expect) }

// end closes the current echo and prepares for the next sequence number.
func (c *echoCheck) end() error {
	if c.off != len(c.expect) {
		return fmt.Errorf("echo of message %d is %d bytes, sent %d", c.seq, c.off, len(c.expect))
	}
	c.off = 0
	c.seq++
	putSeq(c.expect[:seqDigits(len(c.expect))], c.seq)
	return nil
}
