package poll

import (
	"math/bits"
	"time"
)

// Buffers recycles the loop's byte buffers (output queues, WebSocket
// message buffers) in power-of-two size classes, so a steady stream of
// same-sized messages allocates none. What it keeps is bounded per class
// in count and in total bytes, so a burst leaves no lasting memory; what
// it lends is the borrower's until Put. Loop goroutine only.
type Buffers struct {
	free  [numClasses][][]byte
	bytes int  // total capacity held in free
	used  bool // a Get since the last Trim
	// onKeep runs when the first buffer is kept, so the owner can arrange
	// a Trim (the loop: after IdleTrim).
	onKeep func()
}

// IdleTrim is how long kept buffers wait unused before Trim drops them
// (the loop checks every IdleTrim, so between one and two): an idle
// server holds none, and says it went quiet soon after its last send.
const IdleTrim = 500 * time.Millisecond

const (
	// 512 B: a round's small frames for a thousand connections fit the
	// kept buffers, so a busy loop makes no garbage per round.
	minClassShift = 9
	maxClassShift = 22 // 4 MiB: a 1 MiB message plus its frame header fits a class
	numClasses    = maxClassShift - minClassShift + 1

	// MaxKeptBytes bounds the total capacity waiting for reuse.
	MaxKeptBytes = 8 << 20
	// classKeepBytes bounds one class, counted as max(minKeep, this/size).
	classKeepBytes = 1 << 20
	minKeep        = 4
)

// checkBuffers makes Put refuse a buffer it already holds (tests set it).
var checkBuffers bool

// classOf is the smallest class holding n bytes, or -1 above the largest.
func classOf(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	c := bits.Len(uint(n-1)) - minClassShift
	if c >= numClasses {
		return -1
	}
	return c
}

// Get returns an empty buffer with room for at least n bytes: a class
// size, or exactly n above the largest class.
func (b *Buffers) Get(n int) []byte {
	b.used = true
	c := classOf(n)
	if c < 0 {
		return make([]byte, 0, n)
	}
	if k := len(b.free[c]); k > 0 {
		buf := b.free[c][k-1]
		b.free[c][k-1] = nil
		b.free[c] = b.free[c][:k-1]
		b.bytes -= cap(buf)
		return buf
	}
	return make([]byte, 0, 1<<(c+minClassShift))
}

// Spare is Get when a buffer is free, and nil (allocating nothing) when not.
func (b *Buffers) Spare(n int) []byte {
	if c := classOf(n); c < 0 || len(b.free[c]) == 0 {
		return nil
	}
	return b.Get(n)
}

// Put takes back a buffer from Get that nobody uses any more. Buffers of
// other capacities, and any beyond the bounds, are left to the GC.
func (b *Buffers) Put(buf []byte) {
	size := cap(buf)
	c := classOf(size)
	if c < 0 || size != 1<<(c+minClassShift) || b.bytes+size > MaxKeptBytes {
		return
	}
	if len(b.free[c]) >= max(minKeep, classKeepBytes/size) {
		return
	}
	buf = buf[:0]
	if checkBuffers {
		for _, f := range b.free[c] {
			if &f[:1][0] == &buf[:1][0] {
				panic("poll: buffer put twice")
			}
		}
	}
	b.free[c] = append(b.free[c], buf)
	b.bytes += size
	if b.bytes == size && b.onKeep != nil {
		b.onKeep()
	}
}

// Trim drops every kept buffer if none was asked for since the last Trim,
// and reports whether it dropped them.
func (b *Buffers) Trim() (dropped bool) {
	dropped = !b.used && b.bytes > 0
	if dropped {
		b.free = [numClasses][][]byte{}
		b.bytes = 0
	}
	b.used = false
	return dropped
}

// Kept is the total capacity waiting for reuse.
func (b *Buffers) Kept() int { return b.bytes }
