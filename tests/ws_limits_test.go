package tests

import (
	"testing"
	"time"
)

// TestWSLimits: --max-message is enforced with 1009 (RFC 6455 §7.4.1)
// from the frame header, before any payload is buffered; a 64-bit length
// with its most significant bit set is a protocol error (§5.2). Epoll only.
func TestWSLimits(t *testing.T) {
	const limit = 65536
	srv := startServer(t, "epoll", "--max-message", "65536", "../scripts/echo.lua")
	addr := srv.Addr

	t.Run("at-limit/single-frame", func(t *testing.T) {
		c := wsDial(t, addr)
		c.echo(wsOpBinary, wsRandom(limit))
		c.closeCleanly()
	})

	t.Run("at-limit/fragmented", func(t *testing.T) {
		c := wsDial(t, addr)
		msg := wsPattern(limit)
		c.send(wsFragments(wsOpText, msg, 10000))
		c.expectFrame(wsOpText, msg)
		c.closeCleanly()
	})

	t.Run("over-limit/single-frame", func(t *testing.T) {
		c := wsDial(t, addr)
		c.send(wsFrame(true, wsOpBinary, wsRandom(limit+1)))
		c.expectClose(1009)
	})

	t.Run("over-limit/single-frame/header-only", func(t *testing.T) {
		// The verdict needs only the header: no payload is sent at all.
		c := wsDial(t, addr)
		c.send(wsFrameWith(true, wsOpBinary, nil, wsFrameOpts{length: wsPtr(uint64(limit + 1))}))
		c.expectClose(1009)
	})

	t.Run("over-limit/fragmented", func(t *testing.T) {
		c := wsDial(t, addr)
		msg := wsPattern(limit + 1)
		c.send(append(wsFrame(false, wsOpText, msg[:32768]), wsFrame(true, wsOpCont, msg[32768:])...))
		c.expectClose(1009)
	})

	t.Run("over-limit/fragmented/one-byte-too-many", func(t *testing.T) {
		c := wsDial(t, addr)
		msg := wsRandom(limit)
		c.send(append(wsFragmentsNonFinal(wsOpBinary, msg, 16384), wsFrame(true, wsOpCont, []byte{0})...))
		c.expectClose(1009)
	})

	t.Run("over-limit/fragmented/header-only", func(t *testing.T) {
		c := wsDial(t, addr)
		c.send(append(wsFrame(false, wsOpText, wsPattern(32768)),
			wsFrameWith(true, wsOpCont, nil, wsFrameOpts{length: wsPtr(uint64(32769))})...))
		c.expectClose(1009)
	})

	t.Run("length-2^62", func(t *testing.T) {
		before := srv.rssKiB()
		c := wsDial(t, addr)
		// The header announces 4 EiB; 256 KiB of it follow, to tempt a
		// server that buffers before it judges.
		c.send(wsFrameWith(true, wsOpBinary, nil, wsFrameOpts{length: wsPtr(uint64(1) << 62)}))
		done := c.sendAsync(make([]byte, 256<<10))
		c.expectClose(1009)
		<-done // may fail: the server is gone
		time.Sleep(50 * time.Millisecond)
		if after := srv.rssKiB(); after-before > 16<<10 {
			t.Fatalf("server RSS grew from %d KiB to %d KiB for a refused 2^62-byte frame", before, after)
		}
	})

	t.Run("length-MSB-set", func(t *testing.T) {
		c := wsDial(t, addr)
		c.send(wsFrameWith(true, wsOpBinary, nil, wsFrameOpts{length: wsPtr(uint64(1)<<63 | 5)}))
		c.expectClose(1002)
	})

	t.Run("still-serving", func(t *testing.T) {
		c := wsDial(t, addr)
		c.echo(wsOpText, []byte("fine"))
		c.closeCleanly()
	})
	srv.stop()
}

// wsFragmentsNonFinal is wsFragments with FIN clear on the last frame too: a
// message that has not ended yet.
func wsFragmentsNonFinal(op byte, msg []byte, size int) []byte {
	var out []byte
	for i := 0; i < len(msg); i += size {
		o := wsOpCont
		if i == 0 {
			o = op
		}
		out = append(out, wsFrame(false, o, msg[i:min(i+size, len(msg))])...)
	}
	return out
}
