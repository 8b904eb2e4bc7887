// Package shared is server.shared: named dictionaries every worker of a
// process reads and writes, each operation atomic under the dictionary's
// lock, with a byte capacity and least-recently-used eviction (like
// OpenResty's ngx.shared.DICT). Values are strings, float64 numbers and
// booleans. It lives as long as the process: reloads keep it.
package shared

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCapacity is a dictionary's capacity when the first caller names none.
const DefaultCapacity = 1 << 20

// DefaultMaxDicts is how many dictionaries a process may create: names
// are often built from input, and each dictionary lives until the
// process ends.
const DefaultMaxDicts = 64

// MaxName is the longest dictionary name, in bytes.
const MaxName = 255

// entryOverhead is what an entry costs besides its key and value (the
// map slot, the list links, the expiry), counted against the capacity.
const entryOverhead = 64

// Registry holds a process's dictionaries by name.
type Registry struct {
	mu        sync.Mutex
	dicts     map[string]*Dict
	maxDicts  int
	stateUsed atomic.Bool
	now       func() time.Time
}

func NewRegistry() *Registry { return NewRegistryClock(time.Now) }

// NewRegistryClock is NewRegistry on a clock of the caller's (a test's
// virtual one).
func NewRegistryClock(now func() time.Time) *Registry {
	return &Registry{dicts: make(map[string]*Dict), maxDicts: DefaultMaxDicts, now: now}
}

// SetMaxDicts bounds the number of dictionaries (--shared-max-dicts;
// 0: DefaultMaxDicts). Before the workers start.
func (r *Registry) SetMaxDicts(n int) {
	if n <= 0 {
		n = DefaultMaxDicts
	}
	r.maxDicts = n
}

// FirstStateUse reports true once per process: the first server.state
// call, for its warning under --workers.
func (r *Registry) FirstStateUse() bool { return !r.stateUsed.Swap(true) }

// Dict returns the dictionary name, made with capacity bytes (0:
// DefaultCapacity) on first use. A later call may name the same capacity
// or none.
func (r *Registry) Dict(name string, capacity int64) (*Dict, error) {
	if name == "" || len(name) > MaxName {
		return nil, fmt.Errorf("shared: a name is 1-%d bytes, got %d", MaxName, len(name))
	}
	if capacity < 0 {
		return nil, fmt.Errorf("shared: capacity must be positive, got %d", capacity)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := r.dicts[name]; ok {
		if capacity != 0 && capacity != d.capacity {
			return nil, fmt.Errorf("shared: %q exists with a capacity of %d bytes, not %d", name, d.capacity, capacity)
		}
		return d, nil
	}
	if len(r.dicts) >= r.maxDicts {
		return nil, fmt.Errorf("shared: %d dictionaries exist, the limit (--shared-max-dicts); %q would be one more", len(r.dicts), name)
	}
	if capacity == 0 {
		capacity = DefaultCapacity
	}
	d := &Dict{name: name, capacity: capacity, items: make(map[string]*entry), now: r.now}
	d.lru.prev, d.lru.next = &d.lru, &d.lru
	r.dicts[name] = d
	return d, nil
}

// Dict is one shared dictionary.
type Dict struct {
	name     string
	capacity int64
	now      func() time.Time

	mu    sync.Mutex
	used  int64
	items map[string]*entry
	lru   entry // sentinel: lru.next is the most recently used
}

type entry struct {
	key        string
	value      any
	expires    time.Time // zero: never
	prev, next *entry
}

func (e *entry) size() int64 { return int64(len(e.key)) + valueSize(e.value) + entryOverhead }

func valueSize(v any) int64 {
	if s, ok := v.(string); ok {
		return int64(len(s))
	}
	return 8
}

// Capacity is the dictionary's size in bytes.
func (d *Dict) Capacity() int64 { return d.capacity }

// Used is the bytes its entries cost now.
func (d *Dict) Used() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.used
}

// lookup finds a live entry, dropping an expired one. d.mu is held.
func (d *Dict) lookup(key string) *entry {
	e := d.items[key]
	if e == nil {
		return nil
	}
	if !e.expires.IsZero() && !d.now().Before(e.expires) {
		d.remove(e)
		return nil
	}
	return e
}

func (d *Dict) remove(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	delete(d.items, e.key)
	d.used -= e.size()
}

func (d *Dict) touch(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	d.pushFront(e)
}

func (d *Dict) pushFront(e *entry) {
	e.prev, e.next = &d.lru, d.lru.next
	d.lru.next.prev = e
	d.lru.next = e
}

func (d *Dict) expiry(ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return d.now().Add(ttl)
}

// Get returns key's value; ok is false when it is absent or expired.
func (d *Dict) Get(key string) (value any, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.lookup(key)
	if e == nil {
		return nil, false
	}
	d.touch(e)
	return e.value, true
}

// Set stores value under key, for ttl (0: no expiry), evicting the least
// recently used entries to make room.
func (d *Dict) Set(key string, value any, ttl time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.store(key, value, ttl)
}

func (d *Dict) store(key string, value any, ttl time.Duration) error {
	e := &entry{key: key, value: value, expires: d.expiry(ttl)}
	need := e.size()
	if need > d.capacity {
		return fmt.Errorf("shared %q: the value of key %q needs %d bytes (with its key and %d of bookkeeping), over the dictionary's capacity of %d",
			d.name, key, need, entryOverhead, d.capacity)
	}
	if old := d.items[key]; old != nil {
		d.remove(old)
	}
	for d.used+need > d.capacity {
		d.remove(d.lru.prev) // the least recently used
	}
	d.items[key] = e
	d.pushFront(e)
	d.used += need
	return nil
}

// Add stores value only when key is absent; false when it is present.
func (d *Dict) Add(key string, value any, ttl time.Duration) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lookup(key) != nil {
		return false, nil
	}
	return true, d.store(key, value, ttl)
}

// Incr adds n to key's number and returns the sum. An absent key starts
// at *init when init is given (without expiry), else found is false.
func (d *Dict) Incr(key string, n float64, init *float64) (sum float64, found bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.lookup(key)
	if e == nil {
		if init == nil {
			return 0, false, nil
		}
		sum = *init + n
		return sum, true, d.store(key, sum, 0)
	}
	v, ok := e.value.(float64)
	if !ok {
		return 0, true, fmt.Errorf("shared %q: incr: the value of key %q is not a number", d.name, key)
	}
	e.value = v + n
	d.touch(e)
	return v + n, true, nil
}

// Delete removes key.
func (d *Dict) Delete(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.items[key]; e != nil {
		d.remove(e)
	}
}

// TTL is the time key has left (0: no expiry); ok is false when absent.
func (d *Dict) TTL(key string) (left time.Duration, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.lookup(key)
	if e == nil {
		return 0, false
	}
	if e.expires.IsZero() {
		return 0, true
	}
	return e.expires.Sub(d.now()), true
}

// Keys lists at most max live keys (max <= 0: all), most recently used
// first.
func (d *Dict) Keys(max int) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	var out []string
	for e := d.lru.next; e != &d.lru && (max <= 0 || len(out) < max); e = e.next {
		if e.expires.IsZero() || now.Before(e.expires) {
			out = append(out, e.key)
		}
	}
	return out
}
