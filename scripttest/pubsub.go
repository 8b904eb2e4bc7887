package scripttest

import (
	"fmt"
	"sort"
	"time"

	lua "github.com/yuin/gopher-lua"

	"pocketlua/bindings"
	"pocketlua/broker"
	"pocketlua/shared"
	"pocketlua/ws"
)

// Topics as the engine checks and matches them, delivered at once (the
// engine delivers in its loop's next round): a WebSocket subscriber's
// sent gets the message, a raw one's the bytes, and a class with
// published(topic, data, kind) gets the call instead.

func (c *fakeConn) Subscribe(topic string) (bool, error) {
	if err := broker.CheckTopic(topic, true); err != nil {
		return false, fmt.Errorf("subscribe: %w", err)
	}
	w := c.w
	if w.subs == nil {
		w.subs = make(map[*fakeConn][]string)
	}
	for _, t := range w.subs[c] {
		if t == topic {
			return false, nil
		}
	}
	w.subs[c] = append(w.subs[c], topic)
	return true, nil
}

func (c *fakeConn) Unsubscribe(topic string) (bool, error) {
	if err := broker.CheckTopic(topic, true); err != nil {
		return false, fmt.Errorf("unsubscribe: %w", err)
	}
	mine := c.w.subs[c]
	for i, t := range mine {
		if t == topic {
			c.w.subs[c] = append(mine[:i], mine[i+1:]...)
			return true, nil
		}
	}
	return false, nil
}

func (w *world) Publish(topic, data, kind string, except bindings.Conn) error {
	if err := broker.CheckTopic(topic, false); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	switch kind {
	case "":
		kind = "text"
		fallthrough
	case "text":
		if !ws.ValidUTF8([]byte(data)) {
			return fmt.Errorf("publish: a text message must be valid UTF-8 (publish it as \"binary\")")
		}
	case "binary":
	default:
		return fmt.Errorf("publish: kind must be \"text\" or \"binary\", not %q", kind)
	}
	var to []*fakeConn
	for c, topics := range w.subs {
		if c.state != connOpen || except != nil && except == bindings.Conn(c) {
			continue
		}
		for _, t := range topics {
			if t == topic || broker.Match(t, topic) {
				to = append(to, c)
				break
			}
		}
	}
	sort.Slice(to, func(i, j int) bool { return to[i].id < to[j].id })
	for _, c := range to {
		if _, ok := w.L.GetField(c.inst, "published").(*lua.LFunction); ok {
			c.call("published", 0, lua.LString(topic), lua.LString(data), lua.LString(kind))
		} else if c.websocket {
			if !c.closeSent {
				c.record(data, kind)
			}
		} else {
			c.record(data, "raw")
		}
	}
	return nil
}

func (w *world) Subscribers(topic string) (int, error) {
	if err := broker.CheckTopic(topic, true); err != nil {
		return 0, fmt.Errorf("subscribers: %w", err)
	}
	n := 0
	for c, topics := range w.subs {
		for _, t := range topics {
			if t == topic && c.state == connOpen {
				n++
			}
		}
	}
	return n, nil
}

// Shared is server.shared, one registry per test file, whose expiries
// follow the virtual clock.
func (w *world) Shared(name string, capacity int64) (bindings.SharedDict, error) {
	if w.dicts == nil {
		epoch := time.Unix(0, 0)
		w.dicts = shared.NewRegistryClock(func() time.Time { return epoch.Add(w.clock.now) })
	}
	d, err := w.dicts.Dict(name, capacity)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// OnBroker accepts the callback: a test run has no broker, whose state
// never changes.
func (w *world) OnBroker(fn *lua.LFunction) {}

// Presence answers at once, from this test's subscriptions, with one node.
func (w *world) Presence(topic string, fn *lua.LFunction) error {
	n, err := w.Subscribers(topic)
	if err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	nodes := w.L.NewTable()
	if n > 0 {
		nodes.Append(lua.LString("test"))
	}
	w.L.Push(fn)
	w.L.Push(lua.LNumber(n))
	w.L.Push(nodes)
	w.L.Call(2, 0)
	return nil
}
