package broker

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
)

// PresenceWait bounds how long a presence query waits for other nodes.
const PresenceWait = 250 * time.Millisecond

// presenceTTL is how long a Redis node's count stays valid without a
// heartbeat: a node that dies drops out within it.
const presenceTTL = 3 * time.Second

// presencer is a Remote that can ask the other nodes for their counts.
type presencer interface {
	// others calls done, on any goroutine and within about PresenceWait,
	// with the other nodes' subscription counts to exactly topic.
	others(topic string, done func(map[uint64]int))
}

// Presence counts the subscriptions to exactly topic over every node on
// the broker (this process alone without one) and calls done, on some
// goroutine, with the total and the ids of the nodes that hold any.
func (h *Hub) Presence(topic string, done func(total int, nodes []string)) {
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
		return
	}
	p, ok := (*r).(presencer)
	if !ok || (*r).Stats().State != StateUp {
		finish(map[uint64]int{})
		return
	}
	p.others(topic, finish)
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

// NATS: every node answers a request on presenceSubject with its count;
// the asker takes what comes within PresenceWait.
const presenceSubject = "_pocketlua.presence"

func (r *natsRemote) answerPresence() {
	_, err := r.nc.Subscribe(presenceSubject, func(msg *nats.Msg) {
		if msg.Reply == "" {
			return
		}
		n := r.hub.count(string(msg.Data))
		msg.Respond([]byte(NodeID(r.hub.node) + " " + strconv.Itoa(n)))
	})
	if err != nil {
		r.log.Warn("broker: presence unavailable", "broker", r.url, "err", err.Error())
	}
}

func (r *natsRemote) others(topic string, done func(map[uint64]int)) {
	go func() {
		counts := map[uint64]int{}
		defer func() { done(counts) }()
		inbox := r.nc.NewRespInbox()
		sub, err := r.nc.SubscribeSync(inbox)
		if err != nil {
			return
		}
		defer sub.Unsubscribe()
		if r.nc.PublishRequest(presenceSubject, inbox, []byte(topic)) != nil {
			return
		}
		deadline := time.Now().Add(PresenceWait)
		for {
			msg, err := sub.NextMsg(time.Until(deadline))
			if err != nil {
				return
			}
			id, n, ok := strings.Cut(string(msg.Data), " ")
			node, err1 := strconv.ParseUint(id, 16, 64)
			c, err2 := strconv.Atoi(n)
			if ok && err1 == nil && err2 == nil && node != r.hub.node {
				counts[node] = c
			}
		}
	}()
}

// Redis: each node keeps its counts in a hash per topic, field = node id,
// value = "count:unix ms", rewritten every second; a reader ignores (and
// removes) values older than presenceTTL.
func presenceKey(topic string) string { return "pocketlua:presence:" + topic }

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

func (r *redisRemote) others(topic string, done func(map[uint64]int)) {
	go func() {
		counts := map[uint64]int{}
		defer func() { done(counts) }()
		ctx, cancel := context.WithTimeout(context.Background(), PresenceWait)
		defer cancel()
		all, err := r.rdb.HGetAll(ctx, presenceKey(topic)).Result()
		if err != nil {
			return
		}
		now := time.Now().UnixMilli()
		for id, v := range all {
			n, at, _ := strings.Cut(v, ":")
			node, err1 := strconv.ParseUint(id, 16, 64)
			c, err2 := strconv.Atoi(n)
			ms, err3 := strconv.ParseInt(at, 10, 64)
			if err1 != nil || err2 != nil || err3 != nil || node == r.hub.node {
				continue
			}
			if now-ms > presenceTTL.Milliseconds() {
				r.rdb.HDel(ctx, presenceKey(topic), id) // a node that died
				continue
			}
			counts[node] = c
		}
	}()
}
