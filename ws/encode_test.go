package ws

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendHeader(t *testing.T) {
	for _, tc := range []struct {
		fin    bool
		op     Opcode
		length int
		hex    string
	}{
		{true, OpText, 0, "8100"},
		{true, OpText, 5, "8105"},
		{false, OpBinary, 125, "027d"},
		{true, OpBinary, 126, "827e007e"},
		{true, OpBinary, 65535, "827effff"},
		{true, OpBinary, 65536, "827f0000000000010000"},
		{false, OpContinuation, 1 << 32, "007f0000000100000000"},
		{true, OpPing, 0, "8900"},
		{true, OpPong, 3, "8a03"},
		{true, OpClose, 2, "8802"},
	} {
		got := AppendHeader([]byte("x"), tc.fin, tc.op, tc.length)
		if hex.EncodeToString(got[1:]) != tc.hex || got[0] != 'x' {
			t.Errorf("AppendHeader(%v, %v, %d) = %x, want %s", tc.fin, tc.op, tc.length, got[1:], tc.hex)
		}
		if HeaderSize(tc.length) != len(got)-1 {
			t.Errorf("HeaderSize(%d) = %d, header is %d", tc.length, HeaderSize(tc.length), len(got)-1)
		}
	}
}

func TestAppendFrameRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 65535, 65536, 100000} {
		payload := strings.Repeat("é", size/2) + strings.Repeat("a", size%2)
		f := AppendFrame(nil, true, OpText, []byte(payload))
		if len(f) != HeaderSize(len(payload))+len(payload) {
			t.Fatalf("size %d: frame length %d", size, len(f))
		}
		var d Decoder
		evs, _, err := feed(t, &d, split(maskServerFrame(f, testKey)))
		if err != nil || len(evs) != 1 || evs[0].Payload != payload || evs[0].Op != OpText {
			t.Fatalf("size %d: %v", size, err)
		}
	}
}

func TestAppendClose(t *testing.T) {
	for _, tc := range []struct {
		code   int
		reason string
		hex    string
	}{
		{0, "ignored", "8800"},
		{CloseNoStatus, "ignored", "8800"},
		{CloseNormal, "", "880203e8"},
		{CloseGoingAway, "bye", "880503e9627965"},
		{4000, "é", "88040fa0c3a9"},
	} {
		if got := hex.EncodeToString(AppendClose(nil, tc.code, tc.reason)); got != tc.hex {
			t.Errorf("AppendClose(%d, %q) = %s, want %s", tc.code, tc.reason, got, tc.hex)
		}
	}
	// Long reasons are cut to 123 bytes at a character boundary.
	for _, reason := range []string{
		strings.Repeat("a", 200),
		strings.Repeat("a", 122) + "é" + "tail", // é would straddle byte 123
		strings.Repeat("€", 60),                 // 180 bytes of 3-byte characters
		strings.Repeat("😀", 40),
		strings.Repeat("a", 123),
	} {
		f := AppendClose(nil, CloseNormal, reason)
		pl := f[4:]
		if int(f[1]) != len(f)-2 || len(f)-2 > 125 {
			t.Fatalf("bad length byte %d for %d bytes", f[1], len(f)-2)
		}
		if !utf8.Valid(pl) || !strings.HasPrefix(reason, string(pl)) || len(pl) < 120 {
			t.Fatalf("reason cut to %q", pl)
		}
		var d Decoder
		evs, _, err := feed(t, &d, split(maskServerFrame(f, testKey)))
		if err != nil || len(evs) != 1 || evs[0].Code != CloseNormal || evs[0].Payload != string(pl) {
			t.Fatalf("decoded %v %+v", err, evs)
		}
	}
}

func TestEncodeAllocs(t *testing.T) {
	buf := make([]byte, 0, 1<<17)
	payload := bytes.Repeat([]byte("x"), 70000)
	if a := testing.AllocsPerRun(100, func() {
		b := AppendFrame(buf[:0], true, OpBinary, payload[:32])
		b = AppendFrame(b, true, OpBinary, payload)
		b = AppendHeader(b, true, OpText, 300)
		_ = AppendClose(b, CloseGoingAway, "shutting down")
	}); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}
