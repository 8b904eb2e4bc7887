// Command soak runs pocketlua for a long time under mixed load and records
// whether its resources stay flat. Not part of CI.
//
//	go run ./tests/soak -d 10m -out /tmp/soak
//
// It builds pocketlua and pocketbench, starts the server with a soak script
// (soak.lua beside this file: a WebSocket echo, a room that receives a
// broadcast every 100 ms, and a stats port), and runs at once:
//
//   - pocketbench echo: -c 32 connections echoing 128-byte messages;
//   - pocketbench connect: 2 dialers connecting, echoing once, closing;
//   - 20 room members (gorilla) reading the broadcasts, sending a message
//     every second and reconnecting every 30 s;
//   - a SIGHUP reload every 15 s (the script moves open connections over).
//
// Every 10 s it records the server's RSS, open descriptors, goroutines,
// live Go heap (which holds the Lua state) and counters into soak.csv.
// soak.txt says whether each figure is flat after warm-up: the mean of the
// last third of the samples against the mean of the middle third.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

var loads, scriptFile string

func want(load string) bool { return strings.Contains(","+loads+",", ","+load+",") }

type sample struct {
	t      float64
	rssKiB int64
	fds    int64
	stats  map[string]float64
}

var columns = []string{"goroutines", "heap_bytes", "connections", "descriptors", "accepted", "messages_in",
	"messages_out", "lua_errors", "timeouts", "reloads"}

func main() {
	dur := flag.Duration("d", 10*time.Minute, "how long to run the load")
	every := flag.Duration("every", 10*time.Second, "sampling interval")
	out := flag.String("out", "soak-out", "folder for soak.csv, soak.txt and the logs")
	flag.StringVar(&loads, "load", "echo,connect,room,reload", "which loads to run (for narrowing a leak down)")
	flag.StringVar(&scriptFile, "script", "", "a Lua script to run instead of tests/soak/soak.lua (same stats port and room protocol; require \"soak_room\" gives both)")
	flag.Parse()
	if err := run(*dur, *every, *out); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(dur, every time.Duration, out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	raiseNoFile()
	root, err := repoRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(out, "bin")
	for _, p := range []string{"pocketlua", "pocketbench"} {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, p), "./cmd/"+p)
		build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building %s: %w", p, err)
		}
	}
	script := filepath.Join(root, "tests", "soak", "soak.lua")
	if scriptFile != "" {
		if script, err = filepath.Abs(scriptFile); err != nil {
			return err
		}
	}

	// The server.
	logf, err := os.Create(filepath.Join(out, "server.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	srv := exec.Command(filepath.Join(bin, "pocketlua"), "-l", "127.0.0.1:0",
		"-I", filepath.Join(root, "tests", "soak"), script)
	srv.Stderr = logf
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Process.Kill()
	addr, err := waitLogged(filepath.Join(out, "server.log"), `msg=listening addr=([^ ,]+)`)
	if err != nil {
		return fmt.Errorf("server did not start: %v", err)
	}
	statsAddr, err := waitStatsPort(filepath.Join(out, "server.log"))
	if err != nil {
		return err
	}
	pid := srv.Process.Pid
	fmt.Printf("soak: server pid %d on %s, stats on %s, %s of load, a sample every %s\n", pid, addr, statsAddr, dur, every)

	// The load.
	start := time.Now()
	deadline := start.Add(dur)
	bench := func(name string, args ...string) (*exec.Cmd, error) {
		f, err := os.Create(filepath.Join(out, name+".txt"))
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(filepath.Join(bin, "pocketbench"), args...)
		cmd.Stdout, cmd.Stderr = f, f
		return cmd, cmd.Start()
	}
	url := "ws://" + addr + "/"
	var echo, connect *exec.Cmd
	if want("echo") {
		if echo, err = bench("bench-echo", "echo", "-c", "32", "-s", "128", "-p", "1", "-d", dur.String(), "--warmup", "0s", "--url", url, "--pid", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	if want("connect") {
		if connect, err = bench("bench-connect", "connect", "-c", "2", "--echo", "-d", dur.String(), "--warmup", "0s", "--url", url); err != nil {
			return err
		}
	}
	var roomErrs, roomAcks, roomCasts, roomConns atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for i := 0; i < 20 && want("room"); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			member(addr, deadline, i, &roomErrs, &roomAcks, &roomCasts, &roomConns, &firstErr)
		}()
	}
	reloads := 0
	go func() {
		for t := time.NewTicker(15 * time.Second); want("reload") && time.Now().Add(15*time.Second).Before(deadline); <-t.C {
			if reloads > 0 || time.Since(start) > 10*time.Second {
				srv.Process.Signal(syscall.SIGHUP)
				reloads++
			}
		}
	}()

	// The samples.
	csvf, err := os.Create(filepath.Join(out, "soak.csv"))
	if err != nil {
		return err
	}
	defer csvf.Close()
	fmt.Fprintf(csvf, "t_s,rss_kib,fds,%s\n", strings.Join(columns, ","))
	var samples []sample
	for next := start.Add(every); next.Before(deadline.Add(time.Second)); next = next.Add(every) {
		time.Sleep(time.Until(next))
		s := sample{t: time.Since(start).Seconds(), rssKiB: procKiB(pid, "VmRSS:"), fds: countFDs(pid)}
		s.stats, err = readStats(statsAddr)
		if err != nil {
			return fmt.Errorf("stats at %.0fs: %w", s.t, err)
		}
		samples = append(samples, s)
		row := []string{fmt.Sprintf("%.0f", s.t), strconv.FormatInt(s.rssKiB, 10), strconv.FormatInt(s.fds, 10)}
		for _, c := range columns {
			row = append(row, strconv.FormatFloat(s.stats[c], 'f', -1, 64))
		}
		fmt.Fprintln(csvf, strings.Join(row, ","))
		fmt.Printf("soak: t=%4.0fs rss=%d KiB fds=%d goroutines=%.0f heap=%.1f MiB conns=%.0f reloads=%.0f lua_errors=%.0f\n",
			s.t, s.rssKiB, s.fds, s.stats["goroutines"], s.stats["heap_bytes"]/(1<<20), s.stats["connections"], s.stats["reloads"], s.stats["lua_errors"])
	}

	// The end: the load stops, the server must exit 0 on SIGTERM.
	wait := func(c *exec.Cmd) error {
		if c == nil {
			return errors.New("not run")
		}
		return c.Wait()
	}
	echoErr, connectErr := wait(echo), wait(connect)
	wg.Wait()
	idle := sample{rssKiB: procKiB(pid, "VmRSS:"), fds: countFDs(pid)}
	idle.stats, _ = readStats(statsAddr)
	srv.Process.Signal(syscall.SIGTERM)
	exit := make(chan error, 1)
	go func() { exit <- srv.Wait() }()
	var exitErr error
	select {
	case exitErr = <-exit:
	case <-time.After(15 * time.Second):
		exitErr = errors.New("no exit within 15 s of SIGTERM")
	}

	summary := summarize(samples, idle, dur, every)
	summary += fmt.Sprintf("\nload: pocketbench echo %s; pocketbench connect %s; room: %d connections, %d acks, %d broadcasts received, %d errors%s; %d SIGHUP reloads\n",
		status(echoErr), status(connectErr), roomConns.Load(), roomAcks.Load(), roomCasts.Load(), roomErrs.Load(), firstErrText(&firstErr), reloads)
	summary += fmt.Sprintf("server: exit after SIGTERM: %s\n", status(exitErr))
	summary += "pocketbench echo:\n" + indent(readFile(filepath.Join(out, "bench-echo.txt")))
	summary += "pocketbench connect:\n" + indent(readFile(filepath.Join(out, "bench-connect.txt")))
	if n := strings.Count(readFile(filepath.Join(out, "server.log")), "level=ERROR"); n > 0 {
		summary += fmt.Sprintf("server.log: %d ERROR lines\n", n)
	}
	if err := os.WriteFile(filepath.Join(out, "soak.txt"), []byte(summary), 0o644); err != nil {
		return err
	}
	fmt.Print(summary)
	return nil
}

// member is one room client: it reads broadcasts, sends a message every
// second, and reconnects every 30 s until the deadline.
func member(addr string, deadline time.Time, i int, errs, acks, casts, conns *atomic.Int64, first *atomic.Value) {
	fail := func(err error) {
		errs.Add(1)
		first.CompareAndSwap(nil, fmt.Sprintf("member %d: %v", i, err))
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	for n := 0; time.Now().Before(deadline); n++ {
		c, _, err := d.Dial("ws://"+addr+"/room", nil)
		if err != nil {
			fail(err)
			time.Sleep(time.Second)
			continue
		}
		conns.Add(1)
		end := time.Now().Add(30*time.Second + time.Duration(i)*time.Second)
		if end.After(deadline) {
			end = deadline
		}
		want := 0
		for seq := 0; time.Now().Before(end); seq++ {
			msg := fmt.Sprintf("m%d-%d-%d", i, n, seq)
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
				fail(err)
				break
			}
			want++
			// Read until the ack, counting broadcasts; then idle the rest of the second.
			got := false
			for tick := time.Now().Add(time.Second); !got || time.Now().Before(tick); {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				kind, p, err := c.ReadMessage()
				if err != nil {
					fail(err)
					want = -1
					break
				}
				if kind == websocket.BinaryMessage {
					casts.Add(1)
					continue
				}
				if wantAck := "ack:" + strings.Map(digitsToHash, msg); string(p) != wantAck {
					fail(fmt.Errorf("got %q, want %q", p, wantAck))
				}
				acks.Add(1)
				got = true
			}
			if want < 0 {
				break
			}
		}
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				break
			}
		}
		c.Close()
	}
}

func digitsToHash(r rune) rune {
	if r >= '0' && r <= '9' {
		return '#'
	}
	return r
}

// summarize compares the mean of the last third of the samples with the
// middle third (the first third is warm-up).
func summarize(samples []sample, idle sample, dur, every time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %s of mixed load, %d samples every %s\n", dur, len(samples), every)
	n := len(samples)
	if n < 6 {
		fmt.Fprintf(&b, "too few samples to judge flatness\n")
		return b.String()
	}
	mid, last := samples[n/3:2*n/3], samples[2*n/3:]
	type figure struct {
		name  string
		get   func(sample) float64
		unit  string
		scale float64
		slack float64 // absolute change that still counts as flat
		rel   float64 // relative change that still counts as flat
	}
	figs := []figure{
		{"RSS", func(s sample) float64 { return float64(s.rssKiB) }, "MiB", 1024, 1024, 0.05},
		{"open fds", func(s sample) float64 { return float64(s.fds) }, "", 1, 5, 0},
		{"goroutines", func(s sample) float64 { return s.stats["goroutines"] }, "", 1, 1, 0},
		{"live Go heap (incl. Lua)", func(s sample) float64 { return s.stats["heap_bytes"] }, "MiB", 1 << 20, 256 << 10, 0.05},
		{"connections", func(s sample) float64 { return s.stats["connections"] }, "", 1, 5, 0},
	}
	mean := func(ss []sample, f func(sample) float64) float64 {
		t := 0.0
		for _, s := range ss {
			t += f(s)
		}
		return t / float64(len(ss))
	}
	maxOf := func(ss []sample, f func(sample) float64) float64 {
		m := f(ss[0])
		for _, s := range ss {
			m = max(m, f(s))
		}
		return m
	}
	// slope is the least-squares trend after warm-up, per hour.
	slope := func(ss []sample, f func(sample) float64) float64 {
		var st, sy, stt, sty float64
		for _, s := range ss {
			x, y := s.t/3600, f(s)
			st, sy, stt, sty = st+x, sy+y, stt+x*x, sty+x*y
		}
		k := float64(len(ss))
		if d := k*stt - st*st; d != 0 {
			return (k*sty - st*sy) / d
		}
		return 0
	}
	fmt.Fprintf(&b, "%-26s %11s %11s %9s %10s %10s %11s  %s\n", "figure", "middle 1/3", "last 1/3", "change", "trend/h", "peak", "after load", "verdict")
	allFlat := true
	for _, f := range figs {
		a, z := mean(mid, f.get), mean(last, f.get)
		flat := z-a <= max(f.slack, f.rel*a)
		verdict := "flat"
		if !flat {
			verdict, allFlat = "GROWING", false
		}
		pct := 0.0
		if a != 0 {
			pct = 100 * (z - a) / a
		}
		fmt.Fprintf(&b, "%-26s %11.2f %11.2f %+8.1f%% %+10.2f %10.2f %11.2f  %s %s\n", f.name, a/f.scale, z/f.scale, pct,
			slope(samples[n/3:], f.get)/f.scale, maxOf(samples, f.get)/f.scale, f.get(idle)/f.scale, verdict, f.unit)
	}
	if allFlat {
		fmt.Fprintf(&b, "verdict: FLAT after warm-up (last third within 5%% or a small absolute margin of the middle third)\n")
	} else {
		fmt.Fprintf(&b, "verdict: NOT FLAT\n")
	}
	s := samples[n-1]
	fmt.Fprintf(&b, "counters at the end: accepted=%.0f messages_in=%.0f messages_out=%.0f reloads=%.0f lua_errors=%.0f timeouts=%.0f\n",
		s.stats["accepted"], s.stats["messages_in"], s.stats["messages_out"], s.stats["reloads"], s.stats["lua_errors"], s.stats["timeouts"])
	return b.String()
}

func readStats(addr string) (map[string]float64, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, kv := range strings.Fields(line) {
		k, v, _ := strings.Cut(kv, "=")
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[k] = f
		}
	}
	return out, nil
}

func waitStatsPort(logPath string) (string, error) {
	port, err := waitLogged(logPath, `msg="soak stats".* port=(\d+)`)
	return "127.0.0.1:" + port, err
}

// waitLogged waits up to 10 s for pattern in the server log and returns its
// first group.
func waitLogged(logPath, pattern string) (string, error) {
	re := regexp.MustCompile(pattern)
	for i := 0; i < 200; i++ {
		if m := re.FindStringSubmatch(readFile(logPath)); m != nil {
			return m[1], nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("no %q in the server log", pattern)
}

func procKiB(pid int, field string) int64 {
	for _, line := range strings.Split(readFile(fmt.Sprintf("/proc/%d/status", pid)), "\n") {
		if strings.HasPrefix(line, field) {
			if f := strings.Fields(line); len(f) > 1 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return -1
}

func countFDs(pid int) int64 {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return int64(len(ents))
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

func status(err error) string {
	if err == nil {
		return "ok (exit 0)"
	}
	return err.Error()
}

func firstErrText(v *atomic.Value) string {
	if s, ok := v.Load().(string); ok {
		return " (first: " + s + ")"
	}
	return ""
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run from inside the pocketlua module")
	}
	return filepath.Dir(mod), nil
}

// raiseNoFile lifts the soft descriptor limit to the hard one.
func raiseNoFile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}
