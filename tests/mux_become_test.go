package tests

import (
	"testing"
	"time"
)

// TestBecome: self:become(Class, bytes) keeps the connection and the
// instance's fields, runs the new class's start, replays the bytes through
// its data, and from then on the engine dispatches every event (data,
// closed) to the new class; also from a timer, and for a plain class table.
func TestBecome(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, testdata(t, "mux/become.lua"))

		c := dialRaw(t, srv.Addr)
		c.send("upper\nreplayed ")
		c.expect("upper start, kept yes")
		c.send("then live\n")
		c.expect("REPLAYED THEN LIVE")
		c.Close()
		rawWaitLogs(t, srv, 5*time.Second, 1, "upper closed", `reason="peer closed"`)

		b := dialRaw(t, srv.Addr)
		b.send("bare\nx\n")
		b.expect("bare start")
		b.expect("bare:x")
		b.roundTrip("y", "bare:y")

		l := dialRaw(t, srv.Addr)
		l.send("later\nfrom a timer\n")
		l.expect("upper start, kept yes")
		l.expect("FROM A TIMER")
		l.roundTrip("ok", "OK")
		l.Close()
		rawWaitLogs(t, srv, 5*time.Second, 2, "upper closed")
		if lines := rawLogLines(srv, "first closed"); len(lines) > 0 {
			t.Fatalf("closed went to the old class: %s", lines[0])
		}
		srv.stop()
	})
}
