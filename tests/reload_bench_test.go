package tests

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// rlRawFiles is the raw TCP script of the reload benchmarks (see
// tests/testdata/reload/raw_main.lua) and its tag module.
func rlRawFiles(tb testing.TB, tag string, reloaded bool) map[string]string {
	return map[string]string{"tag.lua": rlLuaString(tag), "main.lua": renderTestdata(tb, "reload/raw_main.lua", reloaded)}
}

// rlRawConn is a line-oriented raw TCP client.
type rlRawConn struct {
	c net.Conn
	r *bufio.Reader
}

func rlRawDial(addr string) (*rlRawConn, error) {
	c, err := net.DialTimeout("tcp", addr, rlIOTimeout)
	if err != nil {
		return nil, err
	}
	return &rlRawConn{c: c, r: bufio.NewReader(c)}, nil
}

func (c *rlRawConn) ask(line string) (string, error) {
	c.c.SetDeadline(time.Now().Add(rlIOTimeout))
	if _, err := c.c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	s, err := c.r.ReadString('\n')
	return strings.TrimSuffix(s, "\n"), err
}

// BenchmarkWatchEditToLive: with --watch, the time from writing a module
// to the first new connection served by the new version (ns/op, and
// ms/op as a custom metric). The probe is a fresh TCP connection per try.
func BenchmarkWatchEditToLive(b *testing.B) {
	dir := b.TempDir()
	rlWriteFiles(b, dir, rlRawFiles(b, "E0", false))
	srv := launch{}.start(b, "--watch", filepath.Join(dir, "main.lua"))
	probe := func() string {
		c, err := rlRawDial(srv.Addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.c.Close()
		s, err := c.ask("x")
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	if got := probe(); got != "E0" {
		b.Fatalf("first probe answered %q", got)
	}
	var total time.Duration
	var all []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tag := fmt.Sprintf("E%d", i+1)
		start := time.Now()
		if err := os.WriteFile(filepath.Join(dir, "tag.lua"), []byte(rlLuaString(tag)), 0o644); err != nil {
			b.Fatal(err)
		}
		for tries := 0; probe() != tag; tries++ {
			if time.Since(start) > 5*time.Second {
				b.Fatalf("edit %d not live after 5 s; logs:\n%s", i+1, rlTail(srv.Logs(), 3000))
			}
		}
		d := time.Since(start)
		total += d
		all = append(all, d)
		b.StopTimer()
		time.Sleep(50 * time.Millisecond) // edits far enough apart not to coalesce
		b.StartTimer()
	}
	b.StopTimer()
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(total)/float64(b.N)/1e6, "ms/op")
	b.ReportMetric(float64(all[len(all)*9/10])/1e6, "p90-ms")
	b.ReportMetric(float64(all[len(all)-1])/1e6, "max-ms")
	if fs := rlFailures(srv.Logs()); len(fs) != 0 {
		b.Fatalf("reloads failed: %+v", fs)
	}
	srv.stop()
}

// rlRaiseNoFile lifts the soft RLIMIT_NOFILE to the hard limit and returns it.
func rlRaiseNoFile(tb testing.TB) uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		tb.Fatal(err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			tb.Fatal(err)
		}
	}
	return rl.Cur
}

// BenchmarkReloadPause10k: 10,000 open raw TCP connections, SIGHUP reloads
// with and without a reloaded method (which then migrates all 10,000
// instances every time). Reported: the loop's pause per reload as the
// server logs it ("reloaded ... pause="), mean and max, and the worst
// round trip a ping-pong client saw meanwhile (the pause from outside).
// ns/op is SIGHUP to the reloaded line read back from the log.
func BenchmarkReloadPause10k(b *testing.B) {
	const conns = 10000
	if lim := rlRaiseNoFile(b); lim < conns+1000 {
		b.Skipf("RLIMIT_NOFILE hard limit %d is too low for %d connections", lim, conns)
	}
	dir := b.TempDir()
	rlWriteFiles(b, dir, rlRawFiles(b, "P0", false))
	srv := launch{}.start(b, filepath.Join(dir, "main.lua"))

	open := make([]net.Conn, conns)
	var wg sync.WaitGroup
	var dialErr atomic.Value
	const dialers = 8
	for w := range dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < conns; i += dialers {
				c, err := net.DialTimeout("tcp", srv.Addr, rlIOTimeout)
				if err != nil {
					dialErr.Store(err)
					return
				}
				open[i] = c
			}
		}()
	}
	wg.Wait()
	b.Cleanup(func() {
		for _, c := range open {
			if c != nil {
				c.Close()
			}
		}
	})
	if err, _ := dialErr.Load().(error); err != nil {
		b.Fatalf("opening %d connections: %v", conns, err)
	}
	ctl, err := rlRawDial(srv.Addr)
	if err != nil {
		b.Fatal(err)
	}
	defer ctl.c.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := ctl.ask("count")
		if err != nil {
			b.Fatal(err)
		}
		if n == fmt.Sprint(conns+1) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("server has %s connections, want %d", n, conns+1)
		}
		time.Sleep(10 * time.Millisecond)
	}

	version := 1
	for _, variant := range []struct {
		name     string
		reloaded bool
	}{{"plain", false}, {"reloaded", true}} {
		b.Run(variant.name, func(b *testing.B) {
			// A ping-pong client measures the loop's responsiveness from outside.
			var stop atomic.Bool
			var worst atomic.Int64
			pingDone := make(chan error, 1)
			go func() {
				for !stop.Load() {
					t0 := time.Now()
					if _, err := ctl.ask("ping"); err != nil {
						pingDone <- err
						return
					}
					if d := int64(time.Since(t0)); d > worst.Load() {
						worst.Store(d)
					}
				}
				pingDone <- nil
			}()
			var sum, longest time.Duration
			migrated := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				rlWriteFiles(b, dir, rlRawFiles(b, fmt.Sprintf("P%d", version+1), variant.reloaded))
				b.StartTimer()
				if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
					b.Fatal(err)
				}
				logs := rlWaitLog(b, srv.Logs, 30*time.Second, fmt.Sprintf("reloaded version=%d", version+1),
					func(l string) bool { return len(rlReloads(l)) >= version })
				version++
				r := rlReloads(logs)[version-2]
				if r.version != version || r.conns != conns+1 || r.migrationFailed != 0 {
					b.Fatalf("reload logged as %+v, want version=%d connections=%d", r, version, conns+1)
				}
				if variant.reloaded && r.migrated != conns+1 {
					b.Fatalf("reload migrated %d instances, want %d", r.migrated, conns+1)
				}
				sum += r.pause
				longest = max(longest, r.pause)
				migrated += r.migrated
			}
			b.StopTimer()
			stop.Store(true)
			if err := <-pingDone; err != nil {
				b.Fatalf("ping client: %v", err)
			}
			b.ReportMetric(float64(sum)/float64(b.N)/1e6, "ms/reload")
			b.ReportMetric(float64(longest)/1e6, "max-ms/reload")
			b.ReportMetric(float64(worst.Load())/1e6, "max-ping-ms")
			b.ReportMetric(float64(migrated)/float64(b.N), "migrated/reload")
		})
	}
	if fs := rlFailures(srv.Logs()); len(fs) != 0 {
		b.Fatalf("reloads failed: %+v", fs)
	}
}
