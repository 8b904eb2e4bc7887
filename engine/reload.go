package engine

import (
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
	oldScript := s.script

	class, err := s.runMain()
	if err != nil {
		for name := range s.modules {
			if _, ok := saved[name]; !ok {
				loaded.RawSetString(name, lua.LNil)
			}
		}
		for name, v := range saved {
			loaded.RawSetString(name, v)
		}
		s.modules, s.script = oldModules, oldScript
		s.stats.obs.ReloadsFailed++
		s.stats.obs.ReloadPause.Observe(time.Since(start))
		s.log.Error("reload failed; the old version keeps serving", "trigger", trigger, "version", s.version, "err", err.Error())
		return err
	}
	s.version++
	s.reloads++
	old := s.main
	s.main = s.newClassInfo(class, s.version)
	s.main.main = true
	migrated, failed := s.migrate(old)
	s.stats.obs.ReloadPause.Observe(time.Since(start))
	s.log.Info("reloaded", "version", s.version, "trigger", trigger, "migrated", migrated, "migration_failed", failed,
		"connections", len(s.conns), "pause", time.Since(start).Round(time.Microsecond).String())
	return nil
}

// migrate moves instances of older main classes to the new one when it
// defines reloaded(old_class); an instance whose reloaded fails goes back
// to its old class.
func (s *Server) migrate(old *classInfo) (migrated, failed int) {
	fn, ok := s.L.GetField(s.main.table, "reloaded").(*lua.LFunction)
	if !ok {
		return 0, 0
	}
	for _, c := range s.connList() {
		if c.ended() || !c.cls.main || c.cls == s.main {
			continue
		}
		prev := c.cls
		c.inst.Metatable = s.main.table
		c.cls = s.main
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
// empty) on first use; the same table is returned across reloads.
func (s *Server) State(name string, def *lua.LTable) *lua.LTable {
	if t, ok := s.states.RawGetString(name).(*lua.LTable); ok {
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

// WatchedFiles lists the main script and the project modules loaded from disk.
func (s *Server) WatchedFiles() []string {
	var files []string
	if s.cfg.Script != "" {
		files = append(files, s.cfg.Script)
	}
	for _, p := range s.modules {
		files = append(files, p)
	}
	return files
}
