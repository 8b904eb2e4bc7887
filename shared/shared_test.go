package shared

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	d, _ := NewRegistry().Dict("d", 3*(entryOverhead+1+10))
	for _, k := range []string{"a", "b", "c"} {
		if err := d.Set(k, strings.Repeat(k, 10), 0); err != nil {
			t.Fatal(err)
		}
	}
	d.Get("a") // b is now the least recently used
	d.Set("d", strings.Repeat("d", 10), 0)
	if _, ok := d.Get("b"); ok {
		t.Fatal("b survived; it was the least recently used")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := d.Get(k); !ok {
			t.Fatalf("%s was evicted", k)
		}
	}
	if d.Used() > d.Capacity() {
		t.Fatalf("used %d over capacity %d", d.Used(), d.Capacity())
	}
	err := d.Set("big", strings.Repeat("x", int(d.Capacity())), 0)
	if err == nil || !strings.Contains(err.Error(), "over the dictionary's capacity") {
		t.Fatalf("a value bigger than the dictionary: %v", err)
	}
	if _, ok := d.Get("a"); !ok {
		t.Fatal("a refused value evicted others")
	}
	d.Delete("a")
	d.Delete("c")
	d.Delete("d")
	if d.Used() != 0 || len(d.Keys(0)) != 0 {
		t.Fatalf("after deleting everything: used %d, keys %v", d.Used(), d.Keys(0))
	}
}

func TestTTLAndTypes(t *testing.T) {
	now := time.Unix(1000, 0)
	d, _ := NewRegistryClock(func() time.Time { return now }).Dict("d", 0)
	d.Set("s", "x", 2*time.Second)
	d.Set("f", 1.5, 0)
	d.Set("b", false, 0)
	if left, ok := d.TTL("s"); !ok || left != 2*time.Second {
		t.Fatalf("ttl %v %v", left, ok)
	}
	if left, ok := d.TTL("f"); !ok || left != 0 {
		t.Fatalf("no expiry: %v %v", left, ok)
	}
	if added, _ := d.Add("s", "y", 0); added {
		t.Fatal("add over a live key")
	}
	now = now.Add(2 * time.Second)
	if _, ok := d.Get("s"); ok {
		t.Fatal("expired key still there")
	}
	if added, _ := d.Add("s", "y", 0); !added {
		t.Fatal("add over an expired key refused")
	}
	if v, _ := d.Get("b"); v != false {
		t.Fatalf("bool %v", v)
	}
	if sum, found, err := d.Incr("f", 2, nil); !found || err != nil || sum != 3.5 {
		t.Fatalf("incr: %v %v %v", sum, found, err)
	}
	if _, found, _ := d.Incr("none", 1, nil); found {
		t.Fatal("incr of an absent key without init")
	}
	if _, _, err := d.Incr("s", 1, nil); err == nil {
		t.Fatal("incr of a string")
	}
	if _, err := (&Registry{dicts: map[string]*Dict{"d": d}}).Dict("d", 5); err == nil {
		t.Fatal("a second capacity for one name")
	}
}

// TestIncrIsAtomic: increments from many goroutines are all counted.
func TestIncrIsAtomic(t *testing.T) {
	r := NewRegistry()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, _ := r.Dict("c", 0)
			zero := 0.0
			for j := range 1000 {
				d.Incr("n", 1, &zero)
				d.Set(fmt.Sprint(i, j), "v", 0)
			}
		}()
	}
	wg.Wait()
	d, _ := r.Dict("c", 0)
	if v, _ := d.Get("n"); v != 8000.0 {
		t.Fatalf("n = %v, want 8000", v)
	}
}
