package ws

import (
	"encoding/binary"
	"reflect"
	"testing"
	"unicode/utf8"
)

// Seeds live in testdata/fuzz/<FuzzName>/; the f.Add calls keep a few
// basics next to the code.

// FuzzDecoder decodes arbitrary bytes whole, cut in two and one byte at a
// time: the three must agree, and every event must respect the protocol
// and the limits.
func FuzzDecoder(f *testing.F) {
	f.Add(frame(fin|0x1, "Hello"), uint16(3), uint16(0), uint16(0), false)
	f.Add(cat(frame(0x1, "κό"), frame(fin|0x9, "p"), frame(finCont, "σμε")), uint16(9), uint16(0), uint16(0), false)
	f.Add(frame(fin|0x8, closePayload(1000, "bye")), uint16(1), uint16(0), uint16(0), false)
	f.Add(frame(fin|rsv1|0x2, "z"), uint16(2), uint16(0), uint16(0), true)
	f.Fuzz(func(t *testing.T, data []byte, cut uint16, maxFrame uint16, maxMessage uint16, allowRSV1 bool) {
		limit := int(maxMessage)
		if limit == 0 {
			limit = DefaultMaxMessage
		}
		run := func(chunks [][]byte) ([]got, error) {
			d := &Decoder{MaxFrame: int64(maxFrame), MaxMessage: int64(maxMessage), AllowRSV1: allowRSV1}
			evs, _, err := feed(t, d, chunks)
			if b := d.Buffered(); b > limit+maxHeaderSize+maxControlPayload {
				t.Fatalf("Buffered() = %d over the limits", b)
			}
			return evs, err
		}
		evs, err := run(split(data))
		for _, ev := range evs {
			checkEvent(t, ev, limit, allowRSV1)
		}
		c := int(cut) % (len(data) + 1)
		evs2, err2 := run(split(data, c))
		if err2 != err || !reflect.DeepEqual(evs, evs2) {
			t.Fatalf("cut at %d: (%v, %+v), whole: (%v, %+v)", c, err2, evs2, err, evs)
		}
		if len(data) <= 4096 {
			evs3, err3 := run(chunked(data, 1))
			if err3 != err || !reflect.DeepEqual(evs, evs3) {
				t.Fatalf("bytewise: (%v, %+v), whole: (%v, %+v)", err3, evs3, err, evs)
			}
		}
	})
}

func checkEvent(t *testing.T, ev got, limit int, allowRSV1 bool) {
	t.Helper()
	switch ev.Kind {
	case EventMessage:
		if ev.Op != OpText && ev.Op != OpBinary {
			t.Fatalf("message with opcode %v", ev.Op)
		}
		if len(ev.Payload) > limit {
			t.Fatalf("message of %d bytes over the %d limit", len(ev.Payload), limit)
		}
		if ev.Compressed && !allowRSV1 {
			t.Fatal("compressed message without AllowRSV1")
		}
		if ev.Op == OpText && !ev.Compressed && !utf8.ValidString(ev.Payload) {
			t.Fatalf("invalid UTF-8 text delivered: %q", ev.Payload)
		}
	case EventPing, EventPong:
		if len(ev.Payload) > maxControlPayload || (ev.Kind == EventPing) != (ev.Op == OpPing) {
			t.Fatalf("bad control event %+v", ev)
		}
	case EventClose:
		if ev.Code == CloseNoStatus {
			if ev.Payload != "" {
				t.Fatal("reason without a code")
			}
		} else if !ValidCloseCode(ev.Code) || len(ev.Payload) > maxControlPayload-2 || !utf8.ValidString(ev.Payload) {
			t.Fatalf("bad close event %+v", ev)
		}
	default:
		t.Fatalf("event kind %d", ev.Kind)
	}
}

// FuzzDecodeRoundTrip encodes a message with the encoder, cut into
// fragments with pings between them, masks it as a client would, and
// decodes it cut at an arbitrary point.
func FuzzDecodeRoundTrip(f *testing.F) {
	f.Add([]byte("Hello, world"), true, uint8(0), uint32(0x37fa213d), uint16(0), uint8(0))
	f.Add([]byte("κόσμε"), true, uint8(1), uint32(1), uint16(7), uint8(2))
	f.Add([]byte("\xff\xfe\x00"), false, uint8(2), uint32(0), uint16(5), uint8(1))
	f.Add([]byte("abc\xed\xa0\x80def"), true, uint8(3), uint32(99), uint16(20), uint8(0))
	f.Fuzz(func(t *testing.T, payload []byte, text bool, fragSize uint8, keySeed uint32, cut uint16, pingEvery uint8) {
		op := OpBinary
		if text {
			op = OpText
		}
		var key [4]byte
		binary.LittleEndian.PutUint32(key[:], keySeed)
		size := int(fragSize)
		if size == 0 {
			size = len(payload) + 1
		}
		var stream []byte
		var want []got
		for i, first := 0, true; first || i < len(payload); i, first = i+size, false {
			end := min(i+size, len(payload))
			fop := OpContinuation
			if first {
				fop = op
			}
			stream = append(stream, maskServerFrame(AppendFrame(nil, end == len(payload), fop, payload[i:end]), key)...)
			if pingEvery != 0 && (i/size)%int(pingEvery) == 0 && end < len(payload) {
				p := payload[i:min(end, i+maxControlPayload)]
				stream = append(stream, maskServerFrame(AppendFrame(nil, true, OpPing, p), key)...)
				want = append(want, ping(string(p)))
			}
		}
		var wantErr error
		if text && !utf8.Valid(payload) {
			wantErr = ErrInvalidUTF8
		} else {
			want = append(want, msg(op, string(payload)))
		}
		var d Decoder
		evs, _, err := feed(t, &d, split(stream, int(cut)%(len(stream)+1)))
		if err != wantErr {
			t.Fatalf("error %v, want %v", err, wantErr)
		}
		if wantErr != nil {
			// Pings before the first invalid byte still arrive, and no message does.
			for _, ev := range evs {
				if ev.Kind != EventPing {
					t.Fatalf("unexpected %+v", ev)
				}
			}
			return
		}
		if !reflect.DeepEqual(evs, want) {
			t.Fatalf("got %+v\nwant %+v", evs, want)
		}
	})
}

// FuzzUTF8 compares the validator with unicode/utf8.Valid, whole and split,
// and checks that byte-by-byte writes fail exactly at the first byte that
// no valid string can continue.
func FuzzUTF8(f *testing.F) {
	f.Add([]byte("κόσμε"), uint16(3))
	f.Add([]byte("\xed\xa0\x80"), uint16(1))
	f.Add([]byte("12345678\xf4\x90\x80\x80"), uint16(9))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		want := utf8.Valid(data)
		if ValidUTF8(data) != want {
			t.Fatalf("ValidUTF8(%q) = %v", data, !want)
		}
		c := int(cut) % (len(data) + 1)
		var v UTF8Validator
		if got := v.Write(data[:c]) && v.Write(data[c:]) && v.Complete(); got != want {
			t.Fatalf("split at %d: %v, want %v", c, got, want)
		}
		v.Reset()
		first := -1
		for i := range data {
			if !v.Write(data[i : i+1]) {
				first = i
				break
			}
		}
		// validPrefix is monotone, so checking both sides of the failure
		// point pins it.
		if first < 0 {
			if !validPrefix(data) || v.Complete() != want {
				t.Fatalf("%q: accepted every byte, Complete() = %v", data, v.Complete())
			}
		} else if !validPrefix(data[:first]) || validPrefix(data[:first+1]) {
			t.Fatalf("%q: failed at byte %d", data, first)
		}
	})
}
