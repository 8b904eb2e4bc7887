package tests

// A small RFC 6455 client written from the RFC for the conformance suite:
// it builds masked client frames byte by byte (including deliberately
// wrong ones) and reads the server's frames strictly. It shares no code
// with ws/ on purpose.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	binenc "encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Opcodes (RFC 6455 §5.2).
const (
	wsOpCont   byte = 0x0
	wsOpText   byte = 0x1
	wsOpBinary byte = 0x2
	wsOpClose  byte = 0x8
	wsOpPing   byte = 0x9
	wsOpPong   byte = 0xA
)

// wsNoStatus is what a close frame without a payload carries (RFC 6455 §7.1.5).
const wsNoStatus = 1005

// wsIOTimeout bounds every read the suite makes; no case should get near it.
const wsIOTimeout = 10 * time.Second

// wsGUID is the fixed string of RFC 6455 §1.3.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// wsFrameOpts bends a frame away from what a correct client sends.
type wsFrameOpts struct {
	rsv      byte    // RSV1..3 as the bits 0x40, 0x20, 0x10 of the first byte
	unmasked bool    // omit the mask bit and key
	lenForm  int     // 0: minimal length encoding; 126 or 127: force that form
	length   *uint64 // announce this length instead of len(payload)
	key      *[4]byte
}

// wsFrame builds a masked client frame with a random key and minimal length.
func wsFrame(fin bool, op byte, payload []byte) []byte {
	return wsFrameWith(fin, op, payload, wsFrameOpts{})
}

// wsFrameWith builds a client frame as o says.
func wsFrameWith(fin bool, op byte, payload []byte, o wsFrameOpts) []byte {
	b0 := op&0x0F | o.rsv&0x70
	if fin {
		b0 |= 0x80
	}
	n := uint64(len(payload))
	if o.length != nil {
		n = *o.length
	}
	form := o.lenForm
	if form == 0 {
		switch {
		case n < 126:
		case n <= 0xFFFF:
			form = 126
		default:
			form = 127
		}
	}
	var mbit byte = 0x80
	if o.unmasked {
		mbit = 0
	}
	out := make([]byte, 0, 14+len(payload))
	switch form {
	case 126:
		out = append(out, b0, mbit|126)
		out = binenc.BigEndian.AppendUint16(out, uint16(n))
	case 127:
		out = append(out, b0, mbit|127)
		out = binenc.BigEndian.AppendUint64(out, n)
	default:
		out = append(out, b0, mbit|byte(n))
	}
	if o.unmasked {
		return append(out, payload...)
	}
	var key [4]byte
	if o.key != nil {
		key = *o.key
	} else {
		rand.Read(key[:])
	}
	out = append(out, key[:]...)
	start := len(out)
	out = append(out, payload...)
	wsMask(out[start:], key)
	return out
}

// wsMask XORs p with the repeated key (RFC 6455 §5.3). It works a
// word at a time through an aligned []uint64 view: a byte loop over 16 MiB
// costs seconds under -race.
func wsMask(p []byte, key [4]byte) {
	i := 0
	for ; i < len(p) && uintptr(unsafe.Pointer(&p[i]))%8 != 0; i++ {
		p[i] ^= key[i&3]
	}
	if n := (len(p) - i) / 8; n > 0 {
		var kk [8]byte
		for j := range kk {
			kk[j] = key[(i+j)&3]
		}
		k64 := binenc.NativeEndian.Uint64(kk[:])
		words := unsafe.Slice((*uint64)(unsafe.Pointer(&p[i])), n)
		for w := range words {
			words[w] ^= k64
		}
		i += n * 8
	}
	for ; i < len(p); i++ {
		p[i] ^= key[i&3]
	}
}

// wsClosePayload is a close frame body: a 2-byte code and a reason.
func wsClosePayload(code int, reason string) []byte {
	return append(binenc.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// wsCloseFrame builds a masked close frame with a code and reason.
func wsCloseFrame(code int, reason string) []byte {
	return wsFrame(true, wsOpClose, wsClosePayload(code, reason))
}

// wsFragments splits msg into frames of at most size bytes (at least one
// frame, even for an empty msg): op first, then continuations.
func wsFragments(op byte, msg []byte, size int) []byte {
	var out []byte
	first := true
	for {
		n := min(size, len(msg))
		o := wsOpCont
		if first {
			o = op
		}
		out = append(out, wsFrame(n == len(msg), o, msg[:n])...)
		first = false
		msg = msg[n:]
		if len(msg) == 0 {
			return out
		}
	}
}

// wsServerFrame is one frame read from the server.
type wsServerFrame struct {
	fin     bool
	rsv     byte
	op      byte
	payload []byte
}

func (f wsServerFrame) String() string {
	p := f.payload
	more := ""
	if len(p) > 40 {
		p, more = p[:40], fmt.Sprintf("...(%d bytes)", len(f.payload))
	}
	return fmt.Sprintf("{fin=%v rsv=%#x op=%#x payload=%q%s}", f.fin, f.rsv, f.op, p, more)
}

// closeCode parses a close frame payload: the code (wsNoStatus when empty)
// and the reason.
func (f wsServerFrame) closeCode() (int, string) {
	if len(f.payload) < 2 {
		return wsNoStatus, ""
	}
	return int(binenc.BigEndian.Uint16(f.payload)), string(f.payload[2:])
}

// wsClient is one raw TCP connection speaking WebSocket as the suite likes.
type wsClient struct {
	t *testing.T
	net.Conn
	r *bufio.Reader
}

// wsKey is a fresh random Sec-WebSocket-Key.
func wsKey() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// wsAccept computes Sec-WebSocket-Accept as RFC 6455 §4.2.2 says.
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsUpgradeRequest is a valid opening handshake for key.
func wsUpgradeRequest(host, key string) string {
	return "GET /chat HTTP/1.1\r\n" +
		"Host: " + host + "\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"\r\n"
}

// wsDialTCP opens a raw connection with TCP_NODELAY on.
func wsDialTCP(t *testing.T, addr string) *wsClient {
	t.Helper()
	return wsDialTCPWith(t, addr, &net.Dialer{Timeout: wsIOTimeout})
}

// wsDialTCPWith is wsDialTCP with a caller's dialer (say, one that shrinks the
// receive buffer).
func wsDialTCPWith(t *testing.T, addr string, d *net.Dialer) *wsClient {
	t.Helper()
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).SetNoDelay(true)
	t.Cleanup(func() { c.Close() })
	return &wsClient{t: t, Conn: c, r: bufio.NewReaderSize(c, 64<<10)}
}

// wsDial connects and completes a valid handshake; extra bytes (say, a
// first frame) go in the same write as the request.
func wsDial(t *testing.T, addr string, extra ...byte) *wsClient {
	t.Helper()
	return wsHandshake(wsDialTCP(t, addr), addr, extra...)
}

// wsHandshake completes a valid opening handshake on c.
func wsHandshake(c *wsClient, addr string, extra ...byte) *wsClient {
	t := c.t
	t.Helper()
	key := wsKey()
	c.send(append([]byte(wsUpgradeRequest(addr, key)), extra...))
	resp := c.readResponse()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: status %d, want 101", resp.StatusCode)
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), wsAccept(key); got != want {
		t.Fatalf("handshake: Sec-WebSocket-Accept %q, want %q", got, want)
	}
	return c
}

// with returns c reporting to t, for a client made in a parent test and
// used in a subtest.
func (c *wsClient) with(t *testing.T) *wsClient {
	cc := *c
	cc.t = t
	return &cc
}

// readResponse reads one HTTP response head (and its body, if any).
func (c *wsClient) readResponse() *http.Response {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(wsIOTimeout))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		c.t.Fatalf("reading HTTP response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	return resp
}

// send writes b in one write call.
func (c *wsClient) send(b []byte) {
	c.t.Helper()
	c.SetWriteDeadline(time.Now().Add(wsIOTimeout))
	if _, err := c.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// sendBytewise writes b one byte per write call, pausing between writes so
// that each byte tends to travel in its own segment.
func (c *wsClient) sendBytewise(b []byte, pause time.Duration) {
	c.t.Helper()
	for i := range b {
		c.send(b[i : i+1])
		time.Sleep(pause)
	}
}

// sendAsync writes b from a goroutine (for payloads the server echoes
// while we are still writing); the returned channel yields the result.
func (c *wsClient) sendAsync(b []byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		c.SetWriteDeadline(time.Now().Add(4 * wsIOTimeout))
		_, err := c.Write(b)
		done <- err
	}()
	return done
}

// readFrame reads one server frame, failing the test on anything a server
// must not send (a masked frame) or on a timeout.
func (c *wsClient) readFrame() wsServerFrame {
	c.t.Helper()
	f, err := c.tryReadFrame(wsIOTimeout)
	if err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	return f
}

func (c *wsClient) tryReadFrame(timeout time.Duration) (wsServerFrame, error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	var h [2]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return wsServerFrame{}, err
	}
	f := wsServerFrame{fin: h[0]&0x80 != 0, rsv: h[0] & 0x70, op: h[0] & 0x0F}
	if h[1]&0x80 != 0 {
		return f, errors.New("server frame is masked (RFC 6455 §5.1 forbids it)")
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.r, b[:]); err != nil {
			return f, err
		}
		n = uint64(binenc.BigEndian.Uint16(b[:]))
		if n < 126 {
			return f, fmt.Errorf("server used a non-minimal 16-bit length %d", n)
		}
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.r, b[:]); err != nil {
			return f, err
		}
		n = binenc.BigEndian.Uint64(b[:])
		if n <= 0xFFFF || n>>63 != 0 {
			return f, fmt.Errorf("server used a bad 64-bit length %d", n)
		}
	}
	if n > 64<<20 {
		return f, fmt.Errorf("server frame of %d bytes", n)
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(c.r, f.payload); err != nil {
		return f, err
	}
	return f, nil
}

// expectFrame reads one frame and checks it is a final, RSV-clean frame
// with opcode op and the given payload.
func (c *wsClient) expectFrame(op byte, payload []byte) {
	c.t.Helper()
	f := c.readFrame()
	if !f.fin || f.rsv != 0 || f.op != op {
		want := wsServerFrame{fin: true, op: op, payload: payload}
		c.t.Fatalf("got frame %v, want %v", f, want)
	}
	if !bytes.Equal(f.payload, payload) {
		c.t.Fatalf("got %v: its %d bytes differ from the %d expected, first at byte %d",
			f, len(f.payload), len(payload), wsFirstDiff(f.payload, payload))
	}
}

// wsFirstDiff is the index of the first byte where a and b differ.
func wsFirstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// expectClose reads the next frame, checks it is a well-formed close with
// code want (wsNoStatus: an empty close), then checks the server closes TCP.
func (c *wsClient) expectClose(want int) {
	c.t.Helper()
	c.expectCloseFrame(want)
	c.expectEOF()
}

// expectCloseFrame reads the next frame and checks it is a close with code
// want, returning its reason.
func (c *wsClient) expectCloseFrame(want int) string {
	c.t.Helper()
	f, err := c.tryReadFrame(wsIOTimeout)
	if err != nil {
		c.t.Fatalf("want a close frame with code %d, got error %v", want, err)
	}
	if f.op != wsOpClose {
		c.t.Fatalf("want a close frame with code %d, got %v", want, f)
	}
	if !f.fin || f.rsv != 0 {
		c.t.Fatalf("close frame with FIN clear or RSV set: %v", f)
	}
	if len(f.payload) == 1 || len(f.payload) > 125 {
		c.t.Fatalf("close frame payload of %d bytes", len(f.payload))
	}
	code, reason := f.closeCode()
	if code != want {
		c.t.Fatalf("close code %d (reason %q), want %d", code, reason, want)
	}
	if !utf8.ValidString(reason) {
		c.t.Fatalf("close reason is not UTF-8: %q", reason)
	}
	return reason
}

// expectEOF checks the server closes the TCP connection without sending
// anything more, then closes our end as a client would.
func (c *wsClient) expectEOF() {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(wsIOTimeout))
	var b [256]byte
	n, err := c.r.Read(b[:])
	switch {
	case n > 0:
		c.t.Fatalf("want TCP close, got %d more bytes: %q", n, b[:n])
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		c.Close()
	case wsIsTimeout(err):
		c.t.Fatalf("server did not close the TCP connection within %s", wsIOTimeout)
	default:
		c.t.Fatalf("want TCP close, got %v", err)
	}
}

func wsIsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// echo sends one message as a single frame and expects it back.
func (c *wsClient) echo(op byte, payload []byte) {
	c.t.Helper()
	c.send(wsFrame(true, op, payload))
	c.expectFrame(op, payload)
}

// closeCleanly runs the close handshake from the client side.
func (c *wsClient) closeCleanly() {
	c.t.Helper()
	c.send(wsCloseFrame(1000, ""))
	c.expectClose(1000)
}

// wsPattern returns n bytes of printable ASCII (valid text) that vary with
// the position, so that shifted or dropped bytes show.
func wsPattern(n int) []byte {
	if n <= len(wsPatternBlock) {
		return bytes.Clone(wsPatternBlock[:n])
	}
	b := bytes.Repeat(wsPatternBlock, n/len(wsPatternBlock)+1)
	return b[:n]
}

// wsPatternBlock is repeated by wsPattern; its length is prime so that it does
// not line up with any power-of-two boundary.
var wsPatternBlock = func() []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	b := make([]byte, 4093)
	for i := range b {
		b[i] = alphabet[(i*7+i/64)%len(alphabet)]
	}
	return b
}()

// wsRandom returns n random bytes (binary payloads).
func wsRandom(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestWSFrameBuilder checks the suite's own frame builder against the
// examples of RFC 6455 §5.7, so a bug there cannot pass for the server's.
func TestWSFrameBuilder(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	got := wsFrameWith(true, wsOpText, []byte("Hello"), wsFrameOpts{key: &key})
	want := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
	if !bytes.Equal(got, want) {
		t.Fatalf("masked Hello = % x, want % x", got, want)
	}
	if got := wsFrameWith(true, wsOpText, []byte("Hello"), wsFrameOpts{unmasked: true}); !bytes.Equal(got,
		[]byte{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}) {
		t.Fatalf("unmasked Hello = % x", got)
	}
	if got := wsFrameWith(true, wsOpBinary, make([]byte, 256), wsFrameOpts{unmasked: true})[:4]; !bytes.Equal(got,
		[]byte{0x82, 0x7E, 0x01, 0x00}) {
		t.Fatalf("256-byte header = % x", got)
	}
	if got := wsFrameWith(true, wsOpBinary, make([]byte, 65536), wsFrameOpts{unmasked: true})[:10]; !bytes.Equal(got,
		[]byte{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}) {
		t.Fatalf("64 KiB header = % x", got)
	}
	if a := wsAccept("dGhlIHNhbXBsZSBub25jZQ=="); a != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("accept key = %q", a)
	}
	if f := wsFragments(wsOpText, []byte("abcde"), 2); len(f) != 3*6+5 || f[0] != 0x01 || f[8] != 0x00 || f[16] != 0x80 {
		t.Fatalf("fragments = % x", f)
	}
	// The word-at-a-time mask agrees with the byte loop of RFC 6455 §5.3
	// at every alignment and length.
	buf := wsRandom(80)
	for off := range 16 {
		for n := range 64 {
			got := bytes.Clone(buf)
			wsMask(got[off:off+n], key)
			want := bytes.Clone(buf)
			for i := range n {
				want[off+i] ^= key[i%4]
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("wsMask at offset %d, length %d differs", off, n)
			}
		}
	}
	if !strings.HasPrefix(wsUpgradeRequest("h", "k"), "GET /chat HTTP/1.1\r\n") {
		t.Fatal("request line")
	}
}

// wsViolation is bytes a client must not send and the close code the server
// must answer them with.
type wsViolation struct {
	name  string
	bytes []byte
	code  int
}
