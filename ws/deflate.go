package ws

import (
	"bytes"
	"compress/flate"
	"io"
	"sync"
)

// permessage-deflate (RFC 7692 §7.2) on the standard library's
// compress/flate.
//
// Sending: compress the message, flush (a sync flush ends the output with
// an empty stored block, 0x00 0x00 0xff 0xff) and drop those 4 octets;
// the frame gets RSV1. Receiving: append the 4 octets and inflate.
//
// Memory. A flate.Writer is large whatever the level, because its hash
// tables are arrays inside it: about 790 KiB at levels 2-9 and 1.15 MiB
// at level 1 (measured with Go 1.26, see BenchmarkDeflateMemory). A
// flate.Reader is about 40 KiB, most of it the 32 KiB window. So:
//
//   - Without server context takeover a connection holds no compressor.
//     Messages are compressed by writers taken from a pool (one per
//     level, shared by every connection of the process, refilled on
//     demand and emptied by the GC when idle) and put back right after.
//   - With server context takeover the compressor's state is the context,
//     so the connection owns a writer from its first compressed message
//     until it ends (then the writer goes back to the pool).
//   - Inflating never keeps a reader per connection: readers come from a
//     pool and are reset for each message. With client context takeover
//     the connection keeps the last 2^client_max_window_bits bytes it
//     inflated (at most 32 KiB, growing with the traffic) and hands them
//     to the reader as its dictionary, which restores the window exactly
//     as a long-lived reader would have it.

// ErrBadDeflate is the failure for a compressed message that is not valid
// DEFLATE data (RFC 7692 §7.2.2): close 1007.
var ErrBadDeflate = &CloseError{CloseInvalidPayload, "invalid compressed data"}

// Compression levels (compress/flate's).
const (
	// DefaultLevel is used without server context takeover: level 1 is the
	// fastest, and resetting its writer for the next message is cheap
	// (levels 2-9 clear 640 KiB of hash tables on every reset). Each
	// message is compressed alone, where the levels differ little on
	// small messages.
	DefaultLevel = flate.BestSpeed
	// DefaultTakeoverLevel is used with server context takeover. Level
	// 1 only matches within the previous block, so across messages it
	// finds little (2.0 times smaller on a JSON chat workload); level 2
	// searches the whole 32 KiB window with short hash chains (3.6 times)
	// for about the same CPU; level 6 gets 4.3 times for twice the CPU on
	// small messages and 5 to 9 times the CPU on big ones, which a
	// single-threaded loop pays in latency for every connection (see
	// BenchmarkDeflateChat and BenchmarkDeflateBig).
	DefaultTakeoverLevel = 2
)

// deflateTail is what §7.2.2 appends to a compressed payload (0x00 0x00
// 0xff 0xff, completing the empty stored block whose first bits end the
// payload), followed by an empty final stored block, so that inflating
// ends with io.EOF at the message's end rather than
// io.ErrUnexpectedEOF. A message that ended with a final block of its own
// (§7.2.3.4) stops there and the tail is never read.
var deflateTail = [...]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// syncMarker is what a sync flush ends with and §7.2.1 removes.
var syncMarker = []byte{0x00, 0x00, 0xff, 0xff}

// maxWindowBits is the window compress/flate always uses.
const maxWindowBits = 15

// Inflater decompresses the client's messages on one connection. The zero
// value is not ready; use NewInflater.
type Inflater struct {
	maxMessage int64
	takeover   bool
	window     int    // history kept with context takeover
	hist       []byte // the last window bytes inflated, with takeover
}

// NewInflater returns an Inflater for the agreed parameters that refuses
// messages inflating to more than maxMessage bytes (0 means
// DefaultMaxMessage).
func NewInflater(p DeflateParams, maxMessage int64) *Inflater {
	if maxMessage <= 0 {
		maxMessage = DefaultMaxMessage
	}
	bits := p.ClientMaxWindowBits
	if bits < 8 || bits > maxWindowBits {
		bits = maxWindowBits
	}
	return &Inflater{maxMessage: maxMessage, takeover: !p.ClientNoContextTakeover, window: 1 << bits}
}

// Inflate appends the decompressed payload of one message (its frames'
// payloads joined, RSV1 set on the first) to dst and returns the extended
// slice. The output is streamed into dst, which grows to at most
// maxMessage+1 bytes beyond its length: a message that inflates past the
// limit fails with ErrMessageTooBig after costing no more than that, and
// data that is not valid DEFLATE fails with ErrBadDeflate. On error the
// returned slice is dst's prefix of the original length, with whatever
// capacity it grew to. With client context takeover the output becomes
// history for the next message. An empty payload is an empty message.
//
// Inflate is safe for concurrent use by different Inflaters; the flate
// readers come from a pool shared by the process.
func (f *Inflater) Inflate(dst, payload []byte) ([]byte, error) {
	start := len(dst)
	if len(payload) == 0 {
		return dst, nil
	}
	st := inflatePool.Get().(*inflateState)
	st.src = msgSource{p: payload}
	st.fr.(flate.Resetter).Reset(&st.src, f.hist)
	var err error
	for {
		if len(dst) == cap(dst) {
			dst = growOutput(dst, start, f.maxMessage)
		}
		n, rerr := st.fr.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if int64(len(dst)-start) > f.maxMessage {
			err = ErrMessageTooBig
			break
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			err = ErrBadDeflate
			break
		}
	}
	st.src = msgSource{}
	inflatePool.Put(st)
	if err != nil {
		return dst[:start], err
	}
	if f.takeover {
		f.remember(dst[start:])
	}
	return dst, nil
}

// growOutput makes room after dst's end: double the message so far (at
// least 512 bytes), but never more than limit+1 bytes of message, which is
// enough to see that it is too big.
func growOutput(dst []byte, start int, limit int64) []byte {
	used := len(dst) - start
	size := int64(max(2*used, 512))
	if size >= limit {
		size = limit + 1 // not limit and then limit+1 again
	}
	buf := make([]byte, len(dst), start+int(size))
	copy(buf, dst)
	return buf
}

// remember appends m to the history, keeping its last window bytes. The
// buffer grows with the traffic up to the window and is then reused.
func (f *Inflater) remember(m []byte) {
	w := f.window
	if len(m) >= w {
		if cap(f.hist) < w {
			f.hist = make([]byte, 0, w)
		}
		f.hist = append(f.hist[:0], m[len(m)-w:]...)
		return
	}
	if over := len(f.hist) + len(m) - w; over > 0 {
		f.hist = f.hist[:copy(f.hist, f.hist[over:])]
	}
	if need := len(f.hist) + len(m); need > cap(f.hist) {
		h := make([]byte, len(f.hist), min(max(2*cap(f.hist), need, 1024), w))
		copy(h, f.hist)
		f.hist = h
	}
	f.hist = append(f.hist, m...)
}

// Reset forgets the history (the connection ended).
func (f *Inflater) Reset() { f.hist = nil }

// inflateState is a pooled flate reader and the source it reads.
type inflateState struct {
	fr  io.ReadCloser
	src msgSource
}

var inflatePool = sync.Pool{New: func() any {
	st := &inflateState{}
	st.fr = flate.NewReader(&st.src)
	return st
}}

// msgSource reads a payload and then deflateTail. It is an
// io.ByteReader, so flate reads it directly without a bufio.Reader.
type msgSource struct {
	p    []byte
	tail int // bytes of deflateTail already read
}

func (s *msgSource) ReadByte() (byte, error) {
	if len(s.p) > 0 {
		b := s.p[0]
		s.p = s.p[1:]
		return b, nil
	}
	if s.tail < len(deflateTail) {
		b := deflateTail[s.tail]
		s.tail++
		return b, nil
	}
	return 0, io.EOF
}

func (s *msgSource) Read(b []byte) (int, error) {
	if len(s.p) > 0 {
		n := copy(b, s.p)
		s.p = s.p[n:]
		return n, nil
	}
	if s.tail < len(deflateTail) {
		n := copy(b, deflateTail[s.tail:])
		s.tail += n
		return n, nil
	}
	return 0, io.EOF
}

// Deflater compresses the server's messages on one connection. The zero
// value is not ready; use NewDeflater.
type Deflater struct {
	level    int
	minSize  int
	maxSize  int // largest message compressed; 0: no limit
	takeover bool
	st       *deflateState // the connection's own writer, with takeover
}

// NewDeflater returns a Deflater for the agreed parameters. level is a
// compress/flate level 1-9, or 0 for DefaultLevel without server context
// takeover and DefaultTakeoverLevel with it. Messages shorter than
// minSize are left uncompressed.
//
// Server context takeover is used only when the answer allowed it and the
// window is the full 15 bits. With server_max_window_bits=N < 15 only
// messages of at most 2^N bytes are compressed, each on its own (see
// NegotiateDeflate).
func NewDeflater(p DeflateParams, level, minSize int) *Deflater {
	d := &Deflater{minSize: max(minSize, 0)}
	bits := p.ServerMaxWindowBits
	if bits >= 8 && bits < maxWindowBits {
		d.maxSize = 1 << bits
	}
	d.takeover = !p.ServerNoContextTakeover && d.maxSize == 0
	if level < flate.BestSpeed || level > flate.BestCompression {
		level = DefaultLevel
		if d.takeover {
			level = DefaultTakeoverLevel
		}
	}
	d.level = level
	return d
}

// Level is the compression level in use.
func (d *Deflater) Level() int { return d.level }

// Takeover reports whether the Deflater keeps its context across
// messages; such a connection needs its own compression of every message
// (a frame compressed for another connection would desynchronise it).
func (d *Deflater) Takeover() bool { return d.takeover }

// Wants reports whether a message of n bytes is to be compressed: at
// least minSize bytes, and within the window the client allowed.
func (d *Deflater) Wants(n int) bool {
	return n >= d.minSize && (d.maxSize == 0 || n <= d.maxSize)
}

// Frame compresses msg into one final frame of opcode op with RSV1 set,
// built in buf (its contents are replaced, its capacity reused). It
// returns the frame (which may start a few bytes into the buffer) and the
// buffer to reuse. frame is nil when msg is to go out uncompressed: Wants
// says no, or, without context takeover, compressing did not make it
// smaller. With context takeover a compressed message is always sent
// compressed, because the compressor has already taken it into its
// window and the client's window must follow.
func (d *Deflater) Frame(buf []byte, op Opcode, msg []byte) (frame, newBuf []byte) {
	if !d.Wants(len(msg)) {
		return nil, buf
	}
	if !d.takeover {
		return DeflateFrame(buf, op, msg, d.level)
	}
	if d.st == nil {
		d.st = getDeflateState(d.level)
	}
	buf = d.st.compress(reserveHeader(buf), msg)
	return putRSV1Header(buf, op), buf
}

// Release returns the Deflater's compressor, if it holds one, to the pool
// (the connection ended). The Deflater must not be used afterwards.
func (d *Deflater) Release() {
	if d.st != nil {
		deflatePools[d.level].Put(d.st)
		d.st = nil
	}
}

// DeflateFrame compresses msg on its own (no context from earlier
// messages, as with server_no_context_takeover) into one final frame of
// opcode op with RSV1 set, built in buf as [Deflater.Frame] does. frame is
// nil when compressing does not make msg smaller. Such a frame can be
// sent to every connection without server context takeover whose
// Deflater Wants a message of this length, whatever its level: a
// broadcast compresses once per level. level must be 1-9.
func DeflateFrame(buf []byte, op Opcode, msg []byte, level int) (frame, newBuf []byte) {
	st := getDeflateState(level)
	buf = st.compress(reserveHeader(buf), msg)
	deflatePools[level].Put(st)
	if len(buf)-maxServerHeader >= len(msg) {
		return nil, buf
	}
	return putRSV1Header(buf, op), buf
}

// maxServerHeader is the longest unmasked frame header.
const maxServerHeader = 10

// reserveHeader empties buf and leaves room for the longest header.
func reserveHeader(buf []byte) []byte {
	if cap(buf) < maxServerHeader {
		return make([]byte, maxServerHeader, 512)
	}
	return buf[:maxServerHeader]
}

// putRSV1Header writes the header for the payload after the reserved
// room, right-aligned against it, and returns the whole frame.
func putRSV1Header(buf []byte, op Opcode) []byte {
	n := len(buf) - maxServerHeader
	var h [maxServerHeader]byte
	hdr := AppendHeader(h[:0], true, op, n)
	hdr[0] |= 0x40 // RSV1: "Per-Message Compressed"
	at := maxServerHeader - len(hdr)
	copy(buf[at:], hdr)
	return buf[at:]
}

// deflateState is a flate.Writer and the buffer it writes into.
type deflateState struct {
	fw   *flate.Writer
	sink appendSink
}

// appendSink is an io.Writer appending to a slice.
type appendSink struct{ b []byte }

func (s *appendSink) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// deflatePools holds idle writers, by level.
var deflatePools [flate.BestCompression + 1]sync.Pool

func getDeflateState(level int) *deflateState {
	if v := deflatePools[level].Get(); v != nil {
		st := v.(*deflateState)
		st.fw.Reset(&st.sink)
		return st
	}
	st := &deflateState{}
	st.fw, _ = flate.NewWriter(&st.sink, level) // the level was checked
	return st
}

// compress appends msg, compressed and flushed, to dst and removes the
// sync marker (RFC 7692 §7.2.1).
func (st *deflateState) compress(dst, msg []byte) []byte {
	st.sink.b = dst
	st.fw.Write(msg) // writes into a slice: no error
	st.fw.Flush()
	out := st.sink.b
	st.sink.b = nil
	if !bytes.HasSuffix(out, syncMarker) {
		panic("ws: compress/flate's flush did not end with a sync marker")
	}
	return out[:len(out)-len(syncMarker)]
}
