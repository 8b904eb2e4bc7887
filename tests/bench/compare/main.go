// Command compare runs pocketlua and the peer echo servers side by side under
// the same load generator (cmd/pocketbench), one server at a time, stopped
// by its PID, the servers interleaved round by round in a rotating order,
// and prints one table of medians with the ratio pocketlua/peer. Every echo
// scenario runs under both of pocketbench's arrival patterns: --loops 1
// (one client loop: messages arrive in bursts) and --loops 0 (a goroutine
// per connection: independent clients). With perf available, syscalls and
// context switches per message are counted beside. Run it from the
// repository root: bash tests/bench/compare.sh
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
	echo    bool // counted per message by perf
}

// allServers in table order. nginx-1w and nginx-2w are nginx with
// lua-resty-websocket (tests/bench/nginx/plain.conf) and 1 or 2 worker
// processes, whose CPU is summed; pocketlua runs its default poller (auto:
// io_uring where the kernel allows it), pocketlua-epoll and pocketlua-uring
// force one; baseline is a second pocketlua binary (-baseline) for A/B
// runs, on its own default.
var allServers = []string{"pocketlua", "pocketlua-epoll", "pocketlua-uring", "baseline", "gorilla", "gws", "nbio", "nginx-1w", "nginx-2w"}

// warmup is pocketbench's default unmeasured time before its window.
const warmup = time.Second

type options struct {
	root, bin, baseline string
	workers             int
	plEnv               []string
	perf                bool
}

func main() {
	root := flag.String("root", ".", "repository root")
	dur := flag.Duration("d", 5*time.Second, "duration of each echo or connect run")
	reps := flag.Int("r", 3, "repetitions (the table shows medians)")
	only := flag.String("only", "", "comma-separated scenario names to run (default all)")
	serverList := flag.String("servers", "pocketlua,gorilla,gws,nbio,nginx-1w,nginx-2w", "comma-separated servers, from "+strings.Join(allServers, ","))
	loopList := flag.String("loops", "1,0", "pocketbench echo --loops values, each echo scenario runs once per value")
	idleConns := flag.Int("idle", 10000, "connections for the idle-memory scenario")
	workers := flag.Int("workers", 1, "pocketlua --workers (baseline too)")
	baseline := flag.String("baseline", "", "a second pocketlua binary, the server named baseline (add it to -servers)")
	plEnv := flag.String("pl-env", "", "comma-separated KEY=VALUE added to pocketlua's environment (not baseline's)")
	usePerf := flag.Bool("perf", true, "count syscalls and context switches per message with perf stat, when it runs")
	flag.Parse()

	servers := splitList(*serverList)
	if len(servers) == 0 {
		check(fmt.Errorf("-servers lists no server"))
	}
	for _, s := range servers {
		if !contains(allServers, s) {
			check(fmt.Errorf("unknown server %q", s))
		}
		if s == "baseline" && *baseline == "" {
			check(fmt.Errorf("server baseline needs -baseline BINARY"))
		}
	}
	bin, err := os.MkdirTemp("", "pocketlua-compare")
	check(err)
	defer os.RemoveAll(bin)
	check(os.Chmod(bin, 0o755)) // nginx's workers drop root and read echo.lua below it
	build(*root, bin)
	o := options{root: *root, bin: bin, baseline: *baseline, workers: *workers, perf: *usePerf && perfWorks()}
	if *plEnv != "" {
		o.plEnv = splitList(*plEnv)
	}
	if *usePerf && !o.perf {
		fmt.Fprintln(os.Stderr, "compare: perf stat does not run here: no syscall counts")
	}

	d := dur.String()
	var all []scenario
	echo := func(name string, conns, size int, metrics []string) {
		for _, l := range splitList(*loopList) {
			args := []string{"echo", "-c", strconv.Itoa(conns), "-s", strconv.Itoa(size), "-d", d, "--loops", l}
			m := metrics
			if o.perf {
				m = append(append([]string{}, m...), "sys/msg", "cs/msg")
			}
			all = append(all, scenario{name + " l" + l, args, m, true})
		}
	}
	echo("echo-100x32", 100, 32, []string{"msgs/s", "msgs/cpu-s", "p99 µs"})
	echo("echo-1000x32", 1000, 32, []string{"msgs/s", "msgs/cpu-s", "p99 µs"})
	echo("echo-100x4k", 100, 4096, []string{"msgs/s", "msgs/cpu-s"})
	echo("echo-10x1m", 10, 1<<20, []string{"msgs/s", "msgs/cpu-s"})
	all = append(all,
		scenario{"connect", []string{"connect", "-c", "50", "-d", d}, []string{"hs/s", "hs/cpu-s"}, false},
		scenario{"idle", []string{"idle", "-c", strconv.Itoa(*idleConns), "--settle", "3s"}, []string{"B/conn"}, false})
	var run []scenario
	for _, s := range all {
		base, _, _ := strings.Cut(s.name, " ")
		if *only == "" || contains(splitList(*only), base) || contains(splitList(*only), s.name) {
			run = append(run, s)
		}
	}

	// results[scenario][server][metric] = samples
	results := map[string]map[string]map[string][]float64{}
	loadMin, loadMax := 1e9, 0.0
	for _, sc := range run {
		results[sc.name] = map[string]map[string][]float64{}
		for rep := 0; rep < *reps; rep++ {
			for i := range servers {
				srv := servers[(i+rep)%len(servers)] // a different server first each round
				if sc.name == "idle" && srv == "nginx-2w" {
					continue // idle reads one process's RSS
				}
				load := loadAvg()
				loadMin, loadMax = min(loadMin, load), max(loadMax, load)
				r, counts, err := runOnce(o, srv, sc, *dur)
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
				note := ""
				if counts != nil && r.MsgsPerS != nil && *r.MsgsPerS > 0 {
					msgs := *r.MsgsPerS * counts.seconds
					sys, cs := counts.syscalls/msgs, counts.switches/msgs
					add("sys/msg", &sys)
					add("cs/msg", &cs)
					note = fmt.Sprintf(" sys/msg %.2f cs/msg %.3f", sys, cs)
				}
				line := ""
				if r.MsgsPerServerCPU != nil {
					line = fmt.Sprintf(" msgs/cpu-s %.0f", *r.MsgsPerServerCPU)
				}
				fmt.Fprintf(os.Stderr, "%-18s %-9s rep %d load %.2f (errors %d)%s%s\n", sc.name, srv, rep+1, load, r.Errors, line, note)
			}
		}
	}
	printTable(run, servers, results)
	fmt.Printf("1-min load average before each run: %.2f-%.2f\n", loadMin, loadMax)
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

// start launches one server on addr and returns it with the processes
// whose CPU counts (nginx: its workers, not the master).
func start(o options, srv, addr string) (*exec.Cmd, []int, error) {
	var cmd *exec.Cmd
	switch srv {
	case "pocketlua", "pocketlua-epoll", "pocketlua-uring", "baseline":
		exe := filepath.Join(o.bin, "pocketlua")
		if srv == "baseline" {
			exe = o.baseline
		}
		args := []string{"-l", addr, "--log-level", "warn", "--max-conns", "20000", "--workers", strconv.Itoa(o.workers)}
		switch srv {
		case "pocketlua-epoll":
			args = append(args, "--poller", "epoll")
		case "pocketlua-uring":
			args = append(args, "--poller", "io_uring")
		}
		cmd = exec.Command(exe, args...)
		if srv != "baseline" && len(o.plEnv) > 0 {
			cmd.Env = append(os.Environ(), o.plEnv...)
		}
	case "nginx-1w", "nginx-2w":
		prefix, err := nginxPrefix(o, srv, addr)
		if err != nil {
			return nil, nil, err
		}
		cmd = exec.Command("nginx", "-p", prefix, "-c", "plain.conf", "-g", "pid "+prefix+"/nginx.pid;", "-e", "stderr")
	default:
		cmd = exec.Command(filepath.Join(o.bin, srv), "-l", addr)
	}
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	pids := []int{cmd.Process.Pid}
	err := waitListening(addr, 5*time.Second)
	if err == nil && strings.HasPrefix(srv, "nginx") {
		pids, err = nginxWorkers(cmd.Process.Pid, int(srv[len("nginx-")]-'0'))
	}
	if err != nil {
		stop(cmd)
		return nil, nil, err
	}
	return cmd, pids, nil
}

// nginxPrefix makes nginx's folder: plain.conf with the port and worker
// count put in, and echo.lua.
func nginxPrefix(o options, srv, addr string) (string, error) {
	prefix := filepath.Join(o.bin, srv+"-"+strings.ReplaceAll(addr, ":", "-"))
	if err := os.MkdirAll(filepath.Join(prefix, "tmp"), 0o755); err != nil {
		return "", err
	}
	conf, err := os.ReadFile(filepath.Join(o.root, "tests/bench/nginx/plain.conf"))
	if err != nil {
		return "", err
	}
	echo, err := os.ReadFile(filepath.Join(o.root, "tests/bench/nginx/echo.lua"))
	if err != nil {
		return "", err
	}
	c := strings.Replace(string(conf), "127.0.0.1:9080", addr, 1)
	c = strings.Replace(c, "worker_processes 1;", "worker_processes "+srv[len("nginx-"):len("nginx-")+1]+";", 1)
	if err := os.WriteFile(filepath.Join(prefix, "plain.conf"), []byte(c), 0o644); err != nil {
		return "", err
	}
	return prefix, os.WriteFile(filepath.Join(prefix, "echo.lua"), echo, 0o644)
}

// nginxWorkers waits up to 5 s for the master's n worker processes.
func nginxWorkers(master, n int) ([]int, error) {
	for range 50 {
		out, _ := exec.Command("pgrep", "-P", strconv.Itoa(master)).Output()
		var pids []int
		for _, f := range strings.Fields(string(out)) {
			if p, err := strconv.Atoi(f); err == nil {
				pids = append(pids, p)
			}
		}
		if len(pids) == n {
			return pids, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("nginx %d: not %d workers after 5 s", master, n)
}

// stop ends a server by its PID: SIGTERM, then SIGKILL after 10 s.
func stop(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// perfCounts are perf stat's totals over seconds of the measured window.
type perfCounts struct {
	syscalls, switches, seconds float64
}

// runOnce starts one server on a free loopback port, runs the scenario
// against it (with perf stat counting inside the measured window), and
// stops it.
func runOnce(o options, srv string, sc scenario, dur time.Duration) (*result, *perfCounts, error) {
	addr := freeAddr()
	cmd, pids, err := start(o, srv, addr)
	if err != nil {
		return nil, nil, err
	}
	defer stop(cmd)
	pidList := make([]string, len(pids))
	for i, p := range pids {
		pidList[i] = strconv.Itoa(p)
	}
	args := append(append([]string{}, sc.args...), "--url", "ws://"+addr+"/", "--pid", strings.Join(pidList, ","), "--json")
	bench := exec.Command(filepath.Join(o.bin, "pocketbench"), args...)
	var perf *exec.Cmd
	var perfOut strings.Builder
	// perf counts from the end of pocketbench's warm-up (opening the
	// connections takes well under it) for all but the last half second
	// of its window, so it sees only steady load.
	window := dur - 500*time.Millisecond
	if o.perf && sc.echo && window > 0 {
		perf = exec.Command("perf", "stat", "-x", ",", "-e", "raw_syscalls:sys_enter,context-switches",
			"-p", strings.Join(pidList, ","), "--", "sleep", strconv.FormatFloat(window.Seconds(), 'f', 3, 64))
		perf.Stderr = &perfOut
	}
	var out []byte
	benchDone := make(chan error, 1)
	go func() {
		var err error
		out, err = bench.Output()
		benchDone <- err
	}()
	if perf != nil {
		time.Sleep(warmup + 100*time.Millisecond)
		if perr := perf.Run(); perr != nil {
			perf = nil
		}
	}
	berr := <-benchDone
	var r result
	line := lastLine(out)
	if jerr := json.Unmarshal([]byte(line), &r); jerr != nil {
		return nil, nil, fmt.Errorf("pocketbench: %v; output %q", berr, line)
	}
	if perf == nil {
		return &r, nil, nil
	}
	return &r, parsePerf(perfOut.String(), window.Seconds()), nil
}

// parsePerf reads perf stat -x, lines: value,unit,event,...
func parsePerf(s string, seconds float64) *perfCounts {
	c := &perfCounts{seconds: seconds}
	found := 0
	for _, line := range strings.Split(s, "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		switch f[2] {
		case "raw_syscalls:sys_enter":
			c.syscalls, found = v, found+1
		case "context-switches":
			c.switches, found = v, found+1
		}
	}
	if found < 2 {
		return nil
	}
	return c
}

// perfWorks reports whether perf stat can count the tracepoint here.
func perfWorks() bool {
	out, err := exec.Command("perf", "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "--", "true").CombinedOutput()
	return err == nil && strings.Contains(string(out), "raw_syscalls:sys_enter") && !strings.Contains(string(out), "not supported")
}

func loadAvg() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
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

func printTable(run []scenario, servers []string, results map[string]map[string]map[string][]float64) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "scenario\tmetric\t")
	// Ratios are of the first server listed (pocketlua unless -servers
	// says otherwise) to each of the others.
	anchor, peers := servers[0], servers[1:]
	for _, s := range servers {
		fmt.Fprintf(tw, "%s\t", s)
	}
	for _, s := range peers {
		fmt.Fprintf(tw, "%s/%s\t", abbrev(anchor), s)
	}
	fmt.Fprintln(tw)
	for _, sc := range run {
		for _, m := range sc.metrics {
			fmt.Fprintf(tw, "%s\t%s\t", sc.name, m)
			meds := map[string]float64{}
			for _, s := range servers {
				if v, ok := median(results[sc.name][s][m]); ok {
					meds[s] = v
					if v < 10 {
						fmt.Fprintf(tw, "%.3f\t", v)
					} else {
						fmt.Fprintf(tw, "%.0f\t", v)
					}
				} else {
					fmt.Fprint(tw, "-\t")
				}
			}
			for _, s := range peers {
				pl, ok1 := meds[anchor]
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
	fmt.Println("\nmedians; msgs/cpu-s and hs/cpu-s are per second of the server's own CPU time")
	fmt.Println("(nginx: its workers'); l1 = pocketbench --loops 1 (bursts), l0 = --loops 0")
	fmt.Println("(independent clients); sys/msg and cs/msg: perf stat's syscalls and context")
	fmt.Println("switches per echoed message; for p99 µs, B/conn, sys/msg and cs/msg lower is")
	fmt.Println("better, so a ratio below 1 favours pocketlua.")
}

// abbrev shortens pocketlua to pl in ratio headings.
func abbrev(s string) string { return strings.Replace(s, "pocketlua", "pl", 1) }

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}
