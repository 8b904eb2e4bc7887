package engine

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Reload asks the loop to load the scripts afresh; safe from any goroutine.
// trigger says why ("SIGHUP", "watch", "lua") in the log.
func (s *Server) Reload(trigger string) {
	s.loop.Post(func() { s.reload(trigger) })
}

// reload compiles and runs the main script and the project modules it
// requires afresh; batteries stay loaded. If anything fails, nothing
// changes. On success new connections get the new class; existing ones
// keep theirs unless the new class defines reloaded(old_class).
func (s *Server) reload(trigger string) error {
	if s.shuttingDown {
		return nil
	}
	if trigger != "lua" {
		s.reloadTLS(trigger)
	}
	start := time.Now()
	L := s.L
	loaded := L.GetField(L.Get(lua.RegistryIndex), "_LOADED").(*lua.LTable)
	// Forget project modules so require reads them again; keep them to
	// put back if the new version fails.
	oldModules := s.modules
	saved := make(map[string]lua.LValue, len(oldModules))
	for name := range oldModules {
		saved[name] = loaded.RawGetString(name)
		loaded.RawSetString(name, lua.LNil)
	}
	s.modules = make(map[string]string, len(oldModules))
	oldScript, oldRegistered := s.script, s.registered
	s.registered = nil
	oldOnBroker := s.ps.onBroker
	s.ps.onBroker = nil // the new script calls on_broker again if it still wants it

	class, err := s.runMain()
	if err != nil {
		tried := s.registered
		for name, path := range s.modules {
			tried = append(tried, path)
			if _, ok := saved[name]; !ok {
				loaded.RawSetString(name, lua.LNil)
			}
		}
		for name, v := range saved {
			loaded.RawSetString(name, v)
		}
		s.modules, s.script, s.registered = oldModules, oldScript, oldRegistered
		s.ps.onBroker = oldOnBroker
		s.stats.obs.ReloadsFailed++
		s.stats.obs.ReloadPause.Observe(time.Since(start))
		s.log.Error("reload failed; the old version keeps serving", "trigger", trigger, "version", s.version, "err", err.Error())
		s.refreshWatch(tried)
		return err
	}
	s.refreshWatch(nil)
	s.version++
	s.reloads++
	old := s.main
	s.main = s.newClassInfo(class, s.version)
	s.main.main = true
	migrated, failed := s.migrate(old)
	s.stats.obs.ReloadPause.Observe(time.Since(start))
	s.log.Info("reloaded", "version", s.version, "trigger", trigger, "migrated", migrated, "migration_failed", failed,
		"connections", len(s.conns), "pause", time.Since(start).Round(time.Microsecond).String(), "on_versions", s.versionCounts())
	return nil
}

// versionCounts says how many connections of the main script run each
// version, newest first: "v3:5,v1:2" ("" with none).
func (s *Server) versionCounts() string {
	counts := map[int]int{}
	for _, c := range s.conns {
		if !c.ended() && c.cls.main {
			counts[c.cls.version]++
		}
	}
	versions := make([]int, 0, len(counts))
	for v := range counts {
		versions = append(versions, v)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(versions)))
	var b strings.Builder
	for i, v := range versions {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "v%d:%d", v, counts[v])
	}
	return b.String()
}

// migrate moves instances of older main classes to the new one when it
// defines reloaded(old_class), or sets migrate = true (as if reloaded
// were defined and empty); an instance whose reloaded fails goes back to
// its old class.
func (s *Server) migrate(old *classInfo) (migrated, failed int) {
	fn, ok := s.L.GetField(s.main.table, "reloaded").(*lua.LFunction)
	if !ok && !lua.LVAsBool(s.L.GetField(s.main.table, "migrate")) {
		return 0, 0
	}
	for _, c := range s.connList() {
		if c.ended() || !c.cls.main || c.cls == s.main {
			continue
		}
		prev := c.cls
		c.inst.Metatable = s.main.table
		c.cls = s.main
		if fn == nil {
			migrated++
			continue
		}
		if _, ok := s.invoke(nil, fn, c.inst, 1, prev.table, nil, 0, evReloaded); !ok {
			c.inst.Metatable = prev.table
			c.cls = prev
			failed++
			continue
		}
		migrated++
	}
	return migrated, failed
}

// State returns the table registered under name, creating it from def (or
// empty) on first use; the same table is returned across reloads, with the
// top-level keys of a later def it lacks filled in (never overwritten;
// nested tables are the script's business).
func (s *Server) State(name string, def *lua.LTable) *lua.LTable {
	if s.cfg.Workers > 1 && s.shared().FirstStateUse() {
		s.log.Warn("server.state is per worker: with --workers > 1 each worker has its own table, so a value set in one is missing in the others; use server.shared(name) for data every worker sees",
			"workers", s.cfg.Workers)
	}
	if t, ok := s.states.RawGetString(name).(*lua.LTable); ok {
		if def != nil && def != t {
			def.ForEach(func(k, v lua.LValue) {
				if t.RawGet(k) == lua.LNil {
					t.RawSet(k, v)
				}
			})
		}
		return t
	}
	if def == nil {
		def = s.L.NewTable()
	}
	s.states.RawSetString(name, def)
	return def
}

// ReloadFromLua schedules a reload after the running handler returns.
func (s *Server) ReloadFromLua() {
	s.loop.AfterFunc(0, func() { s.reload("lua") })
}

// WatchedFiles lists the main script, the project modules loaded from disk
// and the files registered with server.watch.
func (s *Server) WatchedFiles() []string {
	var files []string
	if s.cfg.Script != "" {
		files = append(files, s.cfg.Script)
	}
	for _, p := range s.modules {
		files = append(files, p)
	}
	return append(files, s.registered...)
}

// Watch registers a file whose change reloads the server under --watch
// (a configuration file the script reads, say). Only the main chunk may
// call it: it runs again on every load, so the list stays current.
func (s *Server) Watch(path string) error {
	if s.loading == nil {
		return errors.New("server.watch: call it from the main chunk (it runs again on every reload)")
	}
	s.registered = append(s.registered, path)
	return nil
}
