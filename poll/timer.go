package poll

import (
	"container/heap"
	"time"
)

// Timer is a callback the loop runs once at or after its deadline. Only the
// loop goroutine may create or stop timers.
type Timer struct {
	when  time.Time
	fn    func()
	index int // position in the heap; -1 once fired or stopped
	loop  *Loop
}

// Stop cancels the timer; it reports whether the timer was still pending.
func (t *Timer) Stop() bool {
	if t == nil || t.index < 0 {
		return false
	}
	heap.Remove(&t.loop.timers, t.index)
	return true
}

// Pending reports whether the timer has neither fired nor been stopped.
func (t *Timer) Pending() bool { return t != nil && t.index >= 0 }

type timerHeap []*Timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when.Before(h[j].when) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

// AfterFunc schedules fn to run on the loop after d.
func (l *Loop) AfterFunc(d time.Duration, fn func()) *Timer {
	t := &Timer{fn: fn, loop: l}
	l.schedule(t, d)
	return t
}

// schedule arms t, which is neither pending nor another loop's, to run
// after d: a timer armed again and again without an allocation.
func (l *Loop) schedule(t *Timer, d time.Duration) {
	// The clock, not l.now: l.now is read once per round, and a timer
	// armed late in a long round (a burst of accepts) would fire early.
	t.when = time.Now().Add(max(d, 0))
	heap.Push(&l.timers, t)
}

// runTimers fires every timer whose deadline has passed.
func (l *Loop) runTimers() {
	for len(l.timers) > 0 {
		t := l.timers[0]
		if t.when.After(l.now) {
			return
		}
		heap.Pop(&l.timers)
		t.fn()
	}
}

// waitTimeout is how long the poller may block: until the next timer, or
// not at all when output or tasks are waiting.
func (l *Loop) waitTimeout() int {
	if len(l.dirty) > 0 {
		return 0
	}
	if len(l.timers) == 0 {
		return -1
	}
	d := time.Until(l.timers[0].when)
	if d <= 0 {
		return 0
	}
	ms := int((d + time.Millisecond - 1) / time.Millisecond)
	return ms
}
