package engine

import (
	"errors"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"

	"pocketlua/bindings"
	"pocketlua/broker"
	"pocketlua/shared"
	"pocketlua/ws"
)

// pubsub is a worker's side of topics: its connections' subscriptions
// and the delivery of the batches the hub posts to the loop.
type pubsub struct {
	hub      *broker.Hub
	w        *broker.Worker
	topics   map[string]map[*Conn]struct{} // subscribers by topic or pattern
	patterns map[string]struct{}           // the topics above with a wildcard
	byConn   map[*Conn][]string            // each subscriber's topics, dropped at its end
	count    int                           // subscriptions held

	targets []*Conn            // one message's receivers (reused)
	seen    map[*Conn]struct{} // to count a connection once when patterns overlap

	published, delivered int64

	// early holds the deliveries to subscribers whose start() has not
	// run yet (deliverEarly), beside the Conn: most never have any.
	early map[*Conn]*earlyDeliveries

	onBroker     *lua.LFunction // server.on_broker's function, nil after a reload until called again
	brokerHooked bool           // the hub calls us at each change of state
}

func (s *Server) joinHub() {
	hub := s.cfg.Hub
	if hub == nil {
		hub = broker.NewHub()
	}
	s.ps = pubsub{
		hub:      hub,
		topics:   make(map[string]map[*Conn]struct{}),
		patterns: make(map[string]struct{}),
		byConn:   make(map[*Conn][]string),
		seen:     make(map[*Conn]struct{}),
	}
	s.ps.w = hub.Join(s.loop.Post, s.deliver)
}

func (p *pubsub) leave() {
	if p.w != nil {
		p.w.Leave()
	}
}

// dropConn ends c's subscriptions; what was kept for it before start
// is dropped and counted.
func (p *pubsub) dropConn(c *Conn) {
	for _, t := range p.byConn[c] {
		p.remove(c, t)
	}
	delete(p.byConn, c)
	if e := beside(p.early, c); e != nil {
		p.w.CountDropped(len(e.msgs))
		delete(p.early, c)
	}
}

// earlyDeliveries are the messages for a subscriber not started yet, in
// order, bounded by --max-queued-bytes, each message counted as the
// broker's queues count it (Message.Size: topic, data and an overhead),
// so that many tiny messages cannot hold far more than the bound.
type earlyDeliveries struct {
	msgs  []*broker.Message
	bytes int // the messages' Size
}

// keep holds m until c's start() has run; over the bound it is dropped
// and counted.
func (c *Conn) keep(m *broker.Message) {
	p := &c.srv.ps
	e := beside(p.early, c)
	held := 0
	if e != nil {
		held = e.bytes
	}
	size := int(m.Size())
	if held+size > c.srv.cfg.MaxQueuedBytes {
		p.w.CountDropped(1)
		return
	}
	if e == nil {
		if p.early == nil {
			p.early = make(map[*Conn]*earlyDeliveries)
		}
		e = &earlyDeliveries{}
		p.early[c] = e
	}
	e.bytes += size
	e.msgs = append(e.msgs, m)
}

// deliverEarly runs right after start(): what came for c before goes out
// after start's own output, in order, as deliver writes it for the mode
// start left c in.
func (s *Server) deliverEarly(c *Conn) {
	e := beside(s.ps.early, c)
	if e == nil {
		return
	}
	// Out of the map first: a handler that ends c meanwhile makes deliver
	// count the rest, and dropConn finds nothing to count twice.
	delete(s.ps.early, c)
	s.loop.HoldWrites(true)
	defer s.loop.HoldWrites(false)
	for _, m := range e.msgs {
		c.deliver(m)
	}
}

func (p *pubsub) remove(c *Conn, topic string) {
	set := p.topics[topic]
	delete(set, c)
	if len(set) == 0 {
		delete(p.topics, topic)
		delete(p.patterns, topic)
	}
	p.count--
	p.w.Unsubscribed(topic)
}

// Subscribe adds topic (or a pattern) to c's subscriptions; false when
// it was there already.
func (c *Conn) Subscribe(topic string) (bool, error) {
	if err := broker.CheckTopic(topic, true); err != nil {
		return false, fmt.Errorf("subscribe: %w", err)
	}
	if c.ended() {
		return false, nil
	}
	p := &c.srv.ps
	mine := p.byConn[c]
	for _, t := range mine {
		if t == topic {
			return false, nil
		}
	}
	if limit := c.srv.cfg.MaxSubscriptions; len(mine) >= limit {
		return false, fmt.Errorf("subscribe: this connection holds %d subscriptions, the limit (--max-subscriptions)", limit)
	}
	p.byConn[c] = append(mine, topic)
	set := p.topics[topic]
	if set == nil {
		set = make(map[*Conn]struct{})
		p.topics[topic] = set
		if broker.IsPattern(topic) {
			p.patterns[topic] = struct{}{}
		}
	}
	set[c] = struct{}{}
	p.count++
	p.w.Subscribed(topic)
	return true, nil
}

// Unsubscribe removes topic from c's subscriptions; false when it was
// not one.
func (c *Conn) Unsubscribe(topic string) (bool, error) {
	if err := broker.CheckTopic(topic, true); err != nil {
		return false, fmt.Errorf("unsubscribe: %w", err)
	}
	p := &c.srv.ps
	mine := p.byConn[c]
	for i, t := range mine {
		if t == topic {
			mine = append(mine[:i], mine[i+1:]...)
			if len(mine) == 0 {
				delete(p.byConn, c)
			} else {
				p.byConn[c] = mine
			}
			p.remove(c, topic)
			return true, nil
		}
	}
	return false, nil
}

// Publish sends data to every subscriber of topic, in every worker and,
// with a broker, every process. kind follows conn:send: "" is text.
func (s *Server) Publish(topic, data, kind string, except bindings.Conn) error {
	if err := broker.CheckTopic(topic, false); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	binary := false
	switch kind {
	case "", "text":
		if !ws.ValidUTF8(unsafeBytes(data)) {
			return errors.New("publish: a text message must be valid UTF-8 (publish it as \"binary\")")
		}
	case "binary":
		binary = true
	default:
		return fmt.Errorf("publish: kind must be \"text\" or \"binary\", not %q", kind)
	}
	if len(data) > s.cfg.MaxPublish {
		return fmt.Errorf("publish: the message is %d bytes, over the limit of %d (--max-publish)", len(data), s.cfg.MaxPublish)
	}
	if limit := s.ps.hub.BrokerLimit(); limit > 0 && int64(len(data)) > limit {
		return fmt.Errorf("publish: the message is %d bytes, over the broker's limit of %d (its max_payload, less room for the envelope)", len(data), limit)
	}
	var exceptID int64
	if c, ok := except.(*Conn); ok && c.srv == s {
		exceptID = c.id
	}
	s.ps.published++
	s.ps.w.Publish(topic, data, binary, exceptID)
	return nil
}

// Subscribers counts the process's subscriptions to exactly topic (a
// topic or a pattern), across its workers.
func (s *Server) Subscribers(topic string) (int, error) {
	if err := broker.CheckTopic(topic, true); err != nil {
		return 0, fmt.Errorf("subscribers: %w", err)
	}
	return s.ps.w.Subscribers(topic), nil
}

// deliver runs on the loop with the messages the hub posted, in order.
// Its writes keep --publish-flush-delay between two writes to a
// subscriber, so the messages it gets meanwhile leave in one write.
func (s *Server) deliver(batch []*broker.Message) {
	p := &s.ps
	s.loop.HoldWrites(true)
	defer s.loop.HoldWrites(false)
	for _, m := range batch {
		p.targets = p.targets[:0]
		for c := range p.topics[m.Topic] {
			p.targets = append(p.targets, c)
		}
		if len(p.patterns) > 0 {
			for c := range p.topics[m.Topic] {
				p.seen[c] = struct{}{}
			}
			for pat := range p.patterns {
				if !broker.Match(pat, m.Topic) {
					continue
				}
				for c := range p.topics[pat] {
					if _, dup := p.seen[c]; !dup {
						p.seen[c] = struct{}{}
						p.targets = append(p.targets, c)
					}
				}
			}
			clear(p.seen)
		}
		for _, c := range p.targets {
			if m.ExceptConn == c.id && m.Worker == p.w.Number() {
				continue
			}
			c.deliver(m)
		}
		clear(p.targets)
	}
}

// deliver writes one message to a subscriber, or hands it to the class's
// published handler. Each call counts once, in delivered or in the
// process's dropped.
func (c *Conn) deliver(m *broker.Message) {
	s := c.srv
	if c.ended() {
		// Closed since the message came: by a published handler of this
		// batch, or of deliverEarly's.
		s.ps.w.CountDropped(1)
		return
	}
	if c.state == stateStarting {
		// accept(info) subscribed it and start() has not run: its TLS
		// handshake (or first bytes on a TLS listener) or its outbound
		// connect is under way. Written, or handed to published, after
		// start (deliverEarly).
		c.keep(m)
		return
	}
	c.resolveClass()
	if fn := c.cls.fns[evPublished]; fn != nil {
		s.ps.delivered++
		kind := luaText
		if m.Binary {
			kind = luaBinary
		}
		// The handler's own sends are not held: conn:send goes out at
		// the end of the round, wherever it is called from.
		s.loop.HoldWrites(false)
		c.callPublished(fn, m, kind)
		s.loop.HoldWrites(true)
		return
	}
	obs := &s.stats.obs
	switch {
	case c.state == stateWebSocket:
		var out []byte
		if d := c.ws.def; d != nil && d.Wants(len(m.Data)) {
			if d.Takeover() {
				sp := getScratch()
				out, *sp = d.Frame(*sp, m.Opcode(), unsafeBytes(m.Data))
				if out != nil {
					c.write(out)
				}
				putScratch(sp)
			} else if out = m.Deflated(d.Level()); out != nil {
				c.write(out)
			}
		}
		if out == nil {
			out = m.Frame()
			c.write(out)
		}
		obs.MessagesOut[bindings.ProtoWebSocket]++
		obs.BytesOut[bindings.ProtoWebSocket] += int64(len(out))
	case c.state == stateRaw && c.ws == nil && c.sshOf() == nil:
		c.writeString(m.Data)
		obs.MessagesOut[c.cls.proto]++
		obs.BytesOut[c.cls.proto] += int64(len(m.Data))
	default:
		// SSH (stateRaw with c.ws set does not happen: upgrade sets both,
		// and closing states were answered by ended): the socket carries
		// the SSH transport, which raw bytes would break, and a
		// connection has no session to give them to (a published handler
		// may route them).
		s.ps.w.CountDropped(1)
		return
	}
	s.ps.delivered++
}

// callPublished runs published(topic, data, kind) under the guard, as
// invoke does for the events of two arguments.
func (c *Conn) callPublished(fn *lua.LFunction, m *broker.Message, kind lua.LValue) {
	s := c.srv
	L := s.L
	L.Push(fn)
	L.Push(c.inst)
	L.Push(lua.LString(m.Topic))
	L.Push(lua.LString(m.Data))
	L.Push(kind)
	var start time.Duration
	if s.cfg.TimeHandlers {
		start = time.Since(s.started)
	}
	s.guard.Enter()
	err := L.PCall(4, 0, nil)
	timedOut := s.guard.Exit()
	if s.cfg.TimeHandlers {
		s.stats.obs.Handlers[evPublished].Observe(time.Since(s.started) - start)
	}
	if err != nil {
		s.handlerFailed(c, bindings.HandlerNames[evPublished], err, timedOut)
	}
}

func (p *pubsub) stats() bindings.PubSubStats {
	h, r := p.hub.Stats(), p.hub.RemoteStats()
	st := bindings.PubSubStats{Subscriptions: p.count, Published: p.published, Delivered: p.delivered, Dropped: h.Dropped, Received: h.Received,
		Broker: r.State, BrokerSent: r.Sent, BrokerReceived: r.Received, BrokerDropped: r.Dropped, BrokerIdle: -1}
	if !r.LastMessage.IsZero() {
		st.BrokerIdle = time.Since(r.LastMessage)
	}
	return st
}

// pubSubStats is the worker's topic counters with the process's.
func (s *Server) pubSubStats() bindings.PubSubStats {
	st := s.ps.stats()
	st.Held = s.loop.HoldStats().Held
	return st
}

// PubSubProcess is the process's topic and broker counters, safe from
// any goroutine (the worker's own fields are left zero).
func (s *Server) PubSubProcess() bindings.PubSubStats {
	p := pubsub{hub: s.ps.hub}
	return p.stats()
}

// Presence is server.presence(topic, fn): fn(count, nodes) runs on this
// loop once every node on the broker answered or PresenceWait passed.
func (s *Server) Presence(topic string, fn *lua.LFunction) error {
	if err := broker.CheckTopic(topic, true); err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	w := s.ps.w
	err := s.ps.hub.Presence(topic, func(total int, nodes []string) {
		w.Post(func() {
			t := s.L.CreateTable(len(nodes), 0)
			for _, n := range nodes {
				t.Append(lua.LString(n))
			}
			s.invoke(nil, fn, nil, 2, lua.LNumber(total), t, 0, evTimer)
		})
	})
	if err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	return nil
}

// OnBroker is server.on_broker(fn): fn(state) runs on this worker's loop
// at each change of the broker's state.
// The last call wins; a reload clears it, so a script that stops calling
// it stops being called.
func (s *Server) OnBroker(fn *lua.LFunction) {
	if !s.ps.brokerHooked {
		s.ps.brokerHooked = true
		s.ps.w.OnBroker(func(state string) {
			if fn := s.ps.onBroker; fn != nil {
				s.invoke(nil, fn, nil, 1, lua.LString(state), nil, 0, evTimer)
			}
		})
	}
	s.ps.onBroker = fn
}

// shared is the process's registry of server.shared dictionaries.
func (s *Server) shared() *shared.Registry {
	if s.cfg.Shared == nil {
		s.cfg.Shared = shared.NewRegistry()
	}
	return s.cfg.Shared
}

// Shared is server.shared(name[, capacity]).
func (s *Server) Shared(name string, capacity int64) (bindings.SharedDict, error) {
	d, err := s.shared().Dict(name, capacity)
	if err != nil {
		return nil, err
	}
	return d, nil
}
