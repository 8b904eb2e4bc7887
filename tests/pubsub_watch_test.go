package tests

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"pocketlua/internal/brokertest"
)

// TestOnBrokerClearedByReload: server.on_broker's function runs at each
// change of the broker's state until a reload whose script no longer
// calls on_broker; then it is not called again.
func TestOnBrokerClearedByReload(t *testing.T) {
	b := brokertest.StartNATS(t)
	dir := t.TempDir()
	script := scriptFrom(t, dir, "pubsub/watch.lua", map[string]any{"Watch": true})
	srv := startServer(t, "", "--broker", b.URL, script)
	watched := func(state string) int {
		return len(regexp.MustCompile(`msg=watch .*state=`+state+`\b`).FindAllString(srv.Logs(), -1))
	}
	b.Kill()
	waitFor(t, 15*time.Second, "on_broker(down)", func() bool { return watched("down") == 1 })
	b.Restart()
	waitFor(t, 15*time.Second, "on_broker(up) after the restart", func() bool { return watched("up") == 2 })

	scriptFrom(t, dir, "pubsub/watch.lua", map[string]any{"Watch": false})
	srv.signal(syscall.SIGHUP, 0)
	waitFor(t, 15*time.Second, "the reload", func() bool { return strings.Contains(srv.Logs(), "msg=reloaded") })
	defer func() {
		if t.Failed() {
			t.Log(srv.Logs())
		}
	}()
	downs := strings.Count(srv.Logs(), `msg="broker down"`)
	b.Kill()
	waitFor(t, 15*time.Second, "the broker down again", func() bool { return strings.Count(srv.Logs(), `msg="broker down"`) > downs })
	time.Sleep(200 * time.Millisecond) // a stale call would be posted with the log line
	if n := watched("down"); n != 1 {
		t.Fatalf("on_broker of the old script ran after the reload: %d downs watched\n%s", n, srv.Logs())
	}
	srv.stop()
}
