package broker

import (
	"context"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisRemote joins hubs over Redis PUBLISH/SUBSCRIBE: a topic is a
// channel; a pattern is PSUBSCRIBEd as a glob that covers it (Redis's
// '*' crosses dots), and each worker filters with Match. go-redis's
// PubSub reconnects and resubscribes by itself; a ping every 250 ms
// tells up from down.
//
// go-redis hands what it reads to a channel and, when that stays full,
// drops a message after a minute without telling anyone (and meanwhile
// stops reading, so Redis holds the rest, then disconnects us). So a
// goroutine of ours empties its channel at once into in, bounded by
// Queue.Messages and Queue.Bytes, which counts in InDropped what finds
// it full; another hands what is in in to the hub.
type redisRemote struct {
	*remoteBase
	rdb redis.UniversalClient
	ps  *redis.PubSub
	in  *inbound[*redis.Message]

	heartbeatOn       atomic.Bool // presence is used: the heartbeat runs
	presenceAnnounced time.Time   // when this node last said presence is used (presence goroutine only)
}

// quiet drops go-redis's own log lines: the state changes are logged here.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func dialRedis(rawURL string, b *remoteBase) (*redisRemote, error) {
	rdb, err := redisClient(rawURL)
	if err != nil {
		return nil, err
	}
	redis.SetLogger(quiet{})
	r := &redisRemote{remoteBase: b, rdb: rdb, in: newInbound[*redis.Message](b)}
	r.presence.ask = r.askPresence
	// Recorded even while Redis is away, and made again on reconnect.
	r.ps = r.rdb.Subscribe(context.Background(), presenceWake)
	msgs := r.ps.Channel(redis.WithChannelHealthCheckInterval(500 * time.Millisecond))
	go r.forward(msgs)
	go r.in.handOff(r.done, func(m *redis.Message) { r.receive([]byte(m.Payload)) })
	go r.run()
	go r.watch()
	return r, nil
}

// redisClient makes the client a URL names: redis://host:port/db; with
// ?master_name=NAME, the Sentinel at host:port (more with &addr=host:port)
// that knows the master, followed across failovers; without master_name
// but with &addr=host:port, a Redis Cluster seeded by every address (a
// PUBLISH reaches every node of a cluster).
func redisClient(rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	const timeout = 2 * time.Second
	if u.Query().Has("master_name") {
		fo, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, err
		}
		fo.DialTimeout, fo.ReadTimeout, fo.WriteTimeout = timeout, timeout, timeout
		fo.MaxRetries = -1
		fo.DisableIdentity = true
		return redis.NewFailoverClient(fo), nil
	}
	if u.Query().Has("addr") {
		co, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, err
		}
		co.DialTimeout, co.ReadTimeout, co.WriteTimeout = timeout, timeout, timeout
		co.MaxRetries = -1
		co.DisableIdentity = true
		return redis.NewClusterClient(co), nil
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = timeout, timeout, timeout
	opt.MaxRetries = -1 // a failed publish is dropped and counted, not retried late
	opt.DisableIdentity = true
	return redis.NewClient(opt), nil
}

// forward empties go-redis's channel into in without ever waiting.
func (r *redisRemote) forward(msgs <-chan *redis.Message) {
	for m := range msgs {
		if m.Channel == presenceWake {
			r.startHeartbeat() // another node asked for presence
			continue
		}
		if ownEcho(r.hub.node, m.Payload) {
			continue // delivered by the hub already: no trip through in
		}
		r.in.put(m, len(m.Payload))
	}
}

// Stats adds the messages that found in full.
func (r *redisRemote) Stats() RemoteStats {
	st := r.remoteBase.Stats()
	st.InDropped = r.in.dropped.Load()
	return st
}

// watch pings: the state is up while Redis answers.
func (r *redisRemote) watch() {
	fails := 0
	for !r.closing() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := r.rdb.Ping(ctx).Err()
		cancel()
		wait := 250 * time.Millisecond
		if err != nil {
			r.setState(StateDown, err)
			wait = backoff(fails)
			fails++
		} else {
			if r.State() != StateUp && !r.heartbeatOn.Load() {
				r.checkPresenceUsed() // asked while this node was away
			}
			r.setState(StateUp, nil)
			fails = 0
		}
		select {
		case <-r.done:
		case <-time.After(wait):
		}
	}
}

// run publishes in pipelines of what is queued, and applies
// subscription changes.
func (r *redisRemote) run() {
	batch := make([]*Message, 0, 256)
	for {
		select {
		case <-r.done:
			return
		case <-r.opsCh:
			for _, o := range r.takeOps() {
				r.apply(o)
			}
		case m := <-r.out:
			batch = append(batch[:0], r.take(m))
		more:
			for len(batch) < cap(batch) {
				select {
				case m := <-r.out:
					batch = append(batch, r.take(m))
				default:
					break more
				}
			}
			r.publish(batch)
			clear(batch)
		}
	}
}

func (r *redisRemote) publish(batch []*Message) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var via redis.Cmdable = r.rdb
	if cc, ok := r.rdb.(*redis.ClusterClient); ok {
		// A cluster relays a PUBLISH from the node that took it: one
		// node for all of them keeps each publisher's order.
		node, err := cc.MasterForKey(ctx, "pocketlua")
		if err != nil {
			r.dropped.Add(int64(len(batch)))
			return
		}
		via = node
	}
	cmds := make([]*redis.IntCmd, len(batch))
	_, _ = via.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range batch {
			cmds[i] = p.Publish(ctx, m.Topic, encode(m))
		}
		return nil
	})
	for _, c := range cmds {
		if c.Err() != nil {
			r.dropped.Add(1)
		} else {
			r.sent.Add(1)
		}
	}
	r.touch()
}

func (r *redisRemote) apply(o subOp) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// go-redis records the subscription even when Redis is away, and
	// makes it again on reconnect.
	var err error
	switch pattern := IsPattern(o.topic); {
	case pattern && o.add:
		err = r.ps.PSubscribe(ctx, redisGlob(o.topic))
	case pattern:
		err = r.ps.PUnsubscribe(ctx, redisGlob(o.topic))
	case o.add:
		err = r.ps.Subscribe(ctx, o.topic)
	default:
		err = r.ps.Unsubscribe(ctx, o.topic)
	}
	if err != nil {
		r.log.Debug("broker: subscription change waits for the connection", "broker", r.url, "topic", o.topic, "err", err.Error())
	}
}

// redisGlob is a Redis glob that matches every topic the NATS pattern
// does (and maybe more: '*' crosses dots): wildcard tokens become '*',
// and the glob's special characters are escaped.
func redisGlob(pattern string) string {
	var b strings.Builder
	for i, tok := range strings.Split(pattern, ".") {
		if i > 0 {
			b.WriteByte('.')
		}
		if tok == "*" || tok == ">" {
			b.WriteByte('*')
			continue
		}
		for j := 0; j < len(tok); j++ {
			if c := tok[j]; c == '?' || c == '[' || c == ']' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(tok[j])
		}
	}
	return b.String()
}

func (r *redisRemote) Close() {
	r.closeOnce.Do(func() {
		close(r.done)
		r.ps.Close()
		r.rdb.Close()
	})
}
