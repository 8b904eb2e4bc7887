package broker

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// natsRemote joins hubs over NATS: a topic is a subject, patterns are
// NATS's own. nats.go reconnects and resubscribes by itself; its
// reconnect buffer is off, so a publish while the server is away is
// dropped and counted rather than held.
//
// Every subscription is a channel subscription on one channel, raw: it
// carries the messages in the order the connection read them. nats.go's
// asynchronous subscriptions, whose pending limits nats.go would enforce,
// each deliver on a goroutine of their own, which would reorder one
// publisher's messages across topics (and its sequence numbers would
// then look like copies). The only limit of a channel subscription is
// its channel, in messages, so a goroutine of ours, forward, empties raw
// at once into in, bounded by Queue.Messages and Queue.Bytes, which
// counts in InDropped what finds it full; another hands what is in in to
// the hub. raw holds messages only while forward is not running; what
// finds it full nats.go drops, and InDropped counts those too.
type natsRemote struct {
	*remoteBase
	nc  *nats.Conn
	raw chan *nats.Msg
	in  *inbound[*nats.Msg]

	mu      sync.Mutex                    // subs and retired, for Stats
	subs    map[string]*nats.Subscription // changed by run only
	retired int64                         // drops of the subscriptions ended
	slow    atomic.Bool                   // nats.go reported a drop: Stats sums them from then on
}

// natsRaw is raw's size: a read's worth of small messages, for the
// moments forward waits for a CPU.
const natsRaw = 1024

func dialNATS(rawURL string, b *remoteBase) (*natsRemote, error) {
	r := &natsRemote{remoteBase: b, subs: make(map[string]*nats.Subscription), raw: make(chan *nats.Msg, natsRaw), in: newInbound[*nats.Msg](b)}
	nc, err := nats.Connect(rawURL,
		nats.Name("pocketlua"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration { return backoff(attempts) }),
		nats.ReconnectBufSize(-1),
		nats.Timeout(2*time.Second),
		nats.PingInterval(2*time.Second), nats.MaxPingsOutstanding(2),
		nats.ConnectHandler(func(nc *nats.Conn) { r.up(nc) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { r.up(nc) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { b.setState(StateDown, err) }),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { b.setState(StateDown, err) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) && sub != nil {
				r.slow.Store(true)
				// Once per episode: the count is in InDropped.
				b.log.Warn("broker: messages dropped, this process reads too slowly (pubsub_dropped counts them)", "broker", b.url, "topic", sub.Subject)
				return
			}
			b.log.Warn("broker error", "broker", b.url, "err", err.Error())
		}),
	)
	if err != nil && !errors.Is(err, nats.ErrNoServers) {
		return nil, err
	}
	r.nc = nc
	if nc.IsConnected() {
		r.up(nc)
	}
	r.answerPresence()
	go r.run()
	go r.forward()
	go r.in.handOff(r.done, func(m *nats.Msg) { r.receive(m.Data) })
	return r, nil
}

// forward empties raw into in without ever waiting.
func (r *natsRemote) forward() {
	for {
		select {
		case <-r.done:
			return
		case m := <-r.raw:
			if ownEcho(r.hub.node, m.Data) {
				continue // delivered by the hub already: no trip through in
			}
			r.in.put(m, len(m.Data))
		}
	}
}

// up records the connection: the server's max_payload bounds what
// server.publish takes, with room for the envelope of the longest topic.
func (r *natsRemote) up(nc *nats.Conn) {
	if mp := nc.MaxPayload(); mp > 0 {
		r.hub.brokerLimit.Store(max(mp-int64(EnvelopeSize(strings.Repeat("x", MaxTopic))), 1))
	}
	r.setState(StateUp, nil)
}

// run is the Remote's I/O goroutine: subscription changes and publishes.
func (r *natsRemote) run() {
	for {
		select {
		case <-r.done:
			return
		case <-r.opsCh:
			for _, o := range r.takeOps() {
				r.apply(o)
			}
		case m := <-r.out:
			if err := r.nc.Publish(r.take(m).Topic, encode(m)); err != nil {
				r.dropped.Add(1)
				continue
			}
			r.sent.Add(1)
			r.touch()
		}
	}
}

func (r *natsRemote) apply(o subOp) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !o.add {
		if s := r.subs[o.topic]; s != nil {
			if n, err := s.Dropped(); err == nil {
				r.retired += int64(n)
			}
			s.Unsubscribe()
			delete(r.subs, o.topic)
		}
		return
	}
	if r.subs[o.topic] != nil {
		return
	}
	// While disconnected, nats.go records the subscription and sends it
	// on reconnect, with every other.
	s, err := r.nc.ChanSubscribe(o.topic, r.raw)
	if err != nil {
		r.log.Warn("broker: subscribe failed", "broker", r.url, "topic", o.topic, "err", err.Error())
		return
	}
	r.subs[o.topic] = s
}

// Stats adds the messages that found in full, and those nats.go
// dropped for finding raw full; until it reports one, without asking
// every subscription.
func (r *natsRemote) Stats() RemoteStats {
	st := r.remoteBase.Stats()
	st.InDropped = r.in.dropped.Load()
	if !r.slow.Load() {
		return st
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st.InDropped += r.retired
	for _, s := range r.subs {
		if n, err := s.Dropped(); err == nil {
			st.InDropped += int64(n)
		}
	}
	return st
}

// MaxPayload is the server's max_payload (0 while never connected).
func (r *natsRemote) MaxPayload() int64 { return r.nc.MaxPayload() }

func (r *natsRemote) Close() {
	r.closeOnce.Do(func() {
		close(r.done)
		r.nc.Close()
	})
}
