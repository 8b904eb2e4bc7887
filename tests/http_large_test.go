package tests

import (
	"path/filepath"
	"testing"
	"time"
)

// httpLargeSize is the file the large-transfer tests move (HTTP and FTP).
const httpLargeSize = 50 << 20

// httpLargeFlags make backpressure mandatory: a server that queued a file
// faster than the client reads would pass 4 MiB of queued output and be
// dropped as a slow consumer, failing the download.
//
// --gc-reserve 0: these tests bound what streaming holds; the reserve's
// extra garbage headroom under load (up to ~8 MiB, by design; see
// docs/PERFORMANCE.md) is a GC policy, tested in gc_memory_test.go.
var httpLargeFlags = []string{"--high-water", "262144", "--low-water", "65536", "--max-queued-bytes", "4194304", "--gc-reserve", "0"}

// httpLargeRSSLimit bounds how much the server's peak resident memory may
// grow while it moves a 50 MiB file: measured at 3-6 MiB; a race-built
// server keeps shadow memory for its heap's churn (measured up to 25 MiB).
func httpLargeRSSLimit() int {
	if raceEnabled {
		return 40 << 10
	}
	return 16 << 10
}

// TestHTTPLargeFile: a 50 MiB file reaches a slow curl (25 MB/s) whole,
// streamed in chunks with backpressure under a 4 MiB queue cap, while the
// server's resident memory stays far below the file's size.
func TestHTTPLargeFile(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		root, _ := httpSite(t)
		sum := httpBigFile(t, filepath.Join(root, "big.bin"), httpLargeSize)
		srv := batteryServer(t, poller, append(httpLargeFlags, httpScript(t, root, ""))...)
		base := "http://" + srv.Addr
		// warm up (first chunks, GC) before the baseline
		curlOK(t, "-o", filepath.Join(t.TempDir(), "small"), base+"/hello.txt")
		before := srv.procStatus("VmRSS")

		out := filepath.Join(t.TempDir(), "slow.bin")
		start := time.Now()
		curlOK(t, "--limit-rate", "25M", "-o", out, base+"/big.bin")
		elapsed := time.Since(start)
		if fileSum(t, out) != sum {
			t.Fatal("the download differs from the file")
		}
		peak := srv.procStatus("VmHWM")
		growth := peak - before
		t.Logf("%s: 50 MiB at up to 25 MB/s in %s; RSS %d KiB before, peak %d KiB (+%d KiB)",
			poller, elapsed.Round(time.Millisecond), before, peak, growth)
		if limit := httpLargeRSSLimit(); growth > limit {
			t.Errorf("peak RSS grew by %d KiB while streaming 50 MiB; want under %d KiB", growth, limit)
		}
		srv.stop()
	})
}
