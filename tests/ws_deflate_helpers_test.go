package tests

// permessage-deflate (RFC 7692) from the client's side, for the raw test
// client of ws_frames_test.go. Written from the RFC with compress/flate
// only; it shares no code with ws/.

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
)

// wsStartDeflate runs a compressing echo server with the given options.
func wsStartDeflate(t *testing.T, poller, opts string, flags ...string) *server {
	t.Helper()
	path := scriptFrom(t, "", "ws/deflate_echo.lua", opts)
	return startServer(t, poller, append(flags, path)...)
}

// wsDeflateClient is a raw client that negotiated permessage-deflate:
// it compresses what it sends and inflates what it receives, with or
// without context takeover in each direction, as agreed.
type wsDeflateClient struct {
	*wsClient
	ext string // the Sec-WebSocket-Extensions answer ("" none)

	serverTakeover bool   // the server keeps its context: inflate with history
	clientTakeover bool   // we keep ours: one long-lived flate.Writer
	hist           []byte // the last 32 KiB inflated, with serverTakeover

	fw   *flate.Writer
	fbuf bytes.Buffer

	wireIn, plainIn int // compressed bytes received, and what they inflated to
}

// wsDialDeflate connects, offers the extension header value (none when
// ""), and completes the handshake. The answer decides the takeover.
func wsDialDeflate(t *testing.T, addr, offer string) *wsDeflateClient {
	t.Helper()
	c := wsDialTCP(t, addr)
	key := wsKey()
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n"
	if offer != "" {
		req += "Sec-WebSocket-Extensions: " + offer + "\r\n"
	}
	c.send([]byte(req + "\r\n"))
	resp := c.readResponse()
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		t.Fatalf("handshake: status %d", resp.StatusCode)
	}
	exts := resp.Header.Values("Sec-WebSocket-Extensions")
	if len(exts) > 1 {
		t.Fatalf("several Sec-WebSocket-Extensions headers: %q", exts)
	}
	d := &wsDeflateClient{wsClient: c}
	if len(exts) == 1 {
		d.ext = exts[0]
		d.serverTakeover = !strings.Contains(d.ext, "server_no_context_takeover")
		d.clientTakeover = !strings.Contains(d.ext, "client_no_context_takeover")
	}
	var err error
	if d.fw, err = flate.NewWriter(&d.fbuf, 6); err != nil {
		t.Fatal(err)
	}
	return d
}

// compress is RFC 7692 §7.2.1 from the client's side.
func (d *wsDeflateClient) compress(msg []byte) []byte {
	d.fbuf.Reset()
	if !d.clientTakeover {
		d.fw.Reset(&d.fbuf)
	}
	d.fw.Write(msg)
	d.fw.Flush()
	out := d.fbuf.Bytes()
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		panic("flush without sync marker")
	}
	return bytes.Clone(out[:len(out)-4])
}

// inflate is RFC 7692 §7.2.2: append 0x00 0x00 0xff 0xff and inflate,
// with the window of earlier messages when the server takes context over.
func (d *wsDeflateClient) inflate(payload []byte) ([]byte, error) {
	src := io.MultiReader(bytes.NewReader(payload), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}))
	var dict []byte
	if d.serverTakeover {
		dict = d.hist
	}
	out, err := io.ReadAll(flate.NewReaderDict(src, dict))
	if err != nil {
		return nil, err
	}
	if d.serverTakeover {
		d.hist = append(d.hist, out...)
		if len(d.hist) > 32<<10 {
			d.hist = bytes.Clone(d.hist[len(d.hist)-32<<10:])
		}
	}
	return out, nil
}

// sendCompressed sends msg compressed, in frames of at most frag bytes
// of compressed payload (0: one frame), RSV1 on the first only.
func (d *wsDeflateClient) sendCompressed(op byte, msg []byte, frag int) {
	d.t.Helper()
	d.send(wsDeflateFrames(op, d.compress(msg), frag))
}

// wsDeflateFrames frames a compressed payload: RSV1 on the first frame.
func wsDeflateFrames(op byte, payload []byte, frag int) []byte {
	if frag <= 0 || frag >= len(payload) {
		return wsFrameWith(true, op, payload, wsFrameOpts{rsv: 0x40})
	}
	var out []byte
	for first := true; ; first = false {
		n := min(frag, len(payload))
		o, rsv := wsOpCont, byte(0)
		if first {
			o, rsv = op, 0x40
		}
		out = append(out, wsFrameWith(n == len(payload), o, payload[:n], wsFrameOpts{rsv: rsv})...)
		payload = payload[n:]
		if len(payload) == 0 {
			return out
		}
	}
}

// readMessage reads one whole message (a server frame, or several, with
// pings skipped) and inflates it when RSV1 says so.
func (d *wsDeflateClient) readMessage() (op byte, msg []byte, compressed bool) {
	d.t.Helper()
	var payload []byte
	for first := true; ; {
		f := d.readFrame()
		if f.op == wsOpPing || f.op == wsOpPong {
			continue
		}
		if f.op == wsOpClose {
			code, reason := f.closeCode()
			d.t.Fatalf("want a message, got close %d %q", code, reason)
		}
		if first {
			if f.op == wsOpCont {
				d.t.Fatalf("message starts with a continuation: %v", f)
			}
			if f.rsv&^0x40 != 0 || (f.rsv != 0 && d.ext == "") {
				d.t.Fatalf("server frame with reserved bits %#x (extension %q)", f.rsv, d.ext)
			}
			op, compressed = f.op, f.rsv == 0x40
			first = false
		} else if f.rsv != 0 || f.op != wsOpCont {
			d.t.Fatalf("bad continuation frame %v", f)
		}
		payload = append(payload, f.payload...)
		if f.fin {
			break
		}
	}
	if !compressed {
		return op, payload, false
	}
	out, err := d.inflate(payload)
	if err != nil {
		d.t.Fatalf("inflating a %d-byte server message: %v", len(payload), err)
	}
	d.wireIn += len(payload)
	d.plainIn += len(out)
	return op, out, true
}

// expectMessage reads one message and checks it.
func (d *wsDeflateClient) expectMessage(op byte, want []byte, wantCompressed bool) {
	d.t.Helper()
	gotOp, got, compressed := d.readMessage()
	if gotOp != op || !bytes.Equal(got, want) {
		d.t.Fatalf("got op %#x, %d bytes (first difference at %d); want op %#x, %d bytes",
			gotOp, len(got), wsFirstDiff(got, want), op, len(want))
	}
	if compressed != wantCompressed {
		d.t.Fatalf("message of %d bytes: compressed=%v, want %v", len(want), compressed, wantCompressed)
	}
}

// wsChatMessages is a JSON chat workload: n messages of about 100-300 bytes.
func wsChatMessages(n int, seed uint64) [][]byte {
	r := rand.New(rand.NewPCG(seed, 2))
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	words := strings.Fields("hello world the meeting is at noon lunch today anyone deploy done thanks see you later " +
		"ok sure why not build failed again fixed it now review please merged coffee release notes ship")
	out := make([][]byte, n)
	for i := range out {
		var text []byte
		for len(text) < 40+r.IntN(180) {
			text = append(append(text, words[r.IntN(len(words))]...), ' ')
		}
		out[i] = fmt.Appendf(nil, `{"type":"message","id":%d,"room":"general","user":{"name":%q,"id":%d},"ts":%d,"text":%q}`,
			100000+i, users[r.IntN(len(users))], r.IntN(1000), 1700000000000+int64(i)*1234, text)
	}
	return out
}

// wsTextOf returns n bytes of text that compresses about as well as
// prose: words drawn from a small vocabulary.
func wsTextOf(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 5))
	words := strings.Fields("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho " +
		"sigma tau upsilon phi chi psi omega")
	b := make([]byte, 0, n+16)
	for len(b) < n {
		b = append(append(b, words[r.IntN(len(words))]...), ' ')
	}
	return b[:n]
}
