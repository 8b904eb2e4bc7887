package tests

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// Cases modelled on Autobahn|Testsuite sections 12 and 13 (which cannot
// run here: no docker, no PyPI). Section 12 sends many compressed
// messages of one size, for sizes from 16 bytes to 128 KiB, whole or
// auto-fragmented, and expects every echo; section 13 does the same
// under different negotiated parameters, including several offers in one
// header. Here each case streams its messages from one goroutine while
// the test reads and checks the echoes, so many are in flight, as
// Autobahn does.

// wsAutobahnSizes and how many messages each size sends (Autobahn sends
// 1000 of each; fewer here keep the suite to seconds, a race build too).
var wsAutobahnSizes = []struct{ size, count int }{
	{16, 500}, {64, 500}, {256, 300}, {1024, 200}, {4096, 100}, {8192, 50},
	{16384, 20}, {32768, 10}, {65536, 6}, {131072, 4},
}

// wsAutobahnCount scales a count down for race-built runs.
func wsAutobahnCount(n int) int {
	if raceEnabled {
		return max(n/5, 2)
	}
	return n
}

// wsAutobahnPayload returns message i of the given size: JSON-ish text,
// random binary (incompressible) or a repetitive binary pattern.
func wsAutobahnPayload(kind string, size, i int) (byte, []byte) {
	switch kind {
	case "text":
		return wsOpText, wsTextOf(size, uint64(size*7919+i))
	case "random":
		r := rand.New(rand.NewPCG(uint64(size), uint64(i)))
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		return wsOpBinary, b
	default: // "pattern"
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(j%17) ^ byte(i)
		}
		return wsOpBinary, b
	}
}

// wsAutobahnRun streams count messages of size bytes (fragmented into
// frames of at most frag compressed bytes when frag > 0) and checks the
// echoes in order.
func wsAutobahnRun(t *testing.T, c *wsDeflateClient, kind string, size, count, frag int) {
	t.Helper()
	var out []byte
	want := make([][]byte, count)
	ops := make([]byte, count)
	for i := range count {
		ops[i], want[i] = wsAutobahnPayload(kind, size, i)
		if c.ext == "" {
			out = append(out, wsFrame(true, ops[i], want[i])...)
			continue
		}
		out = append(out, wsDeflateFrames(ops[i], c.compress(want[i]), frag)...)
	}
	errc := c.sendAsync(out)
	for i := range count {
		op, got, _ := c.readMessage()
		if op != ops[i] || !bytes.Equal(got, want[i]) {
			t.Fatalf("%s, %d bytes, message %d of %d: echo op %#x, %d bytes, first difference at %d",
				kind, size, i, count, op, len(got), wsFirstDiff(got, want[i]))
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("writing: %v", err)
	}
}

// TestDeflateAutobahn12: payload kinds x sizes, one frame and
// auto-fragmented to 256 bytes, against the default policy (no server
// context takeover) and the takeover policy, with Chromium's offer.
func TestDeflateAutobahn12(t *testing.T) {
	for _, policy := range []struct{ name, opts string }{
		{"default", ""},
		{"server-takeover", "compress_server_context_takeover = true"},
	} {
		t.Run(policy.name, func(t *testing.T) {
			srv := wsStartDeflate(t, "epoll", policy.opts)
			start := time.Now()
			for _, kind := range []string{"text", "random", "pattern"} {
				for _, frag := range []int{0, 256} {
					c := wsDialDeflate(t, srv.Addr, pmd+"; client_max_window_bits")
					for _, s := range wsAutobahnSizes {
						if frag > 0 && s.size < 1024 {
							continue
						}
						wsAutobahnRun(t, c, kind, s.size, wsAutobahnCount(s.count), frag)
					}
					c.closeCleanly()
				}
			}
			t.Logf("%s: done in %s", policy.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestDeflateAutobahn13: the parameter sets of section 13 (the client's
// context takeover on or off, client_max_window_bits, several offers),
// against both server policies. A client limited to fewer than 15 window
// bits compresses each message on its own (Go's compressor always uses a
// 32 KiB window, and a message compressed alone refers to nothing before
// its start, so it fits any window).
func TestDeflateAutobahn13(t *testing.T) {
	offers := []string{
		pmd,
		pmd + "; client_no_context_takeover",
		pmd + "; client_max_window_bits=8",
		pmd + "; client_max_window_bits=15",
		pmd + "; client_no_context_takeover; client_max_window_bits=8",
		pmd + "; client_no_context_takeover; client_max_window_bits=15",
		pmd + "; client_max_window_bits=8, " + pmd + "; client_no_context_takeover, " + pmd,
		pmd + "; server_no_context_takeover; server_max_window_bits=9",
		pmd + "; server_max_window_bits=15",
	}
	for _, policy := range []struct{ name, opts string }{
		{"default", ""},
		{"server-takeover", "compress_server_context_takeover = true"},
	} {
		t.Run(policy.name, func(t *testing.T) {
			srv := wsStartDeflate(t, "epoll", policy.opts)
			for i, offer := range offers {
				t.Run(fmt.Sprint(i), func(t *testing.T) {
					c := wsDialDeflate(t, srv.Addr, offer)
					if c.ext == "" {
						t.Fatalf("offer %q declined", offer)
					}
					if c.clientTakeover && bytes.Contains([]byte(c.ext), []byte("client_max_window_bits=")) &&
						!bytes.Contains([]byte(c.ext), []byte("client_max_window_bits=15")) {
						c.clientTakeover = false // see the function comment
					}
					for _, s := range wsAutobahnSizes[:8] {
						wsAutobahnRun(t, c, "text", s.size, wsAutobahnCount(s.count), 0)
					}
					c.closeCleanly()
				})
			}
		})
	}
}
