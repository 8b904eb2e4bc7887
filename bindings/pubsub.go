package bindings

import (
	lua "github.com/yuin/gopher-lua"
)

// Subscriber is a Conn that can hold topic subscriptions.
type Subscriber interface {
	// Subscribe adds a topic or pattern; false when already subscribed.
	Subscribe(topic string) (bool, error)
	// Unsubscribe removes one; false when it was not a subscription.
	Unsubscribe(topic string) (bool, error)
}

// Publisher is a Server with topics.
type Publisher interface {
	// Publish delivers data to every subscriber of topic but except;
	// kind "" is text, as for Conn.Send.
	Publish(topic, data, kind string, except Conn) error
	// Subscribers counts the process's subscriptions to exactly topic.
	Subscribers(topic string) (int, error)
	// OnBroker has fn(state) called at each change of the broker's state.
	OnBroker(fn *lua.LFunction)
	// Presence calls fn(count, nodes) later with the subscriptions to
	// exactly topic over every node, and the ids of the nodes holding any.
	Presence(topic string, fn *lua.LFunction) error
}

func subscription(L *lua.LState, what string) int {
	s, ok := checkConn(L).(Subscriber)
	if !ok {
		L.RaiseError("%s: this server has no topics", what)
	}
	topic := L.CheckString(2)
	var added bool
	var err error
	if what == "subscribe" {
		added, err = s.Subscribe(topic)
	} else {
		added, err = s.Unsubscribe(topic)
	}
	return pushSendResult(L, added, err)
}

// addPubSub installs server.publish and server.subscribers.
func addPubSub(L *lua.LState, mod *lua.LTable, srv Server) {
	p, _ := srv.(Publisher)
	need := func(L *lua.LState, what string) Publisher {
		if p == nil {
			L.RaiseError("%s: this server has no topics", what)
		}
		return p
	}
	L.SetFuncs(mod, map[string]lua.LGFunction{
		"publish": func(L *lua.LState) int {
			p := need(L, "publish")
			topic, data, kind := L.CheckString(1), L.CheckString(2), L.OptString(3, "")
			var except Conn
			if L.GetTop() >= 4 && L.Get(4) != lua.LNil {
				if except = ConnOf(L.Get(4)); except == nil {
					L.ArgError(4, "conn or instance expected")
				}
			}
			if err := p.Publish(topic, data, kind, except); err != nil {
				L.RaiseError("%s", err.Error())
			}
			return 0
		},
		"on_broker": func(L *lua.LState) int {
			need(L, "on_broker").OnBroker(L.CheckFunction(1))
			return 0
		},
		"presence": func(L *lua.LState) int {
			if err := need(L, "presence").Presence(L.CheckString(1), L.CheckFunction(2)); err != nil {
				L.RaiseError("%s", err.Error())
			}
			return 0
		},
		"subscribers": func(L *lua.LState) int {
			n, err := need(L, "subscribers").Subscribers(L.CheckString(1))
			if err != nil {
				L.RaiseError("%s", err.Error())
			}
			L.Push(lua.LNumber(n))
			return 1
		},
	})
}
