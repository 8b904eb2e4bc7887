// Command startup measures how fast pocketlua starts: the time from exec to
// the first accepted connection answered (a WebSocket handshake against the
// embedded echo.lua), the package init cost from GODEBUG=inittrace=1, and,
// for scale, the exec-to-exit time of an empty Go program. It prints the
// median of -n runs of each. Run it from the repository root:
//
//	bash tests/bench/startup.sh [-n 20]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	root := flag.String("root", ".", "the repository root")
	n := flag.Int("n", 20, "runs of each measurement")
	bin := flag.String("bin", "", "a pocketlua binary (default: build one)")
	flag.Parse()
	if *n < 1 || *n > 1000 {
		fail(fmt.Errorf("-n must be between 1 and 1000"))
	}
	tmp, err := os.MkdirTemp("", "pocketlua-startup")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	if *bin == "" {
		*bin = filepath.Join(tmp, "pocketlua")
		build(*root, *bin, "./cmd/pocketlua")
	}
	empty := filepath.Join(tmp, "empty")
	if err := os.WriteFile(empty+".go", []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		fail(err)
	}
	build(tmp, empty, empty+".go")

	fmt.Printf("%d runs each, medians (min-max)\n", *n)
	report("empty Go program, exec to exit", repeat(*n, func() time.Duration { return runToExit(empty) }))
	inits, lastInit := initTrace(*bin, *n)
	report("package init, sum of inittrace clock", inits)
	report("package init, exec to the end of the last init", lastInit)
	listen, answered := firstConnection(*bin, *n)
	report("exec to first connect (listening)", listen)
	report("exec to first connection answered (101)", answered)
}

func build(dir, out, pkg string) {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fail(fmt.Errorf("go build %s: %w", pkg, err))
	}
}

func repeat(n int, f func() time.Duration) []time.Duration {
	var ds []time.Duration
	for i := 0; i < n; i++ {
		ds = append(ds, f())
	}
	return ds
}

func runToExit(path string) time.Duration {
	start := time.Now()
	if err := exec.Command(path).Run(); err != nil {
		fail(err)
	}
	return time.Since(start)
}

// initLine is one line of GODEBUG=inittrace=1: "init pkg @0.39 ms, 0.069 ms clock, ...".
var initLine = regexp.MustCompile(`^init (\S+) @([\d.]+) ms, ([\d.]+) ms clock`)

// initTrace returns, per run, the sum of the packages' init clock times and
// the time from process start to the end of the last init.
func initTrace(bin string, n int) (sums, ends []time.Duration) {
	for i := 0; i < n; i++ {
		cmd := exec.Command(bin, "--version")
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			fail(fmt.Errorf("%s --version: %v\n%s", bin, err, out))
		}
		var sum, end float64
		for _, line := range strings.Split(string(out), "\n") {
			m := initLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			at, _ := strconv.ParseFloat(m[2], 64)
			clock, _ := strconv.ParseFloat(m[3], 64)
			sum += clock
			end = max(end, at+clock)
		}
		sums = append(sums, ms(sum))
		ends = append(ends, ms(end))
	}
	return sums, ends
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// firstConnection starts the server n times on a free loopback port and
// dials until a connection is accepted, then sends a WebSocket handshake
// and waits for the 101.
func firstConnection(bin string, n int) (listen, answered []time.Duration) {
	const req = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	for i := 0; i < n; i++ {
		addr := freePort()
		start := time.Now()
		cmd := exec.Command(bin, "-l", addr)
		if err := cmd.Start(); err != nil {
			fail(err)
		}
		var conn net.Conn
		var err error
		for deadline := start.Add(10 * time.Second); ; {
			if conn, err = net.Dial("tcp", addr); err == nil {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				fail(fmt.Errorf("pocketlua did not listen on %s within 10s: %v", addr, err))
			}
			time.Sleep(100 * time.Microsecond)
		}
		listen = append(listen, time.Since(start))
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write([]byte(req)); err != nil {
			fail(err)
		}
		status, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil || !strings.HasPrefix(status, "HTTP/1.1 101 ") {
			fail(fmt.Errorf("handshake answer %q: %v", status, err))
		}
		answered = append(answered, time.Since(start))
		conn.Close()
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	return listen, answered
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func report(what string, ds []time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	median := ds[len(ds)/2]
	if len(ds)%2 == 0 {
		median = (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
	}
	fmt.Printf("%-50s %7.2f ms  (%.2f-%.2f)\n", what, msOf(median), msOf(ds[0]), msOf(ds[len(ds)-1]))
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "startup:", err)
	os.Exit(1)
}
