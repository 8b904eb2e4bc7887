package metrics

import (
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRegistrySumsWorkers: workers update their own slots concurrently and
// a scrape sees one series per label set, summed.
func TestRegistrySumsWorkers(t *testing.T) {
	r := NewRegistry(4, 10)
	c, err := r.Define("counter", "jobs_total", "Jobs.", []string{"kind"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := r.Define("gauge", "busy", "Busy.", nil, nil)
	h, _ := r.Define("histogram", "job_seconds", "Job time.", nil, []float64{0.5, 1})
	var wg sync.WaitGroup
	for w := 1; w <= 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				if err := r.Add(c, w, []string{"a"}, 1); err != nil {
					t.Error(err)
					return
				}
			}
			r.Set(g, w, nil, float64(w))
			r.Observe(h, w, nil, 0.5) // on a bound: counts in that bucket
			r.Observe(h, w, nil, 2)
		}()
	}
	wg.Wait()
	want := `
# HELP busy Busy.
# TYPE busy gauge
busy 10
# HELP job_seconds Job time.
# TYPE job_seconds histogram
job_seconds_bucket{le="0.5"} 4
job_seconds_bucket{le="1"} 4
job_seconds_bucket{le="+Inf"} 8
job_seconds_sum 10
job_seconds_count 8
# HELP jobs_total Jobs.
# TYPE jobs_total counter
jobs_total{kind="a"} 4000
`
	reg := prometheus.NewRegistry()
	reg.MustRegister(r)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestRegistryRefuses: redefinitions, clashes, the series cap and bad
// values fail with errors that name the problem; the old definition stays.
func TestRegistryRefuses(t *testing.T) {
	r := NewRegistry(1, 2)
	id, err := r.Define("counter", "x_total", "X.", []string{"a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := r.Define("counter", "x_total", "other help", []string{"a"}, nil); err != nil || again != id {
		t.Errorf("same definition: %d, %v; want %d", again, err, id)
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{second(r.Define("counter", "x_total", "X.", []string{"b"}, nil)), "already a counter with labels {a}"},
		{second(r.Define("histogram", "x_total", "X.", []string{"a"}, []float64{1})), "already a counter with labels {a}"},
		{second(r.Define("histogram", "h", "H.", nil, []float64{2, 1})), "buckets must increase"},
		{r.Add(id, 1, []string{"1"}, -1), "only goes up"},
		{r.Add(id, 1, []string{"\xff"}, 1), "valid UTF-8"},
		{r.Add(id, 1, nil, 1), "takes 1 label values, got 0"},
		{r.Set(id, 1, []string{"1"}, 1), "has no set"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("error %v, want %q", tc.err, tc.want)
		}
	}
	if _, err := r.Define("histogram", "lat", "L.", nil, []float64{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Define("counter", "lat_sum", "L.", nil, nil); err == nil || !strings.Contains(err.Error(), `clash with the histogram or metric "lat"`) {
		t.Errorf("lat_sum beside histogram lat: %v", err)
	}
	r.Add(id, 1, []string{"1"}, 1)
	r.Add(id, 1, []string{"2"}, 1)
	if err := r.Add(id, 1, []string{"3"}, 1); err == nil || !strings.Contains(err.Error(), "has 2 label sets already") {
		t.Errorf("third label set under a cap of 2: %v", err)
	}
	if err := r.Add(id, 1, []string{"2"}, 1); err != nil {
		t.Errorf("an existing label set past the cap: %v", err)
	}
}

func second(_ int, err error) error { return err }
