package poll

import (
	"bytes"
	"io"
	"strconv"
	"testing"
	"time"
)

// A loop that never waits (a timer re-armed at zero delay keeps every
// round's timeout at 0) still goes through the Go scheduler every
// YieldEvery, so sysmon never takes it for a runaway goroutine.
func TestRunYieldsWhileBusy(t *testing.T) {
	tl := startLoop(t, Config{})
	busyFor := 20 * YieldEvery
	done := make(chan Stats, 1)
	tl.do(func() {
		start, before := time.Now(), tl.stats
		var spin func()
		spin = func() {
			if time.Since(start) < busyFor {
				tl.AfterFunc(0, spin)
				return
			}
			st := tl.stats
			st.Rounds -= before.Rounds
			st.Yields -= before.Yields
			done <- st
		}
		tl.AfterFunc(0, spin)
	})
	var st Stats
	select {
	case st = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("busy loop did not finish")
	}
	// About 20 expected; the bound is low so that a starved test machine
	// (rounds tens of milliseconds apart) still passes, while a loop that
	// never yields makes 0.
	if st.Yields < 2 {
		t.Errorf("%d yields in %v of busy rounds (%d rounds), want one per %v", st.Yields, busyFor, st.Rounds, YieldEvery)
	}
	if st.Yields > st.Rounds {
		t.Errorf("%d yields in %d rounds: more than one per round", st.Yields, st.Rounds)
	}
}

// An idle loop blocks in its poller: it makes no rounds (and so no
// yields) while nothing happens, and a Post from another goroutine still
// wakes it.
func TestIdleLoopBlocks(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			tl := startLoop(t, Config{Poller: backend})
			var before Stats
			tl.do(func() { before = tl.stats })
			time.Sleep(200 * time.Millisecond)
			var after Stats
			tl.do(func() { after = tl.stats })
			// The two tasks each take a round or two; an idle loop that
			// polled would make thousands in 200 ms.
			if n := after.Rounds - before.Rounds; n > 4 {
				t.Errorf("%d rounds while idle, want at most 4", n)
			}
			if n := after.Yields - before.Yields; n > 4 {
				t.Errorf("%d yields while idle, want at most 4", n)
			}
		})
	}
}

// With YieldBeforeWait every round that found work is followed by a
// yield and a poll that does not block, and the loop still blocks once a
// round finds nothing; without it the loop never yields that way.
func TestYieldBeforeWait(t *testing.T) {
	eachBackend(t, func(t *testing.T, poller string) {
		for _, on := range []bool{false, true} {
			tl := startLoop(t, Config{Poller: poller, YieldBeforeWait: on})
			addr, conns := tl.listen(func() *recorder { r := newRecorder(); r.echo = true; return r })
			c := dial(t, addr)
			<-conns
			var before Stats
			tl.do(func() { before = tl.Stats() })
			const trips = 50
			for i := 0; i < trips; i++ {
				msg := []byte("ping " + strconv.Itoa(i))
				if _, err := c.Write(msg); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("yield %v: echo %d: got %q, %v", on, i, got, err)
				}
			}
			var after Stats
			tl.do(func() { after = tl.Stats() })
			yields, rounds := after.WaitYields-before.WaitYields, after.Rounds-before.Rounds
			if !on && yields != 0 {
				t.Errorf("%d yields before waits without YieldBeforeWait", yields)
			}
			// Each echo's round found a read, so a yield followed it.
			if on && (yields < trips || yields > rounds) {
				t.Errorf("%d yields before waits in %d rounds for %d echoes, want one per echo at least, one per round at most", yields, rounds, trips)
			}
			time.Sleep(200 * time.Millisecond)
			var idle Stats
			tl.do(func() { idle = tl.Stats() })
			if n := idle.Rounds - after.Rounds; n > 4 {
				t.Errorf("yield %v: %d rounds while idle, want at most 4", on, n)
			}
		}
	})
}
