package tests

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// rlBallast is version v of tests/testdata/reload/ballast.lua.
func rlBallast(t testing.TB, v int) string {
	return renderTestdata(t, "reload/ballast.lua", fmt.Sprintf("M%d", v))
}

type rlMem struct {
	luaCount string // collectgarbage("count") as the script saw it
	loaded   int    // entries in package.loaded
	liveMB   int    // live Go heap after collectgarbage("collect"), from gctrace
	rssKiB   int
}

func (m rlMem) String() string {
	return fmt.Sprintf("live heap %3d MB, RSS %6d KiB, collectgarbage(\"count\") = %s, package.loaded %d", m.liveMB, m.rssKiB, m.luaCount, m.loaded)
}

// TestReloadMemoryFlat: 1,000 reloads driven by server.reload() from a
// control connection, each waited for; connections opened between reloads
// 300 and 660 pin ten old versions until reload 700, each still answering
// with its own version's module. Memory after 1,000 reloads stays within a
// bound of memory after 100, and package.loaded does not grow.
func TestReloadMemoryFlat(t *testing.T) {
	const total = 1000
	dir := t.TempDir()
	rlWriteFiles(t, dir, map[string]string{"main.lua": testdataText(t, "reload/mem_main.lua"), "ballast.lua": rlBallast(t, 1)})
	// gctrace=1 makes the server print the live heap after every GC; Lua's
	// collectgarbage("collect") is a runtime.GC() there, a "(forced)" line.
	srv := launch{env: []string{"GODEBUG=gctrace=1"}}.start(t, filepath.Join(dir, "main.lua"))
	ctl := rlMustDial(t, srv.Addr)

	version := 1
	reloadOnce := func() {
		t.Helper()
		rlWriteFiles(t, dir, map[string]string{"ballast.lua": rlBallast(t, version+1)})
		if got := rlAsk(t, ctl, "reload"); got != "ok" {
			t.Fatalf("reload answered %q", got)
		}
		want := strconv.Itoa(version + 1)
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := rlAsk(t, ctl, "v")
			if got == want {
				break
			}
			if got != strconv.Itoa(version) || time.Now().After(deadline) {
				t.Fatalf("after reload %d: server.version() = %s, want %s; logs:\n%s", version, got, want, rlTail(srv.Logs(), 3000))
			}
			time.Sleep(time.Millisecond)
		}
		version++
	}
	measure := func() rlMem {
		t.Helper()
		forced := len(rlForcedGC.FindAllStringIndex(srv.Logs(), -1))
		f := strings.Split(rlAsk(t, ctl, "mem"), "|")
		if len(f) != 4 || f[2] != strconv.Itoa(version) {
			t.Fatalf("mem reply %q", f)
		}
		m := rlMem{luaCount: f[0]}
		m.loaded, _ = strconv.Atoi(f[1])
		logs := rlWaitLog(t, srv.Logs, 5*time.Second, "the gctrace line of collectgarbage", func(l string) bool {
			return len(rlForcedGC.FindAllStringIndex(l, -1)) > forced
		})
		m.liveMB, _ = rlLastLiveHeapMB(logs)
		m.rssKiB = srv.rssKiB()
		return m
	}

	start := time.Now()
	type pinned struct {
		c       *websocket.Conn
		version int
	}
	var pins []pinned
	var m100, m700, m1000 rlMem
	for version < total+1 {
		reloadOnce()
		reloads := version - 1
		if reloads%100 == 0 && reloads != 700 {
			m := measure()
			t.Logf("after %4d reloads: %s", reloads, m)
			if reloads == 100 {
				m100 = m
			}
			m1000 = m
		}
		switch {
		case reloads >= 300 && reloads < 700 && reloads%40 == 0:
			c := rlMustDial(t, srv.Addr)
			if got, want := rlAsk(t, c, "hello"), fmt.Sprintf("M%d|hello", version); got != want {
				t.Fatalf("new connection at version %d answered %q, want %q", version, got, want)
			}
			pins = append(pins, pinned{c, version})
		case reloads == 700:
			m700 = measure()
			t.Logf("after %4d reloads: %s (10 old versions pinned)", reloads, m700)
			if got, want := m700.loaded, m100.loaded; got != want {
				t.Fatalf("package.loaded has %d entries after 700 reloads, %d after 100", got, want)
			}
			for _, p := range pins { // old versions still serve their connections
				if got, want := rlAsk(t, p.c, "again"), fmt.Sprintf("M%d|again", p.version); got != want {
					t.Fatalf("connection of version %d answered %q at version %d, want %q", p.version, got, version, want)
				}
				if err := rlCloseClean(p.c); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	elapsed := time.Since(start)
	rs := rlReloads(srv.Logs())
	if len(rs) != total || rs[total-1].version != total+1 || len(rlFailures(srv.Logs())) != 0 {
		t.Fatalf("%d reloaded lines (last %+v), want %d ending at version %d, and no failures", len(rs), rs[len(rs)-1], total, total+1)
	}
	for _, r := range rs {
		if r.trigger != "lua" {
			t.Fatalf("reload %+v: want trigger=lua", r)
		}
	}
	var sum, longest time.Duration
	for _, r := range rs {
		sum += r.pause
		longest = max(longest, r.pause)
	}
	t.Logf("%d reloads in %s (%s each, reload pause mean %s max %s); pinned %d versions between 300 and 700",
		total, elapsed.Round(time.Millisecond), (elapsed / total).Round(time.Microsecond),
		(sum / total).Round(time.Microsecond), longest, len(pins))

	if m1000.loaded != m100.loaded {
		t.Fatalf("package.loaded grew from %d to %d entries", m100.loaded, m1000.loaded)
	}
	// Each pinned version holds ~200 KB of live heap here (the ballast
	// module is ~1,000 tables), so 900 leaked versions would add ~180 MB.
	// The live heap after a forced GC is exact to gctrace's 1 MB; allow
	// 1 MB of rounding. The RSS is looser: the Go runtime keeps freed heap
	// (and, under -race, shadow memory) resident for a while, so it keeps
	// most of the peak reached while ten versions were pinned (+7 to +10 MiB
	// measured under -race); allow 16 MiB, a tenth of a real leak.
	if m100.liveMB == 0 || m1000.liveMB == 0 {
		t.Fatalf("no gctrace line for collectgarbage(\"collect\"); logs:\n%s", rlTail(srv.Logs(), 2000))
	}
	if m1000.liveMB > m100.liveMB+1 {
		t.Fatalf("live heap after collectgarbage(\"collect\") grew from %d MB (100 reloads) to %d MB (1,000 reloads)", m100.liveMB, m1000.liveMB)
	}
	if m700.liveMB < m1000.liveMB {
		t.Logf("note: pinning ten versions did not show in the live heap (%d MB vs %d MB)", m700.liveMB, m1000.liveMB)
	}
	if grow := m1000.rssKiB - m100.rssKiB; grow > 16<<10 {
		t.Fatalf("RSS grew by %d KiB from 100 to 1,000 reloads (%d -> %d KiB), allowed 16 MiB", grow, m100.rssKiB, m1000.rssKiB)
	}
	if kb100, err := strconv.ParseFloat(m100.luaCount, 64); err == nil {
		kb1000, _ := strconv.ParseFloat(m1000.luaCount, 64)
		if kb1000-kb100 > max(kb100/10, 1024) {
			t.Fatalf("collectgarbage(\"count\") grew from %.0f to %.0f KiB", kb100, kb1000)
		}
	} else {
		t.Logf("collectgarbage(\"count\") returns %s in this Lua runtime (gopher-lua); the live heap comes from gctrace instead", m100.luaCount)
	}
	if err := rlCloseClean(ctl); err != nil {
		t.Fatal(err)
	}
	srv.stop()
}
