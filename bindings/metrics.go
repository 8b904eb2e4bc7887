package bindings

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Metrics is the registry scripts define their own metrics in, shared by
// every worker; a scrape sums the workers' values into one series.
type Metrics interface {
	// Define registers a metric or finds the one already defined alike;
	// kind is "counter", "gauge" or "histogram".
	Define(kind, name, help string, labels []string, buckets []float64) (id int, err error)
	Add(id, worker int, values []string, v float64) error
	Set(id, worker int, values []string, v float64) error
	Observe(id, worker int, values []string, v float64) error
}

// HTTPCounter counts responses in the engine's own metrics
// (pocketlua_http_responses_total).
type HTTPCounter interface {
	CountHTTPResponse(status int)
}

const metricType = "metric"

// metric is what metrics.counter, gauge and histogram return.
type metric struct {
	reg    Metrics
	worker int
	id     int
	kind   string
	name   string
	labels []string
}

// RegisterMetrics preloads the `metrics` module for worker (1-based).
// With a nil registry every definition raises an error that says so.
func RegisterMetrics(L *lua.LState, reg Metrics, worker int, http HTTPCounter) {
	mt := L.NewTypeMetatable(metricType)
	L.SetField(mt, "__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"inc": func(L *lua.LState) int {
			m := checkMetric(L)
			return m.update(L, m.reg.Add, 1, 2, "inc")
		},
		"dec": func(L *lua.LState) int {
			m := checkMetric(L)
			if m.kind != "gauge" {
				L.RaiseError("metrics: %s %q has no dec (only gauges do)", m.kind, m.name)
			}
			return m.update(L, m.reg.Add, -1, 2, "dec")
		},
		"add": func(L *lua.LState) int {
			m := checkMetric(L)
			return m.update(L, m.reg.Add, float64(L.CheckNumber(2)), 3, "add")
		},
		"set": func(L *lua.LState) int {
			m := checkMetric(L)
			return m.update(L, m.reg.Set, float64(L.CheckNumber(2)), 3, "set")
		},
		"observe": func(L *lua.LState) int {
			m := checkMetric(L)
			return m.update(L, m.reg.Observe, float64(L.CheckNumber(2)), 3, "observe")
		},
	}))
	L.SetField(mt, "__tostring", L.NewFunction(func(L *lua.LState) int {
		m := checkMetric(L)
		L.Push(lua.LString(fmt.Sprintf("%s %s", m.kind, m.name)))
		return 1
	}))
	define := func(kind string) lua.LGFunction {
		return func(L *lua.LState) int {
			name, help := L.CheckString(1), L.CheckString(2)
			var buckets []float64
			labelArg := 3
			if kind == "histogram" {
				buckets = checkBuckets(L, 3)
				labelArg = 4
			}
			labels := checkLabelNames(L, labelArg)
			if reg == nil {
				L.RaiseError("metrics.%s: no metrics registry in this server", kind)
			}
			id, err := reg.Define(kind, name, help, labels, buckets)
			if err != nil {
				L.RaiseError("metrics.%s: %s", kind, err.Error())
			}
			ud := L.NewUserData()
			ud.Value = &metric{reg: reg, worker: worker, id: id, kind: kind, name: name, labels: labels}
			ud.Metatable = mt
			L.Push(ud)
			return 1
		}
	}
	mod := map[string]lua.LGFunction{
		"counter":   define("counter"),
		"gauge":     define("gauge"),
		"histogram": define("histogram"),
		// http_response(status) is what httpd.lua calls once per response.
		"http_response": func(L *lua.LState) int {
			status := L.CheckInt(1)
			if http != nil {
				http.CountHTTPResponse(status)
			}
			return 0
		},
	}
	L.PreloadModule("metrics", func(L *lua.LState) int {
		L.Push(L.SetFuncs(L.NewTable(), mod))
		return 1
	})
}

func checkMetric(L *lua.LState) *metric {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if m, ok := ud.Value.(*metric); ok {
			return m
		}
	}
	L.ArgError(1, "metric expected (call it as m:inc(), not m.inc())")
	return nil
}

// update applies op with v to the series named by the labels table at
// argument arg.
func (m *metric) update(L *lua.LState, op func(id, worker int, values []string, v float64) error, v float64, arg int, what string) int {
	if m.kind == "histogram" && what != "observe" {
		L.RaiseError("metrics: histogram %q has observe, not %s", m.name, what)
	}
	if err := op(m.id, m.worker, m.labelValues(L, arg), v); err != nil {
		L.RaiseError("metrics: %s", err.Error())
	}
	return 0
}

// labelValues reads {label = value, ...} in the metric's label order:
// every declared label, nothing else.
func (m *metric) labelValues(L *lua.LState, arg int) []string {
	lv := L.Get(arg)
	if lv == lua.LNil {
		if len(m.labels) > 0 {
			L.RaiseError("metrics: %s %q needs its labels {%s}", m.kind, m.name, joinNames(m.labels))
		}
		return nil
	}
	t, ok := lv.(*lua.LTable)
	if !ok {
		L.ArgError(arg, "labels table expected")
	}
	values := make([]string, len(m.labels))
	for i, name := range m.labels {
		switch v := t.RawGetString(name).(type) {
		case lua.LString:
			values[i] = string(v)
		case lua.LNumber:
			values[i] = v.String()
		case lua.LBool:
			values[i] = v.String()
		default:
			L.RaiseError("metrics: %s %q: label %s must be a string, number or boolean, got %s", m.kind, m.name, name, v.Type())
		}
	}
	n := 0
	t.ForEach(func(k, _ lua.LValue) { n++ })
	if n != len(m.labels) {
		L.RaiseError("metrics: %s %q takes exactly the labels {%s}", m.kind, m.name, joinNames(m.labels))
	}
	return values
}

func joinNames(names []string) string { return strings.Join(names, ", ") }

// checkLabelNames reads an optional array of label names.
func checkLabelNames(L *lua.LState, arg int) []string {
	lv := L.Get(arg)
	if lv == lua.LNil {
		return nil
	}
	t, ok := lv.(*lua.LTable)
	if !ok {
		L.ArgError(arg, "array of label names expected")
	}
	var names []string
	for i := 1; i <= t.Len(); i++ {
		s, ok := t.RawGetInt(i).(lua.LString)
		if !ok {
			L.ArgError(arg, "label names must be strings")
		}
		names = append(names, string(s))
	}
	if n := countKeys(t); n != len(names) {
		L.ArgError(arg, "labels must be an array of names, like {\"room\", \"kind\"}")
	}
	return names
}

// checkBuckets reads an optional array of bucket bounds.
func checkBuckets(L *lua.LState, arg int) []float64 {
	lv := L.Get(arg)
	if lv == lua.LNil {
		return nil
	}
	t, ok := lv.(*lua.LTable)
	if !ok {
		L.ArgError(arg, "array of bucket bounds expected")
	}
	var bs []float64
	for i := 1; i <= t.Len(); i++ {
		n, ok := t.RawGetInt(i).(lua.LNumber)
		if !ok {
			L.ArgError(arg, "bucket bounds must be numbers")
		}
		bs = append(bs, float64(n))
	}
	if countKeys(t) != len(bs) {
		L.ArgError(arg, "buckets must be an array of numbers, like {0.1, 0.5, 1}")
	}
	if bs == nil {
		bs = []float64{} // {} is an empty list: the registry refuses it
	}
	return bs
}

func countKeys(t *lua.LTable) int {
	n := 0
	t.ForEach(func(_, _ lua.LValue) { n++ })
	return n
}
