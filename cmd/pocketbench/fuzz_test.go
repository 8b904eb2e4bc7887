package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"pocketlua/ws"
)

// The load generator parses what servers send: frames (frameReader) and
// the handshake response (checkResponse). These fuzz targets hold it to
// the same standard as the server's own parsers. Seeds live in
// testdata/fuzz/<FuzzName>/.

// readerTranscript feeds chunks to a fresh frameReader and describes what
// it reported, up to and including the first error.
func readerTranscript(t *testing.T, chunks [][]byte) string {
	var r frameReader
	var out strings.Builder
	var msg []byte
	for _, b := range chunks {
		for len(b) > 0 {
			res, err := r.next(b)
			if res.n < 0 || res.n > len(b) {
				t.Fatalf("consumed %d of %d bytes", res.n, len(b))
			}
			if err != nil {
				fmt.Fprintf(&out, "error %v;", err)
				return out.String()
			}
			if res.n == 0 {
				t.Fatalf("no progress on %d bytes", len(b))
			}
			if res.data != nil {
				if res.msgOp != opText && res.msgOp != opBinary {
					t.Fatalf("data for message opcode %#x", res.msgOp)
				}
				msg = append(msg, res.data...)
			}
			if res.msgEnd {
				fmt.Fprintf(&out, "msg %#x %q;", res.msgOp, msg)
				msg = msg[:0]
			}
			if res.ctrl != 0 {
				if r.ctrlN > maxControlPayload {
					t.Fatalf("control payload of %d bytes", r.ctrlN)
				}
				fmt.Fprintf(&out, "ctrl %#x %q;", res.ctrl, r.ctrl[:r.ctrlN])
			}
			b = b[res.n:]
		}
	}
	fmt.Fprintf(&out, "partial %q", msg)
	return out.String()
}

// FuzzFrameReader: arbitrary server bytes give the same events and the same
// error whether they arrive whole, cut in two, or one byte at a time.
func FuzzFrameReader(f *testing.F) {
	f.Add([]byte("\x81\x05hello"), uint16(3))
	f.Add([]byte("\x01\x02he\x89\x01p\x80\x03llo\x88\x02\x03\xe8"), uint16(5))
	f.Add([]byte("\x82\x7e\x00\x80"+strings.Repeat("z", 128)), uint16(2))
	f.Add([]byte("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x01x"), uint16(9))
	f.Add([]byte("\x81\x85\x01\x02\x03\x04abcde"), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		whole := readerTranscript(t, [][]byte{data})
		c := int(cut) % (len(data) + 1)
		if split := readerTranscript(t, [][]byte{data[:c], data[c:]}); split != whole {
			t.Fatalf("cut at %d: %s\nwhole: %s", c, split, whole)
		}
		if len(data) <= 2048 {
			var bytewise [][]byte
			for i := range data {
				bytewise = append(bytewise, data[i:i+1])
			}
			if got := readerTranscript(t, bytewise); got != whole {
				t.Fatalf("bytewise: %s\nwhole: %s", got, whole)
			}
		}
	})
}

// FuzzFrameReaderRoundTrip: a message framed by the server's encoder, in
// fragments with a ping between them, comes back whole.
func FuzzFrameReaderRoundTrip(f *testing.F) {
	f.Add([]byte("hello"), true, uint16(2), uint16(0))
	f.Add(bytes.Repeat([]byte{0xff}, 70000), false, uint16(65535), uint16(7))
	f.Add([]byte{}, false, uint16(0), uint16(1))
	f.Fuzz(func(t *testing.T, payload []byte, text bool, frag uint16, cut uint16) {
		op := ws.OpBinary
		if text {
			op = ws.OpText
		}
		size := int(frag)
		if size == 0 {
			size = len(payload) + 1
		}
		var stream []byte
		pings := 0
		for i, first := 0, true; first || i < len(payload); i, first = i+size, false {
			end := min(i+size, len(payload))
			fop := ws.OpContinuation
			if first {
				fop = op
			}
			stream = ws.AppendFrame(stream, end == len(payload), fop, payload[i:end])
			if end < len(payload) {
				stream = ws.AppendFrame(stream, true, ws.OpPing, []byte("p"))
				pings++
			}
		}
		c := int(cut) % (len(stream) + 1)
		got := readerTranscript(t, [][]byte{stream[:c], stream[c:]})
		want := strings.Repeat(fmt.Sprintf("ctrl %#x %q;", opPing, "p"), pings)
		want += fmt.Sprintf("msg %#x %q;partial %q", byte(op), payload, "")
		if got != want {
			t.Fatalf("got  %.300s\nwant %.300s", got, want)
		}
	})
}

// FuzzCheckResponse: any response head is judged without a panic, and one
// that passes is a 101 with the right accept key.
func FuzzCheckResponse(f *testing.F) {
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), key)
	f.Add([]byte("HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13"), key)
	f.Add([]byte("HTTP/1.1 101\r\nupgrade:WebSocket\r\nconnection: keep-alive, upgrade\r\nsec-websocket-accept:s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), key)
	f.Fuzz(func(t *testing.T, head []byte, key string) {
		if checkResponse(head, key) != nil {
			return
		}
		if !bytes.HasPrefix(head, []byte("HTTP/1.")) || !bytes.Contains(head, []byte(acceptKey(key))) {
			t.Fatalf("accepted %q for key %q", head, key)
		}
	})
}
