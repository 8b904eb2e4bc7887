package tests

import (
	"fmt"
	"os"
	"pocketlua/internal/loopback"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newcomerReload rewrites path with src, sends SIGHUP and waits for the
// reload line of version (or its failure, when fail is set).
func newcomerReload(t *testing.T, srv *server, path, src string, version int, fail bool) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Process.Signal(syscall.SIGHUP)
	if fail {
		return rawWaitLogs(t, srv, 15*time.Second, version, "reload failed")[version-1]
	}
	return rawWaitLogs(t, srv, 15*time.Second, 1, fmt.Sprintf("msg=reloaded version=%d ", version))[0]
}

// migrateVersion fills testdata/newcomer/migrate.lua.
type migrateVersion struct {
	Migrate  bool
	Word     string
	Reloaded bool
}

// TestReloadMigrateFlag: Class.migrate = true moves open connections to the
// new code without a reloaded method; a class without it keeps them on
// their version; the reload line says how many run which version.
func TestReloadMigrateFlag(t *testing.T) {
	const script = "newcomer/migrate.lua"
	path := scriptFrom(t, "", script, migrateVersion{Word: "one"})
	srv := startServer(t, "epoll", path)
	a := dialRaw(t, srv.Addr)
	a.roundTrip("x", "one v1")

	// No migrate: a stays on v1, a new client gets v2.
	line := newcomerReload(t, srv, path, renderTestdata(t, script, migrateVersion{Word: "two"}), 2, false)
	if !strings.Contains(line, "migrated=0") || !strings.Contains(line, "on_versions=v1:1") {
		t.Fatalf("reload line %q: want migrated=0 on_versions=v1:1", line)
	}
	a.roundTrip("x", "one v1")
	b := dialRaw(t, srv.Addr)
	b.roundTrip("x", "two v2")

	// migrate = true: both move to v3.
	line = newcomerReload(t, srv, path, renderTestdata(t, script, migrateVersion{Migrate: true, Word: "three"}), 3, false)
	if !strings.Contains(line, "migrated=2") || !strings.Contains(line, "on_versions=v3:2") {
		t.Fatalf("reload line %q: want migrated=2 on_versions=v3:2", line)
	}
	a.roundTrip("x", "three v3")
	b.roundTrip("x", "three v3")

	// A reloaded method wins over migrate: it runs, and may refuse by raising.
	withReloaded := renderTestdata(t, script, migrateVersion{Migrate: true, Word: "four", Reloaded: true})
	line = newcomerReload(t, srv, path, withReloaded, 4, false)
	if !strings.Contains(line, "migrated=1 migration_failed=1") || !strings.Contains(line, "on_versions=v4:1,v3:1") {
		t.Fatalf("reload line %q: want one migrated, one failed, on_versions=v4:1,v3:1", line)
	}
	a.Close()
	b.Close()
}

// TestServerStateFillsNewDefaults: after a reload, server.state fills the
// top-level keys a new default adds, and never overwrites kept ones.
func TestServerStateFillsNewDefaults(t *testing.T) {
	path := scriptFrom(t, "", "newcomer/state_defaults.lua", false)
	srv := startServer(t, "epoll", path)
	c := dialRaw(t, srv.Addr)
	c.roundTrip("x", "hits=1 limit=nil a=1 b=nil")
	v2 := renderTestdata(t, "newcomer/state_defaults.lua", true)
	newcomerReload(t, srv, path, v2, 2, false)
	d := dialRaw(t, srv.Addr)
	d.roundTrip("x", "hits=2 limit=5 a=1 b=nil")
	c.Close()
	d.Close()
}

// TestReloadRebindHint: an unguarded socket_bind of a fixed port fails the
// reload with a message that says why and what to do; the guarded form
// reloads cleanly.
func TestReloadRebindHint(t *testing.T) {
	port := loopback.ClosedPort(t)
	unguarded := renderTestdata(t, "newcomer/rebind.lua", port)
	path := scriptFrom(t, "", "newcomer/rebind.lua", port)
	srv := startServer(t, "epoll", path)
	line := newcomerReload(t, srv, path, unguarded, 1, true)
	if !strings.Contains(line, "address already in use") || !strings.Contains(line, "this server already listens there") ||
		!strings.Contains(line, "server.state") {
		t.Fatalf("failed reload line %q: want the cause and the hint", line)
	}
	// The same bind guarded with server.state reloads cleanly and keeps
	// serving on the port.
	port2 := loopback.ClosedPort(t)
	guarded := renderTestdata(t, "newcomer/rebind_guarded.lua", port2)
	path2 := scriptFrom(t, "", "newcomer/rebind_guarded.lua", port2)
	srv2 := startServer(t, "epoll", path2)
	newcomerReload(t, srv2, path2, guarded, 2, false)
	c := dialRaw(t, fmt.Sprintf("127.0.0.1:%d", port2))
	c.roundTrip("still here", "still here")
	c.Close()
}
