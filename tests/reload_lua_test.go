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

// rlLuaReloadFiles is tests/testdata/reload/lua_main.lua and its tag module.
func rlLuaReloadFiles(t testing.TB, tag string, reloaded bool) map[string]string {
	return map[string]string{"tag.lua": rlLuaString(tag), "main.lua": renderTestdata(t, "reload/lua_main.lua", reloaded)}
}

// rlParseTicks reads "L1=5,L2=3" into a map.
func rlParseTicks(t *testing.T, s string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			t.Fatalf("bad ticks reply %q", s)
		}
		out[k] = n
	}
	return out
}

// TestReloadFromLua: server.reload() from a handler reloads (logged with
// trigger=lua, after the handler returned: its reply still goes out);
// conn.version stays the version a connection started with (or the one
// reloaded moved it to) while server.version() and stats().version follow
// the server; stats().reloads counts successes only; a failing
// server.reload() changes nothing; a reloaded that fails for one instance
// leaves that one on its old version, open, and logs it; server.every timers
// of old versions keep firing.
func TestReloadFromLua(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		dir := t.TempDir()
		mainPath := filepath.Join(dir, "main.lua")
		rlWriteFiles(t, dir, rlLuaReloadFiles(t, "L1", false))
		srv := startServer(t, poller, mainPath)

		expect := func(who, got, want string) {
			t.Helper()
			if got != want {
				t.Fatalf("%s answered %q, want %q", who, got, want)
			}
		}
		waitVersion := func(n int, trigger string) {
			t.Helper()
			logs := rlWaitLog(t, srv.Logs, 10*time.Second, fmt.Sprintf("reloaded version=%d", n),
				func(l string) bool { return len(rlReloads(l)) >= n-1 })
			rs := rlReloads(logs)
			if len(rs) != n-1 || rs[n-2].version != n || rs[n-2].trigger != trigger {
				t.Fatalf("want %d reloads, the last version=%d trigger=%s; got %+v", n-1, n, trigger, rs)
			}
		}

		a := rlMustDial(t, srv.Addr)
		expect("A (v1)", rlAsk(t, a, "v"), "L1|1|1|1|0")

		// A good version without reloaded: A stays on v1, new B gets v2.
		rlWriteFiles(t, dir, rlLuaReloadFiles(t, "L2", false))
		expect("A", rlAsk(t, a, "reload"), "reloading")
		waitVersion(2, "lua")
		expect("A after reload to v2", rlAsk(t, a, "v"), "L1|1|2|2|1")
		b := rlMustDial(t, srv.Addr)
		expect("B (new, v2)", rlAsk(t, b, "v"), "L2|2|2|2|1")

		// A version with reloaded: A and B move to v3.
		rlWriteFiles(t, dir, rlLuaReloadFiles(t, "L3", true))
		expect("B", rlAsk(t, b, "reload"), "reloading")
		waitVersion(3, "lua")
		if r := rlReloads(srv.Logs())[1]; r.migrated != 2 || r.migrationFailed != 0 {
			t.Fatalf("reload to v3: %+v, want migrated=2 migration_failed=0", r)
		}
		expect("A migrated to v3", rlAsk(t, a, "v"), "L3|3|3|3|2")
		expect("B migrated to v3", rlAsk(t, b, "v"), "L3|3|3|3|2")
		c := rlMustDial(t, srv.Addr)
		expect("C (new, v3)", rlAsk(t, c, "v"), "L3|3|3|3|2")

		// A failing server.reload(): nothing changes, the failure is logged.
		rlWriteFiles(t, dir, map[string]string{"main.lua": testdataText(t, "reload/broken_main.lua"), "tag.lua": rlLuaString("L4")})
		expect("C", rlAsk(t, c, "reload"), "reloading")
		logs := rlWaitLog(t, srv.Logs, 10*time.Second, "the failed reload", func(l string) bool { return len(rlFailures(l)) >= 1 })
		if f := rlFailures(logs)[0]; f.trigger != "lua" || f.version != 3 || !rlMentionsLine(f.err, mainPath, 1) {
			t.Fatalf("failure logged as %+v, want trigger=lua version=3 and %s line 1", f, mainPath)
		}
		expect("A after the failed reload", rlAsk(t, a, "v"), "L3|3|3|3|2")
		d := rlMustDial(t, srv.Addr)
		expect("D (new, after the failed reload)", rlAsk(t, d, "v"), "L3|3|3|3|2")

		// A reloaded that fails for one instance: that one stays on its old
		// version and open, the failure is logged, the others move.
		e := rlMustDial(t, srv.Addr)
		expect("E", rlAsk(t, e, "poison"), "poisoned")
		rlWriteFiles(t, dir, rlLuaReloadFiles(t, "L5", true))
		expect("A", rlAsk(t, a, "reload"), "reloading")
		waitVersion(4, "lua")
		if r := rlReloads(srv.Logs())[2]; r.migrated != 4 || r.migrationFailed != 1 {
			t.Fatalf("reload to v4: %+v, want migrated=4 migration_failed=1", r)
		}
		logs = srv.Logs()
		if !strings.Contains(logs, "event=reloaded") || !strings.Contains(logs, mainPath+":") ||
			!strings.Contains(logs, "cannot migrate a poisoned instance") {
			t.Fatalf("the failed reloaded call is not logged with event=reloaded, file:line and the error:\n%s", rlTail(logs, 3000))
		}
		expect("E (its reloaded failed)", rlAsk(t, e, "v"), "L3|3|4|4|3")
		expect("A migrated to v4", rlAsk(t, a, "v"), "L5|4|4|4|3")
		expect("D migrated to v4", rlAsk(t, d, "v"), "L5|4|4|4|3")

		// Timers of every version keep running, also those of versions no
		// connection uses any more (v1, v2).
		before := rlParseTicks(t, rlAsk(t, d, "ticks"))
		time.Sleep(150 * time.Millisecond)
		after := rlParseTicks(t, rlAsk(t, d, "ticks"))
		for _, v := range []string{"L1", "L2", "L3", "L5"} {
			if after[v] <= before[v] {
				t.Fatalf("server.every of version %s stopped: %d then %d ticks", v, before[v], after[v])
			}
		}
		if _, ok := after["L4"]; ok {
			t.Fatalf("the failed version registered a timer: %v", after)
		}
		for _, c := range []*websocket.Conn{a, b, c, d, e} {
			if err := rlCloseClean(c); err != nil {
				t.Fatal(err)
			}
		}
		srv.stop()
	})
}
