package ws

import "encoding/binary"

// Mask XORs p in place with the 4-byte masking key of RFC 6455 §5.3,
// starting at key position offset, and returns the key position for the
// byte after p (offset+len(p) mod 4). Masking and unmasking are the same
// operation. Passing the returned offset back in lets a payload that arrives
// in pieces be unmasked piece by piece.
//
// The key is widened to 64 bits so the bulk of p is done a word at a time;
// binary.LittleEndian loads compile to single unaligned moves on the
// platforms we care about, without unsafe.
func Mask(key [4]byte, offset int, p []byte) int {
	offset &= 3
	if len(p) == 0 {
		return offset
	}
	// Rotate the key so that k[0] applies to p[0].
	k := [4]byte{key[offset], key[(offset+1)&3], key[(offset+2)&3], key[(offset+3)&3]}
	k32 := uint64(binary.LittleEndian.Uint32(k[:]))
	k64 := k32 | k32<<32

	i := 0
	for ; len(p)-i >= 32; i += 32 {
		q := p[i : i+32 : i+32] // one bounds check for the four words
		binary.LittleEndian.PutUint64(q[0:], binary.LittleEndian.Uint64(q[0:])^k64)
		binary.LittleEndian.PutUint64(q[8:], binary.LittleEndian.Uint64(q[8:])^k64)
		binary.LittleEndian.PutUint64(q[16:], binary.LittleEndian.Uint64(q[16:])^k64)
		binary.LittleEndian.PutUint64(q[24:], binary.LittleEndian.Uint64(q[24:])^k64)
	}
	for ; len(p)-i >= 8; i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k64)
	}
	for ; i < len(p); i++ {
		p[i] ^= k[i&3]
	}
	return (offset + len(p)) & 3
}
