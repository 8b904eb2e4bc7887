package tests

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestGCReserveAndQuietRelease: the --gc-reserve headroom costs no RSS at
// start, lets garbage pile up under load (fewer collections), and when the
// server goes quiet it hands that memory back to the OS.
func TestGCReserveAndQuietRelease(t *testing.T) {
	srv := startServer(t, "epoll", "--gc-reserve", "256MiB")
	base := srv.rssKiB()
	if base > 64<<10 {
		t.Fatalf("RSS %d KiB at start with a 256 MiB reserve: the headroom costs memory", base)
	}
	// A burst: 8 clients echo 1 MiB messages, 40 MiB each way in all.
	msg := bytes.Repeat([]byte("m"), 1<<20)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr+"/", nil)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for j := 0; j < 5; j++ {
				c.SetWriteDeadline(time.Now().Add(wsIOTimeout))
				c.SetReadDeadline(time.Now().Add(wsIOTimeout))
				if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
					errs <- err
					return
				}
				if _, p, err := c.ReadMessage(); err != nil || !bytes.Equal(p, msg) {
					errs <- err
					return
				}
			}
			c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("echo: %v", err)
	}
	loaded := srv.rssKiB()
	if raceEnabled {
		// The race detector's shadow of the touched heap stays resident.
		t.Logf("RSS %d KiB at start, %d KiB after the burst (-race: the release is checked without it)", base, loaded)
		srv.stop()
		return
	}
	t.Logf("RSS %d KiB at start, %d KiB after the burst", base, loaded)
	// Quiet: within a few seconds the garbage of the burst is returned (a
	// release is at most one interval, 10 s, after the one before).
	var now int
	waitFor(t, 15*time.Second, "the RSS back near its start after the burst", func() bool {
		now = srv.rssKiB()
		return now < base+16<<10
	})
	t.Logf("RSS %d KiB once quiet", now)
	srv.stop()
}
