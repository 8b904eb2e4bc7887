package ws

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// validPrefix is the reference for incremental validation: q is a prefix
// of some valid UTF-8 string. Only a sequence's second byte has a
// restricted range, so trying a few second bytes followed by 0x80s covers
// every completion.
func validPrefix(q []byte) bool {
	for k := 0; k <= 3; k++ {
		for _, b := range []byte{0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF} {
			s := append(append([]byte{}, q...), b, 0x80, 0x80)[:len(q)+k]
			if utf8.Valid(s) {
				return true
			}
		}
	}
	return false
}

// checkUTF8 compares the validator with unicode/utf8 on p: whole, written
// in two parts at every cut, and byte by byte with the verdict after each
// byte matching validPrefix (so it fails on the first bad byte).
func checkUTF8(t testing.TB, p []byte) {
	t.Helper()
	want := utf8.Valid(p)
	if got := ValidUTF8(p); got != want {
		t.Fatalf("ValidUTF8(%q) = %v, want %v", p, got, want)
	}
	for cut := 0; cut <= len(p); cut++ {
		var v UTF8Validator
		got := v.Write(p[:cut]) && v.Write(p[cut:]) && v.Complete()
		if got != want {
			t.Fatalf("split %q|%q = %v, want %v", p[:cut], p[cut:], got, want)
		}
	}
	var v UTF8Validator
	for i := range p {
		ok := v.Write(p[i : i+1])
		if wantOK := validPrefix(p[:i+1]); ok != wantOK {
			t.Fatalf("%q: after byte %d Write = %v, want %v", p, i, ok, wantOK)
		}
		if !ok {
			if v.Write([]byte("a")) || v.Complete() {
				t.Fatal("validator recovered from a rejected byte")
			}
			break
		}
	}
}

func TestUTF8Crafted(t *testing.T) {
	cases := []string{
		"", "a", "hello, world", "κόσμε", "日本語", "🎉🎉", "\x00", "\x7f",
		"\u0080", "\u07ff", "\u0800", "\u0fff", "\u1000", "\ucfff", "\ud000", "\ud7ff",
		"\ue000", "\uefff", "\uf000", "\uffff", "\U00010000", "\U0003ffff", "\U00040000",
		"\U000fffff", "\U00100000", "\U0010ffff",
		"12345678κόσμε12345678", "1234567\xce\xba12345678", "abcdefgh\xff", "abcdefghijklmnop\xc0\x80",
	}
	for _, bc := range utf8Bad {
		cases = append(cases, bc.seq, "abc"+bc.seq, bc.seq+"abc", "κόσμε"+bc.seq+"κόσμε", "12345678"+bc.seq)
	}
	for _, c := range cases {
		checkUTF8(t, []byte(c))
	}
	// Every one- and two-byte input, and three-byte inputs from the
	// interesting bytes.
	for a := range 256 {
		checkUTF8(t, []byte{byte(a)})
		for b := range 256 {
			checkUTF8(t, []byte{byte(a), byte(b)})
		}
	}
	edges := []byte{0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
		0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff}
	for _, a := range edges {
		for _, b := range edges {
			for _, c := range edges {
				checkUTF8(t, []byte{a, b, c})
				for _, d := range edges {
					checkUTF8(t, []byte{a, b, c, d})
				}
			}
		}
	}
}

func TestUTF8Random(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "abcdefgh", "κ", "€", "😀", "\U0010ffff", "\xed\x9f\xbf", "\xee\x80\x80"}
	for range 3000 {
		var p []byte
		n := r.IntN(40)
		for range n {
			switch r.IntN(4) {
			case 0:
				p = append(p, byte(r.IntN(256)))
			default:
				p = append(p, pieces[r.IntN(len(pieces))]...)
			}
		}
		checkUTF8(t, p)
	}
	// Long mostly-valid strings through the 8-byte fast path.
	for range 300 {
		var p []byte
		for len(p) < 300 {
			p = append(p, pieces[r.IntN(len(pieces))]...)
		}
		if r.IntN(2) == 0 {
			p[r.IntN(len(p))] = byte(r.IntN(256))
		}
		checkUTF8(t, p)
	}
}

func TestUTF8ValidatorReset(t *testing.T) {
	var v UTF8Validator
	if v.Write([]byte("\xff")) {
		t.Fatal("accepted 0xff")
	}
	v.Reset()
	if !v.Write([]byte("\xe2\x82")) || v.Complete() {
		t.Fatal("bad state after Reset")
	}
	v.Reset()
	if !v.Complete() {
		t.Fatal("Reset did not clear a partial sequence")
	}
}
