package ws

import (
	"bytes"
	"testing"
)

// maskSlow is the definition: byte i is XORed with key[(offset+i) % 4].
func maskSlow(key [4]byte, offset int, p []byte) {
	for i := range p {
		p[i] ^= key[(offset+i)%4]
	}
}

func TestMask(t *testing.T) {
	key := [4]byte{0x01, 0x23, 0x45, 0xfe}
	for size := range 100 {
		for offset := range 8 {
			src := make([]byte, size)
			for i := range src {
				src[i] = byte(i * 7)
			}
			got, want := bytes.Clone(src), bytes.Clone(src)
			next := Mask(key, offset, got)
			maskSlow(key, offset, want)
			if !bytes.Equal(got, want) {
				t.Fatalf("size %d offset %d: %x, want %x", size, offset, got, want)
			}
			if next != (offset+size)%4 {
				t.Fatalf("size %d offset %d: next offset %d", size, offset, next)
			}
		}
	}
}

// TestMaskPieces unmasks a payload in pieces, as the Decoder does across
// reads, carrying the offset from one piece to the next.
func TestMaskPieces(t *testing.T) {
	key := [4]byte{9, 8, 7, 6}
	payload := bytes.Repeat([]byte("0123456789abcdef"), 20)
	want := bytes.Clone(payload)
	maskSlow(key, 0, want)
	for step := 1; step < 70; step++ {
		got := bytes.Clone(payload)
		off := 0
		for i := 0; i < len(got); i += step {
			off = Mask(key, off, got[i:min(i+step, len(got))])
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("step %d: mismatch", step)
		}
	}
}

func TestMaskRFCExample(t *testing.T) {
	p := []byte{0x7f, 0x9f, 0x4d, 0x51, 0x58}
	Mask([4]byte{0x37, 0xfa, 0x21, 0x3d}, 0, p)
	if string(p) != "Hello" {
		t.Fatalf("%q", p)
	}
}

func TestMaskAllocs(t *testing.T) {
	p := make([]byte, 4096)
	if a := testing.AllocsPerRun(100, func() { Mask(testKey, 3, p) }); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}
