package poll

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pauseOnDrain fills its queue over the high-water mark on its first
// input and pauses reading from Drain, as httpd.lua does when a drain
// starts the next long response.
type pauseOnDrain struct {
	c      *Conn
	got    bytes.Buffer
	drains int
	closed error
	ended  bool
}

func (h *pauseOnDrain) Data(p []byte) {
	first := h.got.Len() == 0
	h.got.Write(p)
	if first {
		for h.c.Write(make([]byte, 16<<10)) {
		}
	}
}

func (h *pauseOnDrain) Drain() { h.drains++; h.c.Pause() }

func (h *pauseOnDrain) Closed(cause error) { h.ended, h.closed = true, cause }

// TestPauseInDrain: a connection paused from Drain in the same round as
// its input became readable stays open with the input held, whether or
// not the peer has half-closed; after Resume the input arrives, and then
// the half-close. (The poller once took such a round for a hang-up.)
func TestPauseInDrain(t *testing.T) {
	runtime.LockOSThread() // Round without Run: one thread (io_uring)
	defer runtime.UnlockOSThread()
	for _, backend := range backends {
		for _, halfClose := range []bool{false, true} {
			l, err := NewLoop(Config{Poller: backend, HighWater: 64 << 10, LowWater: 16 << 10})
			if err != nil {
				t.Fatal(err)
			}
			fds, err := socketPair()
			if err != nil {
				t.Fatal(err)
			}
			peer := fds[1]
			unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 8<<10) // the queue stays over the mark
			h := &pauseOnDrain{}
			if h.c, err = l.NewConn(fds[0], h); err != nil {
				t.Fatal(err)
			}
			round := func() {
				t.Helper()
				if err := l.Round(10); err != nil {
					t.Fatal(err)
				}
			}
			unix.Write(peer, []byte("first"))
			round()
			if h.got.String() != "first" || h.c.Queued() == 0 || !h.c.blocked {
				t.Fatalf("%s: got %q, %d bytes queued", backend, h.got.String(), h.c.Queued())
			}
			// The next request and (maybe) the half-close arrive while the
			// peer reads the response, and the socket buffer grows so the
			// next round writes the whole queue: that round drains the
			// queue and finds input too.
			unix.Write(peer, []byte("second"))
			if halfClose {
				unix.Shutdown(peer, unix.SHUT_WR)
			}
			buf := make([]byte, 64<<10)
			for {
				if n, _ := unix.Read(peer, buf); n <= 0 {
					break
				}
			}
			unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
			round()
			if h.drains != 1 {
				t.Fatalf("%s: %d drains in the round that emptied the queue (%d bytes left)", backend, h.drains, h.c.Queued())
			}
			for range 5 {
				round()
			}
			if h.ended || !h.c.Open() || h.got.String() != "first" {
				t.Fatalf("%s, half-close %v: paused in drain: closed %v (%v), got %q", backend, halfClose, h.ended, h.closed, h.got.String())
			}
			h.c.Resume()
			for deadline := time.Now().Add(5 * time.Second); h.got.String() != "firstsecond" || (halfClose && !h.ended); {
				round()
				if time.Now().After(deadline) {
					t.Fatalf("%s, half-close %v: after resume got %q, closed %v", backend, halfClose, h.got.String(), h.ended)
				}
			}
			if halfClose && h.closed != ErrPeerClosed {
				t.Fatalf("%s: closed with %v, want the peer's half-close", backend, h.closed)
			}
			if !halfClose && h.ended {
				t.Fatalf("%s: closed (%v) without a half-close", backend, h.closed)
			}
			unix.Close(peer)
			l.Close()
		}
	}
}

// TestPauseBeforeFirstRound: input and the peer's half-close already wait
// when the connection is paused, before the loop ever looked at it (a
// backend doing its own receives may have taken them already). Nothing
// reaches the handler while paused; after Resume the input arrives in
// order, then the half-close.
func TestPauseBeforeFirstRound(t *testing.T) { eachBackend(t, testPauseBeforeFirstRound) }

func testPauseBeforeFirstRound(t *testing.T, poller string) {
	runtime.LockOSThread() // Round without Run: one thread (io_uring)
	defer runtime.UnlockOSThread()
	for _, halfClose := range []bool{false, true} {
		l, err := NewLoop(Config{Poller: poller})
		if err != nil {
			t.Fatal(err)
		}
		fds, err := socketPair()
		if err != nil {
			t.Fatal(err)
		}
		peer := fds[1]
		r := newRecorder()
		if r.c, err = l.NewConn(fds[0], r); err != nil {
			t.Fatal(err)
		}
		unix.Write(peer, []byte("early"))
		if halfClose {
			unix.Shutdown(peer, unix.SHUT_WR)
		}
		r.c.Pause()
		for range 5 {
			if err := l.Round(10); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-r.closed:
			t.Fatalf("half-close %v: closed while paused (%v)", halfClose, r.cause)
		default:
		}
		if r.got.Len() != 0 {
			t.Fatalf("half-close %v: got %q while paused", halfClose, r.got.String())
		}
		want := "early"
		if !halfClose {
			unix.Write(peer, []byte(" late"))
			want = "early late"
		}
		r.c.Resume()
		ended := func() bool {
			select {
			case <-r.closed:
				return true
			default:
				return false
			}
		}
		for deadline := time.Now().Add(5 * time.Second); r.got.String() != want || halfClose != ended(); {
			if err := l.Round(10); err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("half-close %v: after resume got %q, closed %v (%v)", halfClose, r.got.String(), ended(), r.cause)
			}
		}
		if halfClose && r.cause != ErrPeerClosed {
			t.Fatalf("closed with %v, want the peer's half-close", r.cause)
		}
		unix.Close(peer)
		l.Close()
	}
}
