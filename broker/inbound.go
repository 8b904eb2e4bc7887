package broker

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// inbound is the queue of messages read from the broker waiting to be
// handed to the hub, bounded as the outgoing queue is: Queue.Messages,
// and Queue.Bytes counted as Message.Size counts the message a payload
// decodes to (payloadSize), so that a message weighs the same both
// ways. The adapter's reader puts without ever waiting, so that the
// connection keeps being read; what finds the queue full, by either
// bound, is dropped and counted (RemoteStats.InDropped). One goroutine,
// handOff, hands the rest on in the order they were put.
type inbound[T any] struct {
	ch       chan inItem[T]
	maxBytes int64
	bytes    atomic.Int64 // of what is in ch
	dropped  atomic.Int64
	warned   atomic.Int64 // unix nanoseconds of the last warning of drops
	log      *slog.Logger
	url      string
}

type inItem[T any] struct {
	msg  T
	size int64
}

// inDropWarnEvery spaces the warnings of inbound drops: a flood must
// not flood the log too.
const inDropWarnEvery = time.Minute

func newInbound[T any](b *remoteBase) *inbound[T] {
	return &inbound[T]{ch: make(chan inItem[T], b.queue.Messages), maxBytes: b.queue.Bytes, log: b.log, url: b.url}
}

// put queues msg, whose payload has n bytes, unless the queue is full.
func (q *inbound[T]) put(msg T, n int) {
	size := payloadSize(n)
	if !admit(&q.bytes, size, q.maxBytes) {
		q.drop()
		return
	}
	select {
	case q.ch <- inItem[T]{msg, size}:
	default:
		q.bytes.Add(-size)
		q.drop()
	}
}

func (q *inbound[T]) drop() {
	q.dropped.Add(1)
	now := time.Now().UnixNano()
	if last := q.warned.Load(); now-last >= int64(inDropWarnEvery) && q.warned.CompareAndSwap(last, now) {
		q.log.Warn("broker: messages from the broker dropped, this process hands them on too slowly (pubsub_dropped counts them)", "broker", q.url)
	}
}

// handOff gives receive what is queued, in order, until done is closed.
func (q *inbound[T]) handOff(done <-chan struct{}, receive func(T)) {
	for {
		select {
		case <-done:
			return
		case it := <-q.ch:
			q.bytes.Add(-it.size)
			receive(it.msg)
		}
	}
}

// admit adds size to queued unless that passes limit, and reports
// whether it did; a queue always takes one message, whatever its size.
func admit(queued *atomic.Int64, size, limit int64) bool {
	if q := queued.Add(size); q > limit && q != size {
		queued.Add(-size)
		return false
	}
	return true
}
