package ws

import (
	"bytes"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func msg(op Opcode, payload string) got { return got{Kind: EventMessage, Op: op, Payload: payload} }
func ping(payload string) got           { return got{Kind: EventPing, Op: OpPing, Payload: payload} }
func pong(payload string) got           { return got{Kind: EventPong, Op: OpPong, Payload: payload} }
func closed(code int, reason string) got {
	return got{Kind: EventClose, Op: OpClose, Payload: reason, Code: code}
}

type decodeCase struct {
	name     string
	maxFrame int64
	maxMsg   int64
	rsv1     bool
	in       []byte
	want     []got       // events, including those before an error
	err      *CloseError // nil for a clean stream
}

var decodeCases = []decodeCase{
	// Good streams.
	{name: "empty text", in: frame(fin|0x1, ""), want: []got{msg(OpText, "")}},
	{name: "empty binary", in: frame(fin|0x2, ""), want: []got{msg(OpBinary, "")}},
	{name: "hello", in: frame(fin|0x1, "Hello"), want: []got{msg(OpText, "Hello")}},
	{name: "rfc example bytes", in: []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58},
		want: []got{msg(OpText, "Hello")}},
	{name: "zero key", in: frameKey(fin|0x2, [4]byte{}, "\x00\xff"), want: []got{msg(OpBinary, "\x00\xff")}},
	{name: "125 bytes", in: frame(fin|0x2, strings.Repeat("x", 125)), want: []got{msg(OpBinary, strings.Repeat("x", 125))}},
	{name: "126 bytes", in: frame(fin|0x2, strings.Repeat("y", 126)), want: []got{msg(OpBinary, strings.Repeat("y", 126))}},
	{name: "16-bit length for 5 bytes", in: frameForm(fin|0x1, testKey, 16, "short"), want: []got{msg(OpText, "short")}},
	{name: "64-bit length for 5 bytes", in: frameForm(fin|0x1, testKey, 64, "short"), want: []got{msg(OpText, "short")}},
	{name: "64-bit length for 0 bytes", in: frameForm(fin|0x2, testKey, 64, ""), want: []got{msg(OpBinary, "")}},
	{name: "multi-byte text", in: frame(fin|0x1, "κόσμε 🎉"), want: []got{msg(OpText, "κόσμε 🎉")}},
	{name: "many frames in one buffer",
		in:   cat(frame(fin|0x1, "a"), frame(fin|0x2, "bc"), frame(fin|0x9, "p"), frame(fin|0xA, ""), frame(fin|0x1, "def")),
		want: []got{msg(OpText, "a"), msg(OpBinary, "bc"), ping("p"), pong(""), msg(OpText, "def")}},
	{name: "fragmented text", in: cat(frame(0x1, "Hel"), frame(0x0, "lo, "), frame(finCont, "world")),
		want: []got{msg(OpText, "Hello, world")}},
	{name: "fragmented binary with empty fragments",
		in:   cat(frame(0x2, ""), frame(0x0, "ab"), frame(0x0, ""), frame(finCont, "")),
		want: []got{msg(OpBinary, "ab")}},
	{name: "control frames between fragments",
		in: cat(frame(0x1, "frag"), frame(fin|0x9, "ping"), frame(0x0, "ment"),
			frame(fin|0xA, "pong"), frame(fin|0x8, ""), frame(finCont, "ed")),
		want: []got{ping("ping"), pong("pong"), closed(CloseNoStatus, ""), msg(OpText, "fragmented")}},
	{name: "one-byte fragments split a multi-byte character",
		in:   cat(frame(0x1, "\xce"), frame(0x0, "\xba"), frame(0x0, "\xe2"), frame(0x0, "\x82"), frame(finCont, "\xac")),
		want: []got{msg(OpText, "κ€")}},
	{name: "message after fragmented message",
		in:   cat(frame(0x2, "1"), frame(finCont, "2"), frame(fin|0x1, "3")),
		want: []got{msg(OpBinary, "12"), msg(OpText, "3")}},
	{name: "ping 125", in: frame(fin|0x9, strings.Repeat("p", 125)), want: []got{ping(strings.Repeat("p", 125))}},
	{name: "pong empty", in: frame(fin|0xA, ""), want: []got{pong("")}},
	{name: "close empty", in: frame(fin|0x8, ""), want: []got{closed(CloseNoStatus, "")}},
	{name: "close code only", in: frame(fin|0x8, closePayload(1000, "")), want: []got{closed(1000, "")}},
	{name: "close reason", in: frame(fin|0x8, closePayload(1001, "going away ✓")), want: []got{closed(1001, "going away ✓")}},
	{name: "close 3000", in: frame(fin|0x8, closePayload(3000, "")), want: []got{closed(3000, "")}},
	{name: "close 4999", in: frame(fin|0x8, closePayload(4999, "")), want: []got{closed(4999, "")}},
	{name: "close 1014", in: frame(fin|0x8, closePayload(1014, "")), want: []got{closed(1014, "")}},
	{name: "close 125", in: frame(fin|0x8, closePayload(1000, strings.Repeat("r", 123))),
		want: []got{closed(1000, strings.Repeat("r", 123))}},

	// Header violations.
	{name: "unmasked", in: []byte{0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}, err: ErrUnmasked},
	{name: "unmasked empty", in: []byte{0x82, 0x00}, err: ErrUnmasked},
	{name: "rsv1", in: frame(fin|rsv1|0x1, "x"), err: ErrReservedBits},
	{name: "rsv2", in: frame(fin|rsv2|0x1, "x"), err: ErrReservedBits},
	{name: "rsv3", in: frame(fin|rsv3|0x2, "x"), err: ErrReservedBits},
	{name: "rsv on ping", in: frame(fin|rsv3|0x9, ""), err: ErrReservedBits},
	{name: "rsv after a good frame", in: cat(frame(fin|0x1, "ok"), frame(fin|rsv2|0x1, "x")),
		want: []got{msg(OpText, "ok")}, err: ErrReservedBits},
	{name: "opcode 3", in: frame(fin|0x3, ""), err: ErrBadOpcode},
	{name: "opcode 4", in: frame(fin|0x4, ""), err: ErrBadOpcode},
	{name: "opcode 5", in: frame(fin|0x5, ""), err: ErrBadOpcode},
	{name: "opcode 6", in: frame(fin|0x6, ""), err: ErrBadOpcode},
	{name: "opcode 7", in: frame(fin|0x7, "x"), err: ErrBadOpcode},
	{name: "opcode B", in: frame(fin|0xB, ""), err: ErrBadOpcode},
	{name: "opcode C", in: frame(fin|0xC, ""), err: ErrBadOpcode},
	{name: "opcode D", in: frame(fin|0xD, ""), err: ErrBadOpcode},
	{name: "opcode E", in: frame(fin|0xE, ""), err: ErrBadOpcode},
	{name: "opcode F", in: frame(fin|0xF, "x"), err: ErrBadOpcode},
	{name: "reserved opcode inside message", in: cat(frame(0x1, "a"), frame(fin|0xB, "")), err: ErrBadOpcode},
	{name: "64-bit length with MSB", in: header(fin|0x2, true, 64, 1<<63), err: ErrLengthMSB},
	{name: "64-bit length all ones", in: header(fin|0x2, true, 64, math.MaxUint64), err: ErrLengthMSB},

	// Control frame rules.
	{name: "ping 126", in: frame(fin|0x9, strings.Repeat("p", 126)), err: ErrControlTooLong},
	{name: "ping 16-bit form", in: frameForm(fin|0x9, testKey, 16, "p"), err: ErrControlTooLong},
	{name: "close 64-bit form", in: frameForm(fin|0x8, testKey, 64, ""), err: ErrControlTooLong},
	{name: "ping without fin", in: frame(0x9, "p"), err: ErrFragmentedControl},
	{name: "close without fin", in: frame(0x8, ""), err: ErrFragmentedControl},
	{name: "close one byte", in: frame(fin|0x8, "\x03"), err: ErrBadClosePayload},
	{name: "close code 0", in: frame(fin|0x8, closePayload(0, "")), err: ErrBadCloseCode},
	{name: "close code 999", in: frame(fin|0x8, closePayload(999, "")), err: ErrBadCloseCode},
	{name: "close code 1004", in: frame(fin|0x8, closePayload(1004, "")), err: ErrBadCloseCode},
	{name: "close code 1005", in: frame(fin|0x8, closePayload(1005, "")), err: ErrBadCloseCode},
	{name: "close code 1006", in: frame(fin|0x8, closePayload(1006, "")), err: ErrBadCloseCode},
	{name: "close code 1015", in: frame(fin|0x8, closePayload(1015, "")), err: ErrBadCloseCode},
	{name: "close code 1016", in: frame(fin|0x8, closePayload(1016, "")), err: ErrBadCloseCode},
	{name: "close code 2999", in: frame(fin|0x8, closePayload(2999, "")), err: ErrBadCloseCode},
	{name: "close code 5000", in: frame(fin|0x8, closePayload(5000, "")), err: ErrBadCloseCode},
	{name: "close code 65535", in: frame(fin|0x8, closePayload(65535, "")), err: ErrBadCloseCode},
	{name: "close reason bad utf-8", in: frame(fin|0x8, closePayload(1000, "ok\xff")), err: ErrBadCloseReason},
	{name: "close reason truncated utf-8", in: frame(fin|0x8, closePayload(1000, "\xe2\x82")), err: ErrBadCloseReason},

	// Fragmentation order.
	{name: "continuation first", in: frame(finCont, "x"), err: ErrUnexpectedContinuation},
	{name: "continuation without fin first", in: frame(0x0, "x"), err: ErrUnexpectedContinuation},
	{name: "continuation after complete message", in: cat(frame(fin|0x1, "a"), frame(finCont, "b")),
		want: []got{msg(OpText, "a")}, err: ErrUnexpectedContinuation},
	{name: "text inside text", in: cat(frame(0x1, "a"), frame(fin|0x1, "b")), err: ErrExpectedContinuation},
	{name: "binary inside text", in: cat(frame(0x1, "a"), frame(0x2, "b")), err: ErrExpectedContinuation},
	{name: "text inside binary after ping", in: cat(frame(0x2, "a"), frame(fin|0x9, ""), frame(fin|0x1, "b")),
		want: []got{ping("")}, err: ErrExpectedContinuation},

	// UTF-8.
	{name: "bad utf-8 whole frame", in: frame(fin|0x1, "abc\xffdef"), err: ErrInvalidUTF8},
	{name: "truncated utf-8 at end of frame", in: frame(fin|0x1, "abc\xe2\x82"), err: ErrInvalidUTF8},
	{name: "truncated utf-8 at end of fragments", in: cat(frame(0x1, "abc\xe2"), frame(finCont, "\x82")), err: ErrInvalidUTF8},
	{name: "surrogate", in: frame(fin|0x1, "\xed\xa0\x80"), err: ErrInvalidUTF8},
	{name: "binary is not utf-8 checked", in: frame(fin|0x2, "\xff\xfe"), want: []got{msg(OpBinary, "\xff\xfe")}},

	// Limits.
	{name: "max frame ok", maxFrame: 4, in: frame(fin|0x2, "1234"), want: []got{msg(OpBinary, "1234")}},
	{name: "max frame exceeded", maxFrame: 4, in: frame(fin|0x2, "12345"), err: ErrFrameTooBig},
	{name: "max frame not applied to control", maxFrame: 4, in: frame(fin|0x9, "123456"), want: []got{ping("123456")}},
	{name: "max message ok", maxMsg: 6, in: cat(frame(0x2, "123"), frame(finCont, "456")), want: []got{msg(OpBinary, "123456")}},
	{name: "max message exceeded across fragments", maxMsg: 6, in: cat(frame(0x2, "123"), frame(finCont, "4567")),
		err: ErrMessageTooBig},
	{name: "max message exceeded by one frame", maxMsg: 6, in: frame(fin|0x1, "1234567"), err: ErrMessageTooBig},
	{name: "2^63-1 length over default max message", in: header(fin|0x2, true, 64, 1<<63-1), err: ErrMessageTooBig},
	{name: "2^62 length with 16 MiB max message", maxMsg: 16 << 20, in: header(fin|0x2, true, 64, 1<<62), err: ErrMessageTooBig},
	{name: "2^62 length with max frame", maxFrame: 1 << 20, in: header(fin|0x2, true, 64, 1<<62), err: ErrFrameTooBig},

	// The permessage-deflate hook.
	{name: "rsv1 allowed on text", rsv1: true, in: frame(fin|rsv1|0x1, "\xff"),
		want: []got{{Kind: EventMessage, Op: OpText, Payload: "\xff", Compressed: true}}},
	{name: "rsv1 allowed on first fragment", rsv1: true, in: cat(frame(rsv1|0x2, "a"), frame(finCont, "b")),
		want: []got{{Kind: EventMessage, Op: OpBinary, Payload: "ab", Compressed: true}}},
	{name: "rsv1 refused on continuation", rsv1: true, in: cat(frame(0x2, "a"), frame(finCont|rsv1, "b")), err: ErrReservedBits},
	{name: "rsv1 refused on ping", rsv1: true, in: frame(fin|rsv1|0x9, ""), err: ErrReservedBits},
	{name: "rsv2 refused with rsv1 allowed", rsv1: true, in: frame(fin|rsv2|0x1, ""), err: ErrReservedBits},
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			for how, chunks := range deliveries(tc.in) {
				d := &Decoder{MaxFrame: tc.maxFrame, MaxMessage: tc.maxMsg, AllowRSV1: tc.rsv1}
				evs, _, err := feed(t, d, chunks)
				if err != error(tc.err) && !(err == nil && tc.err == nil) {
					t.Fatalf("%s: error %v, want %v", how, err, tc.err)
				}
				if !reflect.DeepEqual(evs, tc.want) {
					t.Fatalf("%s: events\n got %+v\nwant %+v", how, evs, tc.want)
				}
				if err == nil && d.Buffered() != 0 {
					t.Fatalf("%s: %d bytes still buffered", how, d.Buffered())
				}
			}
		})
	}
}

// TestDecodeErrorCodes pins the close code each failure carries.
func TestDecodeErrorCodes(t *testing.T) {
	codes := map[*CloseError]int{
		ErrUnmasked: 1002, ErrReservedBits: 1002, ErrBadOpcode: 1002, ErrControlTooLong: 1002,
		ErrFragmentedControl: 1002, ErrUnexpectedContinuation: 1002, ErrExpectedContinuation: 1002,
		ErrLengthMSB: 1002, ErrBadCloseCode: 1002, ErrBadClosePayload: 1002,
		ErrInvalidUTF8: 1007, ErrBadCloseReason: 1007, ErrFrameTooBig: 1009, ErrMessageTooBig: 1009,
	}
	for e, code := range codes {
		if e.Code != code {
			t.Errorf("%q: code %d, want %d", e.Reason, e.Code, code)
		}
		if want := "ws: close " + strconv.Itoa(code) + ": " + e.Reason; e.Error() != want {
			t.Errorf("Error() = %q, want %q", e.Error(), want)
		}
	}
}

// TestDecodeLengths covers every length class, delivered whole, one byte at
// a time (up to 64 KiB) and in reads of odd sizes, as text and binary, alone
// and followed by another frame.
func TestDecodeLengths(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20, 16 << 20} {
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = 'a' + byte(i%26)
		}
		for _, op := range []Opcode{OpText, OpBinary} {
			in := cat(frame(fin|byte(op), string(payload)), frame(fin|0x2, "next"))
			ways := map[string][][]byte{"whole": split(in), "4093": chunked(in, 4093), "64k": chunked(in, 64<<10)}
			if size <= 65536 {
				ways["bytewise"] = chunked(in, 1)
			}
			for how, chunks := range ways {
				var d Decoder
				evs, _, err := feed(t, &d, chunks)
				if err != nil {
					t.Fatalf("size %d %v %s: %v", size, op, how, err)
				}
				if len(evs) != 2 || evs[0].Op != op || evs[0].Payload != string(payload) || evs[1].Payload != "next" {
					t.Fatalf("size %d %v %s: wrong events (%d)", size, op, how, len(evs))
				}
			}
		}
	}
}

// TestDecodeZeroCopy checks that a whole unfragmented frame comes back as
// a sub-slice of the input and that split frames do not.
func TestDecodeZeroCopy(t *testing.T) {
	in := frame(fin|0x2, "payload")
	var d Decoder
	_, ev, err := d.Decode(in)
	if err != nil || ev.Kind != EventMessage {
		t.Fatal(ev, err)
	}
	if &ev.Payload[0] != &in[len(in)-len("payload")] {
		t.Error("whole frame payload was copied")
	}
	if d.Buffered() != 0 || d.msg != nil {
		t.Error("fast path touched the message buffer")
	}
}

// TestDecodeBufferRelease checks the keepBuffer policy: a small buffer is
// kept for reuse, a big one released once its message has been delivered.
func TestDecodeBufferRelease(t *testing.T) {
	for _, tc := range []struct {
		size int
		kept bool
	}{{1000, true}, {keepBuffer, true}, {keepBuffer + 1, false}, {1 << 20, false}} {
		var d Decoder
		in := cat(frame(0x2, strings.Repeat("x", tc.size)), frame(finCont, ""))
		evs, _, err := feed(t, &d, split(in))
		if err != nil || len(evs) != 1 || len(evs[0].Payload) != tc.size {
			t.Fatal(tc.size, err, len(evs))
		}
		// The next call recycles the buffer.
		if _, _, err := d.Decode(frame(fin|0x9, "")); err != nil {
			t.Fatal(err)
		}
		if kept := d.msg != nil; kept != tc.kept || len(d.msg) != 0 {
			t.Errorf("size %d: buffer kept=%v len=%d, want kept=%v", tc.size, kept, len(d.msg), tc.kept)
		}
	}
}

// TestDecodeLimitsBufferNothing checks that 1009 is decided from the header
// alone: after a partial first fragment, a too-big next frame header fails
// at once and the payload behind it is never read.
func TestDecodeLimitsBufferNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    Decoder
		hdr  []byte
		want *CloseError
	}{
		{"frame", Decoder{MaxFrame: 100}, header(fin|0x2, true, 16, 101), ErrFrameTooBig},
		{"message", Decoder{MaxMessage: 100}, header(fin|0x2, true, 16, 101), ErrMessageTooBig},
		{"2^62", Decoder{MaxMessage: 16 << 20}, header(fin|0x2, true, 64, 1<<62), ErrMessageTooBig},
		{"default max", Decoder{}, header(fin|0x2, true, 64, DefaultMaxMessage+1), ErrMessageTooBig},
		{"continuation", Decoder{MaxMessage: 100}, cat(frame(0x2, strings.Repeat("a", 60)), header(finCont, true, 7, 41)), ErrMessageTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			// Header only, no payload: the error must come without it.
			_, _, err := feed(t, &d, split(tc.hdr))
			if err != tc.want {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if d.Buffered() != 0 || d.msg != nil {
				t.Fatalf("Buffered() = %d after %v", d.Buffered(), err)
			}
		})
	}
	// Exactly at the limit is fine.
	d := Decoder{MaxMessage: 100}
	evs, _, err := feed(t, &d, split(cat(frame(0x2, strings.Repeat("a", 60)), frame(finCont, strings.Repeat("b", 40)))))
	if err != nil || len(evs) != 1 || len(evs[0].Payload) != 100 {
		t.Fatal(err, evs)
	}
}

// TestDecodeBuffered follows Buffered through a split message.
func TestDecodeBuffered(t *testing.T) {
	var d Decoder
	f := frame(fin|0x2, "0123456789")
	steps := []struct {
		in   []byte
		want int
	}{
		{f[:1], 1},   // partial header
		{f[1:6], 0},  // header complete, no payload
		{f[6:10], 4}, // 4 payload bytes
		{f[10:], 0},  // delivered
	}
	for i, s := range steps {
		n, ev, err := d.Decode(bytes.Clone(s.in))
		if err != nil || n != len(s.in) {
			t.Fatal(i, n, err)
		}
		if got := d.Buffered(); got != s.want {
			t.Errorf("step %d: Buffered() = %d, want %d", i, got, s.want)
		}
		if i == 3 && (ev.Kind != EventMessage || string(ev.Payload) != "0123456789") {
			t.Errorf("step 3: %+v", ev)
		}
	}
	// A control payload split in two is held in the fixed array.
	c := frame(fin|0x9, "abc")
	d.Decode(bytes.Clone(c[:7]))
	if d.Buffered() != 1 {
		t.Errorf("partial ping: Buffered() = %d, want 1", d.Buffered())
	}
	d.Reset()
	if d.Buffered() != 0 {
		t.Errorf("after Reset: Buffered() = %d", d.Buffered())
	}
}

func TestDecodeReset(t *testing.T) {
	d := Decoder{MaxMessage: 10, MaxFrame: 5, AllowRSV1: true}
	if _, _, err := d.Decode(frame(0x9, "")); err != ErrFragmentedControl {
		t.Fatal(err)
	}
	d.Reset()
	if d.MaxMessage != 10 || d.MaxFrame != 5 || !d.AllowRSV1 {
		t.Fatal("Reset dropped the configuration")
	}
	_, ev, err := d.Decode(frame(fin|0x1, "ok"))
	if err != nil || string(ev.Payload) != "ok" {
		t.Fatal(ev, err)
	}
	// Reset in the middle of a message forgets it.
	d.Decode(frame(0x1, "part"))
	d.Reset()
	if _, _, err := d.Decode(frame(finCont, "x")); err != ErrUnexpectedContinuation {
		t.Fatal(err)
	}
}

// utf8Bad lists invalid sequences and the index of the byte where the input
// stops being a prefix of valid UTF-8 (-1: only the end of the message
// shows it, a truncated sequence).
var utf8Bad = []struct {
	seq string
	bad int
}{
	{"\x80", 0}, {"\xbf", 0}, {"\x80\x80", 0}, // lone continuation bytes
	{"\xc0\x80", 0}, {"\xc0\xaf", 0}, {"\xc1\xbf", 0}, // overlong 2-byte
	{"\xe0\x80\xaf", 1}, {"\xe0\x9f\xbf", 1}, // overlong 3-byte
	{"\xf0\x80\x80\xaf", 1}, {"\xf0\x8f\xbf\xbf", 1}, // overlong 4-byte
	{"\xed\xa0\x80", 1}, {"\xed\xad\xbf", 1}, {"\xed\xbf\xbf", 1}, // surrogates
	{"\xed\xa0\x80\xed\xb0\x80", 1},                  // surrogate pair
	{"\xf4\x90\x80\x80", 1}, {"\xf4\xbf\xbf\xbf", 1}, // above U+10FFFF
	{"\xf5\x80\x80\x80", 0}, {"\xf7\xbf\xbf\xbf", 0}, {"\xf8\x88\x80\x80\x80", 0}, {"\xfc\x84\x80\x80\x80\x80", 0},
	{"\xfe", 0}, {"\xff", 0},
	{"\xc2\x41", 1}, {"\xe2\x82\x41", 2}, {"\xf0\x9f\x98\x41", 3}, // cut short by ASCII
	{"\xe2\xc2\xa2", 1},                                                        // cut short by a new lead byte
	{"\xc2", -1}, {"\xe2\x82", -1}, {"\xf0\x9f\x98", -1}, {"\xf4\x8f\xbf", -1}, // truncated at the end
}

// TestDecodeUTF8FailsFast splits invalid text at every position, across
// fragments and across Decode calls, and checks the error comes from the
// Decode call that holds the first invalid byte, and that no message is
// delivered.
func TestDecodeUTF8FailsFast(t *testing.T) {
	const prefix, suffix = "κόσμε", "tail-ascii"
	for _, bc := range utf8Bad {
		payload := prefix + bc.seq
		if bc.bad >= 0 {
			payload += suffix
		}
		for _, fragSize := range []int{1, 2, 3, 7, len(payload)} {
			// Build the message from fragments, remembering where each
			// payload byte lands in the stream.
			var stream []byte
			var pos []int
			for i := 0; i < len(payload); i += fragSize {
				end := min(i+fragSize, len(payload))
				b0 := byte(0x0)
				if i == 0 {
					b0 = 0x1
				}
				if end == len(payload) {
					b0 |= fin
				}
				f := frame(b0, payload[i:end])
				for j := range end - i {
					pos = append(pos, len(stream)+len(f)-(end-i)+j)
				}
				stream = append(stream, f...)
			}
			failAt := len(stream) - 1 // truncated: the last byte of the message
			if bc.bad >= 0 {
				failAt = pos[len(prefix)+bc.bad]
			}
			for cut := 0; cut <= len(stream); cut++ {
				var d Decoder
				evs, chunk, err := feed(t, &d, split(stream, cut))
				wantChunk := 0
				if failAt >= cut {
					wantChunk = 1
				}
				if cut == 0 {
					wantChunk = 1
				}
				if err != ErrInvalidUTF8 || chunk != wantChunk || len(evs) != 0 {
					t.Fatalf("%q frag %d cut %d: err %v in chunk %d (want chunk %d), %d events",
						bc.seq, fragSize, cut, err, chunk, wantChunk, len(evs))
				}
			}
			// One byte per Decode call: the error comes exactly with the bad byte.
			var d Decoder
			_, chunk, err := feed(t, &d, chunked(stream, 1))
			if err != ErrInvalidUTF8 || chunk != failAt {
				t.Fatalf("%q frag %d bytewise: err %v at byte %d, want %d", bc.seq, fragSize, err, chunk, failAt)
			}
		}
	}
}

// TestDecodeUTF8Valid checks valid text split into fragments at every
// position, including inside characters.
func TestDecodeUTF8Valid(t *testing.T) {
	for _, s := range []string{"", "a", "κόσμε", "\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\uffff",
		"\U00010000", "\U0010ffff", "😀 mixed ascii and €uro"} {
		for cut := 0; cut <= len(s); cut++ {
			in := cat(frame(0x1, s[:cut]), frame(fin|0x9, "x"), frame(finCont, s[cut:]))
			for how, chunks := range deliveries(in) {
				var d Decoder
				evs, _, err := feed(t, &d, chunks)
				if err != nil || len(evs) != 2 || evs[1].Payload != s {
					t.Fatalf("%q cut %d %s: %v %+v", s, cut, how, err, evs)
				}
			}
		}
	}
}

// TestDecodeEventPayloadReuse checks that a payload stays intact until the
// next call even when the message buffer is reused right after.
func TestDecodeEventPayloadReuse(t *testing.T) {
	var d Decoder
	in := cat(frame(0x2, "first"), frame(finCont, "!"), frame(0x2, "second"), frame(finCont, "?"))
	p := bytes.Clone(in)
	var all []string
	for len(p) > 0 {
		n, ev, err := d.Decode(p)
		if err != nil {
			t.Fatal(err)
		}
		p = p[n:]
		if ev.Kind == EventMessage {
			all = append(all, string(ev.Payload))
		}
	}
	if !reflect.DeepEqual(all, []string{"first!", "second?"}) {
		t.Fatal(all)
	}
}

func TestDecodeAllocs(t *testing.T) {
	// A read buffer full of small masked frames, whole and then in reads
	// that cut frames apart. Binary payloads stay valid whether masked or
	// not, so the same bytes can be decoded again and again.
	var stream []byte
	for i := 0; len(stream) < 4096; i++ {
		stream = append(stream, frame(fin|0x2, strings.Repeat("z", i%40))...)
		if i%5 == 0 {
			stream = append(stream, frame(fin|0x9, "hb")...)
		}
		if i%7 == 0 {
			stream = append(stream, frame(0x2, "frag")...)
			stream = append(stream, frame(finCont, "ment")...)
		}
	}
	var d Decoder
	run := func(read int) func() {
		return func() {
			for off := 0; off < len(stream); off += read {
				p := stream[off:min(off+read, len(stream))]
				for len(p) > 0 {
					n, _, err := d.Decode(p)
					if err != nil {
						panic(err)
					}
					p = p[n:]
				}
			}
		}
	}
	for _, read := range []int{len(stream), 1, 7, 100} {
		run(read)() // warm up: the message buffer grows once
		if a := testing.AllocsPerRun(20, run(read)); a != 0 {
			t.Errorf("reads of %d: %v allocations per stream", read, a)
		}
	}
	// Text with a zero key decodes to the same bytes every time.
	text := frameKey(fin|0x1, [4]byte{}, "κόσμε and some ascii")
	if a := testing.AllocsPerRun(100, func() {
		if _, _, err := d.Decode(text); err != nil {
			panic(err)
		}
	}); a != 0 {
		t.Errorf("text frame: %v allocations", a)
	}
}

func TestValidCloseCode(t *testing.T) {
	valid := map[int]bool{}
	for c := 1000; c <= 1003; c++ {
		valid[c] = true
	}
	for c := 1007; c <= 1014; c++ {
		valid[c] = true
	}
	for c := 3000; c <= 4999; c++ {
		valid[c] = true
	}
	for c := -1; c <= 70000; c++ {
		if ValidCloseCode(c) != valid[c] {
			t.Errorf("ValidCloseCode(%d) = %v", c, !valid[c])
		}
	}
}

func TestOpcode(t *testing.T) {
	for op := range Opcode(16) {
		name := op.String()
		if op.known() == (name == "reserved") {
			t.Errorf("%d: known=%v name=%q", op, op.known(), name)
		}
		if op.IsControl() != (op >= 8) {
			t.Errorf("%d: IsControl wrong", op)
		}
		if op.IsData() != (op == OpText || op == OpBinary) {
			t.Errorf("%d: IsData wrong", op)
		}
	}
}

// TestDecodeManySmallFragmentsLinear: reassembling a message from many
// small fragments must not copy the whole message for each fragment.
func TestDecodeManySmallFragmentsLinear(t *testing.T) {
	const total, frag = 1 << 20, 64
	var stream []byte
	for off := 0; off < total; off += frag {
		op := OpContinuation
		if off == 0 {
			op = OpBinary
		}
		fin := off+frag >= total
		var h [14]byte
		hdr := AppendHeader(h[:0], fin, op, frag)
		hdr[1] |= 0x80 // masked, with a zero key
		stream = append(stream, hdr...)
		stream = append(stream, 0, 0, 0, 0)
		stream = append(stream, make([]byte, frag)...)
	}
	var d Decoder
	allocs := testing.AllocsPerRun(1, func() {
		d.Reset()
		p := append([]byte(nil), stream...)
		for len(p) > 0 {
			n, ev, err := d.Decode(p)
			if err != nil {
				t.Fatal(err)
			}
			p = p[n:]
			if ev.Kind == EventMessage && len(ev.Payload) != total {
				t.Fatalf("message of %d bytes, want %d", len(ev.Payload), total)
			}
		}
	})
	// Doubling from 512 bytes to 1 MiB is about 12 allocations (plus the copy of the stream).
	if allocs > 20 {
		t.Fatalf("%v allocations to reassemble %d fragments: the buffer is not growing geometrically", allocs, total/frag)
	}
}
