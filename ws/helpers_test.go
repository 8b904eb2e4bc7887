package ws

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"testing"
)

// Frames in tests are written with a tiny builder: the first header byte
// spelled with these bits, the payload as a Go string.
const (
	fin  = 0x80
	rsv1 = 0x40
	rsv2 = 0x20
	rsv3 = 0x10

	finCont = fin // the last frame of a fragmented message: FIN, opcode 0
)

// testKey is the masking key of the RFC 6455 §5.7 examples.
var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// frame builds a masked client frame with the minimal length encoding.
func frame(b0 byte, payload string) []byte {
	return frameKey(b0, testKey, payload)
}

func frameKey(b0 byte, key [4]byte, payload string) []byte {
	form := 7
	switch {
	case len(payload) > 0xFFFF:
		form = 64
	case len(payload) > 125:
		form = 16
	}
	return frameForm(b0, key, form, payload)
}

// frameForm builds a masked frame with the length written in form 7, 16 or
// 64 bits (non-minimal encodings are legal).
func frameForm(b0 byte, key [4]byte, form int, payload string) []byte {
	b := header(b0, true, form, uint64(len(payload)))
	copy(b[len(b)-4:], key[:])
	start := len(b)
	b = append(b, payload...)
	Mask(key, 0, b[start:])
	return b
}

// header builds just a frame header; with mask it ends in testKey.
func header(b0 byte, mask bool, form int, length uint64) []byte {
	var m byte
	if mask {
		m = 0x80
	}
	var b []byte
	switch form {
	case 7:
		b = []byte{b0, m | byte(length)}
	case 16:
		b = binary.BigEndian.AppendUint16([]byte{b0, m | 126}, uint16(length))
	case 64:
		b = binary.BigEndian.AppendUint64([]byte{b0, m | 127}, length)
	default:
		panic("bad form")
	}
	if mask {
		b = append(b, testKey[:]...)
	}
	return b
}

// closePayload is a close frame payload: a big-endian code and a reason.
func closePayload(code int, reason string) string {
	return string(binary.BigEndian.AppendUint16(nil, uint16(code))) + reason
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// maskServerFrame turns an unmasked frame (as the encoder writes it) into
// the masked form a client sends, so encoder output can be decoded.
func maskServerFrame(f []byte, key [4]byte) []byte {
	hs := 2
	switch f[1] & 0x7F {
	case 126:
		hs = 4
	case 127:
		hs = 10
	}
	out := append([]byte{}, f[:hs]...)
	out[1] |= 0x80
	out = append(out, key[:]...)
	start := len(out)
	out = append(out, f[hs:]...)
	Mask(key, 0, out[start:])
	return out
}

// got is a copied Event, so it outlives the next Decode call.
type got struct {
	Kind       EventKind
	Op         Opcode
	Payload    string
	Code       int
	Compressed bool
}

func copyEvent(ev Event) got {
	return got{ev.Kind, ev.Opcode, string(ev.Payload), ev.Code, ev.Compressed}
}

// feed runs the caller's loop over chunks, checking the Decode contract on
// every call. It returns the events, the index of the chunk whose Decode
// call returned an error (-1 when none) and the error.
func feed(t testing.TB, d *Decoder, chunks [][]byte) (evs []got, errChunk int, err error) {
	t.Helper()
	for i, c := range chunks {
		p := c
		for len(p) > 0 {
			n, ev, err := d.Decode(p)
			if n < 0 || n > len(p) {
				t.Fatalf("Decode consumed %d of %d bytes", n, len(p))
			}
			if err != nil {
				if _, ok := err.(*CloseError); !ok {
					t.Fatalf("error %T is not a *CloseError", err)
				}
				if ev.Kind != EventNone {
					t.Fatalf("event %v returned with error %v", ev.Kind, err)
				}
				// Dead: the same error again, consuming nothing.
				if n2, _, err2 := d.Decode(p[n:]); err2 != err || n2 != 0 {
					t.Fatalf("after %v, Decode returned (%d, %v)", err, n2, err2)
				}
				return evs, i, err
			}
			if ev.Kind == EventNone {
				if n != len(p) {
					t.Fatalf("EventNone after consuming %d of %d bytes", n, len(p))
				}
			} else {
				if n == 0 {
					t.Fatalf("event %v without consuming a byte", ev.Kind)
				}
				evs = append(evs, copyEvent(ev))
			}
			p = p[n:]
		}
	}
	return evs, -1, nil
}

// split returns copies of b cut at the given offsets (the Decoder unmasks
// in place, so every run needs fresh bytes).
func split(b []byte, at ...int) [][]byte {
	var out [][]byte
	prev := 0
	for _, a := range at {
		out = append(out, bytes.Clone(b[prev:a]))
		prev = a
	}
	return append(out, bytes.Clone(b[prev:]))
}

// chunked cuts a copy of b into pieces of size n.
func chunked(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > n {
		out = append(out, bytes.Clone(b[:n]))
		b = b[n:]
	}
	return append(out, bytes.Clone(b))
}

// deliveries lists the ways a stream is cut into reads for table tests:
// whole, one byte at a time, and (for small inputs) at every split point.
func deliveries(b []byte) map[string][][]byte {
	ds := map[string][][]byte{"whole": split(b)}
	if len(b) <= 1<<17 {
		ds["bytewise"] = chunked(b, 1)
	}
	if len(b) <= 600 {
		for i := 1; i < len(b); i++ {
			ds["split@"+strconv.Itoa(i)] = split(b, i)
		}
		for i := 1; i+3 < len(b); i += 3 {
			ds["split3@"+strconv.Itoa(i)] = split(b, i, i+3)
		}
	}
	return ds
}
