package tests

import (
	"testing"
	"time"
	"unicode/utf8"
)

// wsValidUTF8 are text payloads a server must accept (RFC 3629 boundaries;
// Autobahn cases 6.2-6.23 in spirit).
var wsValidUTF8 = []struct{ name, s string }{
	{"greek", "κόσμε"},
	{"mixed", "Hello-µ@ßöäüàá-UTF-8!!"},
	{"nul", "\x00"},
	{"U+0080", "\xc2\x80"},
	{"U+07FF", "\xdf\xbf"},
	{"U+0800", "\xe0\xa0\x80"},
	{"U+D7FF", "\xed\x9f\xbf"},
	{"U+E000", "\xee\x80\x80"},
	{"U+FFFD", "\xef\xbf\xbd"},
	{"U+FFFF", "\xef\xbf\xbf"},
	{"U+10000", "\xf0\x90\x80\x80"},
	{"U+1D11E", "\xf0\x9d\x84\x9e"},
	{"U+10FFFF", "\xf4\x8f\xbf\xbf"},
	{"emoji", "pocket 😀 lua 🚀"},
}

// wsInvalidUTF8 are text payloads a server must fail with 1007.
var wsInvalidUTF8 = []struct{ name, s string }{
	{"overlong/2-byte-slash", "\xc0\xaf"},
	{"overlong/2-byte-max", "\xc1\xbf"},
	{"overlong/3-byte-slash", "\xe0\x80\xaf"},
	{"overlong/3-byte-max", "\xe0\x9f\xbf"},
	{"overlong/4-byte-slash", "\xf0\x80\x80\xaf"},
	{"overlong/4-byte-max", "\xf0\x8f\xbf\xbf"},
	{"overlong/nul", "\xc0\x80"},
	{"surrogate/high-first", "\xed\xa0\x80"},
	{"surrogate/high-last", "\xed\xad\xbf"},
	{"surrogate/low-last", "\xed\xbf\xbf"},
	{"surrogate/pair", "\xed\xa0\x80\xed\xb0\x80"},
	{"surrogate/in-text", "κόσμε-\xed\xa0\x80-edited"},
	{"above-U+10FFFF/F4-90", "\xf4\x90\x80\x80"},
	{"above-U+10FFFF/F5", "\xf5\x80\x80\x80"},
	{"above-U+10FFFF/F7", "\xf7\xbf\xbf\xbf"},
	{"above-U+10FFFF/5-byte", "\xf8\x88\x80\x80\x80"},
	{"byte-FE", "\xfe"},
	{"byte-FF", "\xff"},
	{"truncated/2-byte-at-end", "κόσμ\xce"},
	{"truncated/3-byte-at-end", "abc\xe2\x82"},
	{"truncated/4-byte-at-end", "abc\xf0\x9f\x98"},
	{"truncated/lead-then-ascii", "\xc2A"},
	{"lone-continuation/80", "\x80"},
	{"lone-continuation/BF", "\xbf"},
	{"lone-continuation/in-text", "a\x80b"},
	{"lone-continuation/after-char", "κ\xbaz"},
}

// wsSplitText is valid text with characters of every width, for splitting
// at every byte position.
const wsSplitText = "Hello-µ@ßöäüàá-UTF-8!! κόσμε 𝄞 \U0010FFFF end"

// TestWSUTF8: text messages are validated as UTF-8 (RFC 6455 §8.1;
// Autobahn case 6), however they are split; an invalid byte fails the
// connection with 1007 as soon as it arrives. Both pollers.
func TestWSUTF8(t *testing.T) {
	for _, v := range wsInvalidUTF8 {
		if utf8.ValidString(v.s) {
			t.Fatalf("test data: %s is valid UTF-8", v.name)
		}
	}
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "../scripts/echo.lua")
		addr := srv.Addr

		t.Run("valid", func(t *testing.T) {
			c := wsDial(t, addr)
			for _, v := range wsValidUTF8 {
				c.echo(wsOpText, []byte(v.s))
				c.send(wsFragments(wsOpText, []byte(v.s), 1))
				c.expectFrame(wsOpText, []byte(v.s))
			}
			c.closeCleanly()
		})

		t.Run("character-split-around-a-ping", func(t *testing.T) {
			// The validator's state survives a control frame between
			// the two halves of a character.
			c := wsDial(t, addr)
			var b []byte
			b = append(b, wsFrame(false, wsOpText, []byte("a\xce"))...)
			b = append(b, wsFrame(true, wsOpPing, []byte("mid-character"))...)
			b = append(b, wsFrame(false, wsOpCont, []byte("\xba\xf0\x9f"))...)
			b = append(b, wsFrame(true, wsOpPong, nil)...)
			b = append(b, wsFrame(true, wsOpCont, []byte("\x98\x80z"))...)
			c.send(b)
			c.expectFrame(wsOpPong, []byte("mid-character"))
			c.expectFrame(wsOpText, []byte("aκ😀z"))
			c.closeCleanly()
		})

		t.Run("invalid-bytes-in-binary-are-fine", func(t *testing.T) {
			c := wsDial(t, addr)
			for _, v := range wsInvalidUTF8 {
				c.echo(wsOpBinary, []byte(v.s))
			}
			c.closeCleanly()
		})

		for _, v := range wsInvalidUTF8 {
			t.Run("invalid/"+v.name+"/single-frame", func(t *testing.T) {
				c := wsDial(t, addr)
				c.send(wsFrame(true, wsOpText, []byte(v.s)))
				c.expectClose(1007)
			})
			t.Run("invalid/"+v.name+"/1-byte-fragments", func(t *testing.T) {
				c := wsDial(t, addr)
				c.send(wsFragments(wsOpText, []byte(v.s), 1))
				c.expectClose(1007)
			})
		}

		t.Run("split-at-every-byte/fragments", func(t *testing.T) {
			c := wsDial(t, addr)
			msg := []byte(wsSplitText)
			for i := 1; i < len(msg); i++ {
				c.send(append(wsFrame(false, wsOpText, msg[:i]), wsFrame(true, wsOpCont, msg[i:])...))
				c.expectFrame(wsOpText, msg)
			}
			c.send(wsFragments(wsOpText, msg, 1))
			c.expectFrame(wsOpText, msg)
			c.send(wsFragments(wsOpText, msg, 3))
			c.expectFrame(wsOpText, msg)
			c.closeCleanly()
		})

		t.Run("split-at-every-byte/tcp-writes", func(t *testing.T) {
			c := wsDial(t, addr)
			msg := []byte(wsSplitText)
			for i := 1; i < len(msg); i++ {
				f := wsFrame(true, wsOpText, msg)
				cut := len(f) - len(msg) + i // inside the payload
				c.send(f[:cut])
				time.Sleep(time.Millisecond)
				c.send(f[cut:])
				c.expectFrame(wsOpText, msg)
			}
			c.closeCleanly()
		})

		// Fail fast (Autobahn 6.4.x): the invalid byte is judged when it
		// arrives, not when the message ends. Only the first part is
		// sent; the close must come anyway.
		failFast := []struct {
			name  string
			bytes []byte
		}{
			{"first-fragment-of-long-message",
				wsFrame(false, wsOpText, []byte("κόσμε-\xed\xa0\x80-edited"))},
			{"first-fragment-after-1KiB-of-valid-text",
				wsFrame(false, wsOpText, append(wsPattern(1024), 0xff))},
			{"first-bytes-of-a-1MiB-frame",
				wsFrameWith(true, wsOpText, []byte("κόσμε\xf4\x90\x80\x80"), wsFrameOpts{length: wsPtr(uint64(1 << 20))})},
			{"second-fragment-of-unfinished-message",
				append(wsFrame(false, wsOpText, []byte("valid κ")), wsFrame(false, wsOpCont, []byte("\xce\xba\xed\xa0\x80"))...)},
		}
		for _, ff := range failFast {
			t.Run("fail-fast/"+ff.name, func(t *testing.T) {
				c := wsDial(t, addr)
				c.send(ff.bytes)
				f, err := c.tryReadFrame(3 * time.Second)
				if err != nil {
					t.Fatalf("no close after the invalid first part (want 1007 before the rest is sent): %v", err)
				}
				if code, _ := f.closeCode(); f.op != wsOpClose || code != 1007 {
					t.Fatalf("got %v, want close 1007", f)
				}
				c.expectEOF()
			})
		}
		srv.stop()
	})
}

func wsPtr[T any](v T) *T { return &v }
