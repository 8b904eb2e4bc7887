package broker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
)

// PresenceWait bounds how long a presence query waits for other nodes.
const PresenceWait = 250 * time.Millisecond

// presenceTTL is how long a Redis node's count stays valid without a
// heartbeat: a node that dies drops out within it.
const presenceTTL = 3 * time.Second

// MaxPresence is how many presence queries may wait for the broker in a
// process; one more is refused with ErrPresenceBusy.
const MaxPresence = 256

// ErrPresenceBusy refuses a presence query over MaxPresence.
var ErrPresenceBusy = fmt.Errorf("%d queries are waiting for the broker, the limit; ask again later", MaxPresence)

// presencer is a Remote that can ask the other nodes for their counts.
type presencer interface {
	// others queues a query and calls done, on the Remote's presence
	// goroutine within about PresenceWait, with the other nodes'
	// subscription counts to exactly topic; ErrPresenceBusy when
	// MaxPresence queries wait already.
	others(topic string, done func(map[uint64]int)) error
}

// Presence counts the subscriptions to exactly topic over every node on
// the broker (this process alone without one) and calls done, on some
// goroutine, with the total and the ids of the nodes that hold any.
func (h *Hub) Presence(topic string, done func(total int, nodes []string)) error {
	mine := h.count(topic)
	finish := func(counts map[uint64]int) {
		counts[h.node] = mine
		total, nodes := 0, []string{}
		for n, c := range counts {
			if c > 0 {
				total += c
				nodes = append(nodes, NodeID(n))
			}
		}
		done(total, nodes)
	}
	r := h.remoteAt.Load()
	if r == nil {
		finish(map[uint64]int{})
		return nil
	}
	p, ok := (*r).(presencer)
	if !ok || (*r).Stats().State != StateUp {
		finish(map[uint64]int{})
		return nil
	}
	return p.others(topic, finish)
}

// NodeID is a node's id as presence lists it.
func NodeID(n uint64) string { return fmt.Sprintf("%016x", n) }

func (h *Hub) count(topic string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.interest[topic]
}

// interestSnapshot copies the process's subscriptions and their counts.
func (h *Hub) interestSnapshot() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.interest))
	for t, n := range h.interest {
		out[t] = n
	}
	return out
}

// presenceQuery is one server.presence call waiting for the broker.
type presenceQuery struct {
	topic string
	done  func(map[uint64]int)
}

// presenceQueue is what both adapters share: one bounded queue of
// queries and one goroutine, started at the first query, that answers
// all those waiting in one round trip (ask).
type presenceQueue struct {
	once    sync.Once
	queries chan presenceQuery
	// ask returns the other nodes' counts for each topic, within about
	// PresenceWait.
	ask func(topics []string) map[string]map[uint64]int
}

func (b *remoteBase) others(topic string, done func(map[uint64]int)) error {
	b.presence.once.Do(func() {
		b.presence.queries = make(chan presenceQuery, MaxPresence)
		go b.answerQueries()
	})
	select {
	case b.presence.queries <- presenceQuery{topic, done}:
		return nil
	default:
		return ErrPresenceBusy
	}
}

func (b *remoteBase) answerQueries() {
	for {
		var batch []presenceQuery
		select {
		case <-b.done:
			return
		case q := <-b.presence.queries:
			batch = append(batch, q)
		}
	more:
		for len(batch) < MaxPresence {
			select {
			case q := <-b.presence.queries:
				batch = append(batch, q)
			default:
				break more
			}
		}
		var topics []string
		seen := map[string]bool{}
		for _, q := range batch {
			if !seen[q.topic] {
				seen[q.topic] = true
				topics = append(topics, q.topic)
			}
		}
		counts := b.presence.ask(topics)
		for _, q := range batch {
			c := maps.Clone(counts[q.topic]) // each query adds its own node
			if c == nil {
				c = map[uint64]int{}
			}
			q.done(c)
		}
	}
}

// NATS: every node answers a request on presenceSubject with its count;
// the asker takes what comes within PresenceWait.
const presenceSubject = "_pocketlua.presence"

func (r *natsRemote) answerPresence() {
	r.presence.ask = r.askPresence
	_, err := r.nc.Subscribe(presenceSubject, func(msg *nats.Msg) {
		if msg.Reply == "" {
			return
		}
		topic := string(msg.Data)
		msg.Respond([]byte(NodeID(r.hub.node) + " " + strconv.Itoa(r.hub.count(topic)) + " " + topic))
	})
	if err != nil {
		r.log.Warn("broker: presence unavailable", "broker", r.url, "err", err.Error())
	}
}

// askPresence sends one request per topic to one inbox, and reads the
// answers ("node count topic") until PresenceWait passes.
func (r *natsRemote) askPresence(topics []string) map[string]map[uint64]int {
	counts := map[string]map[uint64]int{}
	inbox := r.nc.NewRespInbox()
	sub, err := r.nc.SubscribeSync(inbox)
	if err != nil {
		return counts
	}
	defer sub.Unsubscribe()
	for _, t := range topics {
		if r.nc.PublishRequest(presenceSubject, inbox, []byte(t)) != nil {
			return counts
		}
	}
	deadline := time.Now().Add(PresenceWait)
	for {
		msg, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			return counts
		}
		parts := strings.SplitN(string(msg.Data), " ", 3)
		if len(parts) != 3 {
			continue
		}
		node, err1 := strconv.ParseUint(parts[0], 16, 64)
		c, err2 := strconv.Atoi(parts[1])
		if err1 == nil && err2 == nil && node != r.hub.node {
			if counts[parts[2]] == nil {
				counts[parts[2]] = map[uint64]int{}
			}
			counts[parts[2]][node] = c
		}
	}
}

// Redis: each node keeps its counts in a hash per topic, field = node id,
// value = "count:unix ms", rewritten every second; a reader ignores (and
// removes) values older than presenceTTL. The heartbeat starts only once
// presence is used: at a node's first query, which sets presenceUsedKey
// and publishes on presenceWake so that every node starts its own, and
// at a node's connection when presenceUsedKey says a query was made.
func presenceKey(topic string) string { return "pocketlua:presence:" + topic }

const (
	presenceUsedKey = "pocketlua:presence-used"
	presenceWake    = "_pocketlua.presence.on"
	presenceUsedFor = time.Hour // a query renews it, at most once a minute
)

// startHeartbeat starts the node's presence heartbeat, once.
func (r *redisRemote) startHeartbeat() {
	if r.heartbeatOn.CompareAndSwap(false, true) {
		go r.heartbeat()
	}
}

func (r *redisRemote) heartbeat() {
	reported := map[string]bool{}
	me := NodeID(r.hub.node)
	for !r.closing() {
		now := strconv.FormatInt(time.Now().UnixMilli(), 10)
		counts := r.hub.interestSnapshot()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for t, n := range counts {
				p.HSet(ctx, presenceKey(t), me, strconv.Itoa(n)+":"+now)
				p.Expire(ctx, presenceKey(t), 2*presenceTTL)
			}
			for t := range reported {
				if counts[t] == 0 {
					p.HDel(ctx, presenceKey(t), me)
				}
			}
			return nil
		})
		cancel()
		if err == nil {
			reported = map[string]bool{}
			for t := range counts {
				reported[t] = true
			}
		}
		select {
		case <-r.done:
		case <-time.After(time.Second):
		}
	}
}

// checkPresenceUsed starts the heartbeat of a node that connects after
// some node asked.
func (r *redisRemote) checkPresenceUsed() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if n, err := r.rdb.Exists(ctx, presenceUsedKey).Result(); err == nil && n > 0 {
		r.startHeartbeat()
	}
}

func (r *redisRemote) askPresence(topics []string) map[string]map[uint64]int {
	counts := map[string]map[uint64]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*PresenceWait)
	defer cancel()
	if time.Since(r.presenceAnnounced) > time.Minute {
		// The first query: every node starts its heartbeat, and has a
		// moment to write its counts before they are read.
		first := r.presenceAnnounced.IsZero()
		r.presenceAnnounced = time.Now()
		r.startHeartbeat()
		r.rdb.Set(ctx, presenceUsedKey, "1", presenceUsedFor)
		r.rdb.Publish(ctx, presenceWake, "on")
		if first {
			time.Sleep(PresenceWait)
		}
	}
	cmds := make([]*redis.MapStringStringCmd, len(topics))
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, t := range topics {
			cmds[i] = p.HGetAll(ctx, presenceKey(t))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return counts
	}
	now := time.Now().UnixMilli()
	for i, t := range topics {
		for id, v := range cmds[i].Val() {
			n, at, _ := strings.Cut(v, ":")
			node, err1 := strconv.ParseUint(id, 16, 64)
			c, err2 := strconv.Atoi(n)
			ms, err3 := strconv.ParseInt(at, 10, 64)
			if err1 != nil || err2 != nil || err3 != nil || node == r.hub.node {
				continue
			}
			if now-ms > presenceTTL.Milliseconds() {
				r.rdb.HDel(ctx, presenceKey(t), id) // a node that died
				continue
			}
			if counts[t] == nil {
				counts[t] = map[uint64]int{}
			}
			counts[t][node] = c
		}
	}
	return counts
}
