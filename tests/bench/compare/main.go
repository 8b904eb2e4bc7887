// Command compare runs pocketlua and the peer echo servers side by side under
// the same load generator (cmd/pocketbench), alternating servers and
// repeating each scenario, and prints one table of medians with the ratio
// pocketlua/peer. Run it from the repository root: bash tests/bench/compare.sh
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

type result struct {
	MsgsPerS         *float64 `json:"msgs_per_s"`
	MsgsPerServerCPU *float64 `json:"msgs_per_server_cpu_s"`
	P99us            *float64 `json:"p99_us"`
	RSSPer           *float64 `json:"rss_per_conn_bytes"`
	HandshakesPerS   *float64 `json:"handshakes_per_s"`
	HandshakesPerCPU *float64 `json:"handshakes_per_server_cpu_s"`
	Errors           uint64   `json:"errors"`
}

// scenario is one pocketbench invocation; metrics names what the table shows.
type scenario struct {
	name    string
	args    []string
	metrics []string
}

var servers = []string{"pocketlua", "gorilla", "gws", "nbio"}

func main() {
	root := flag.String("root", ".", "repository root")
	dur := flag.Duration("d", 5*time.Second, "duration of each echo or connect run")
	reps := flag.Int("r", 3, "repetitions (the table shows medians)")
	only := flag.String("only", "", "comma-separated scenario names to run (default all)")
	idleConns := flag.Int("idle", 10000, "connections for the idle-memory scenario")
	workers := flag.Int("workers", 1, "pocketlua --workers")
	flag.Parse()

	bin, err := os.MkdirTemp("", "pocketlua-compare")
	check(err)
	defer os.RemoveAll(bin)
	build(*root, bin)

	d := dur.String()
	all := []scenario{
		{"echo-100x32", []string{"echo", "-c", "100", "-s", "32", "-d", d}, []string{"msgs/s", "msgs/cpu-s", "p99 µs"}},
		{"echo-1000x32", []string{"echo", "-c", "1000", "-s", "32", "-d", d}, []string{"msgs/s", "msgs/cpu-s", "p99 µs"}},
		{"echo-100x4k", []string{"echo", "-c", "100", "-s", "4096", "-d", d}, []string{"msgs/s", "msgs/cpu-s"}},
		{"echo-10x1m", []string{"echo", "-c", "10", "-s", "1048576", "-d", d}, []string{"msgs/s", "msgs/cpu-s"}},
		{"connect", []string{"connect", "-c", "50", "-d", d}, []string{"hs/s", "hs/cpu-s"}},
		{"idle", []string{"idle", "-c", strconv.Itoa(*idleConns), "--settle", "3s"}, []string{"B/conn"}},
	}
	var run []scenario
	for _, s := range all {
		if *only == "" || strings.Contains(","+*only+",", ","+s.name+",") {
			run = append(run, s)
		}
	}

	// results[scenario][server][metric] = samples
	results := map[string]map[string]map[string][]float64{}
	for _, sc := range run {
		results[sc.name] = map[string]map[string][]float64{}
		for rep := 0; rep < *reps; rep++ {
			for _, srv := range servers {
				r, err := runOnce(bin, srv, sc, *workers)
				if err != nil {
					fmt.Fprintf(os.Stderr, "%s %s rep %d: %v\n", sc.name, srv, rep+1, err)
					continue
				}
				m := results[sc.name][srv]
				if m == nil {
					m = map[string][]float64{}
					results[sc.name][srv] = m
				}
				add := func(k string, v *float64) {
					if v != nil {
						m[k] = append(m[k], *v)
					}
				}
				add("msgs/s", r.MsgsPerS)
				add("msgs/cpu-s", r.MsgsPerServerCPU)
				add("p99 µs", r.P99us)
				add("B/conn", r.RSSPer)
				add("hs/s", r.HandshakesPerS)
				add("hs/cpu-s", r.HandshakesPerCPU)
				fmt.Fprintf(os.Stderr, "%-13s %-9s rep %d done (errors %d)\n", sc.name, srv, rep+1, r.Errors)
			}
		}
	}
	printTable(run, results)
}

func build(root, bin string) {
	steps := [][]string{
		{root, "go", "build", "-o", bin, "./cmd/pocketlua", "./cmd/pocketbench"},
		{filepath.Join(root, "tests/bench"), "go", "build", "-o", bin, "./gorilla", "./gws", "./nbio"},
	}
	for _, s := range steps {
		cmd := exec.Command(s[1], s[2:]...)
		cmd.Dir = s[0]
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		check(cmd.Run())
	}
}

// runOnce starts one server on a free loopback port, runs the scenario
// against it, and stops it.
func runOnce(bin, srv string, sc scenario, workers int) (*result, error) {
	addr := freeAddr()
	var cmd *exec.Cmd
	if srv == "pocketlua" {
		cmd = exec.Command(filepath.Join(bin, "pocketlua"), "-l", addr, "--log-level", "warn", "--workers", strconv.Itoa(workers))
	} else {
		cmd = exec.Command(filepath.Join(bin, srv), "-l", addr)
	}
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	if err := waitListening(addr, 5*time.Second); err != nil {
		return nil, err
	}
	args := append(append([]string{}, sc.args...), "--url", "ws://"+addr+"/", "--pid", strconv.Itoa(cmd.Process.Pid), "--json")
	out, err := exec.Command(filepath.Join(bin, "pocketbench"), args...).Output()
	var r result
	line := lastLine(out)
	if jerr := json.Unmarshal([]byte(line), &r); jerr != nil {
		return nil, fmt.Errorf("pocketbench: %v; output %q", err, line)
	}
	return &r, nil
}

func lastLine(b []byte) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); strings.HasPrefix(t, "{") {
			last = t
		}
	}
	return last
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().String()
}

func waitListening(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s not listening after %s", addr, d)
}

func median(v []float64) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

func printTable(run []scenario, results map[string]map[string]map[string][]float64) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "scenario\tmetric\t")
	for _, s := range servers {
		fmt.Fprintf(tw, "%s\t", s)
	}
	for _, s := range servers[1:] {
		fmt.Fprintf(tw, "pl/%s\t", s)
	}
	fmt.Fprintln(tw)
	for _, sc := range run {
		for _, m := range sc.metrics {
			fmt.Fprintf(tw, "%s\t%s\t", sc.name, m)
			meds := map[string]float64{}
			for _, s := range servers {
				if v, ok := median(results[sc.name][s][m]); ok {
					meds[s] = v
					fmt.Fprintf(tw, "%.0f\t", v)
				} else {
					fmt.Fprint(tw, "-\t")
				}
			}
			for _, s := range servers[1:] {
				pl, ok1 := meds["pocketlua"]
				p, ok2 := meds[s]
				if ok1 && ok2 && p != 0 {
					fmt.Fprintf(tw, "%.2f\t", pl/p)
				} else {
					fmt.Fprint(tw, "-\t")
				}
			}
			fmt.Fprintln(tw)
		}
	}
	tw.Flush()
	fmt.Println("\nmedians; msgs/cpu-s and hs/cpu-s are per second of the server's own CPU time;")
	fmt.Println("for p99 µs and B/conn lower is better, so a ratio below 1 favours pocketlua.")
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}
