package engine

import (
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// BenchmarkDispatchTimed is BenchmarkDispatchMessage's handler with the
// guard on, without and with handler timing (Config.TimeHandlers, set by
// --metrics): the difference is what the duration histograms cost.
func BenchmarkDispatchTimed(b *testing.B) {
	const script = `
local C = {}
function C:message(data, kind) self.n = (self.n or 0) + #data end
return C`
	payload := make([]byte, 32)
	for _, timed := range []bool{false, true} {
		name := "timing=off"
		if timed {
			name = "timing=on"
		}
		b.Run(name, func(b *testing.B) {
			s, c, _ := benchServer(b, script, DefaultHandlerTimeout)
			s.cfg.TimeHandlers = timed
			kind := lua.LString("binary")
			b.ReportAllocs()
			for b.Loop() {
				c.call(evMessage, 2, lua.LString(string(payload)), kind, 0)
			}
			if got := s.stats.obs.Handlers[evMessage].Counts; timed == (got == [len(got)]uint64{}) {
				b.Fatalf("timing %v, histogram %v", timed, got)
			}
		})
	}
}
