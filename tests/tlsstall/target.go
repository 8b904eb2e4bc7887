//go:build linux

package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// A target is a WebSocket echo server someone else started: any server
// (pocketlua, gws, nginx) measured the same way, over wss, by the CPU and
// RSS of the process given by -pid (for nginx, its one worker).
type target struct {
	url  string
	pid  int
	pool *x509.CertPool
}

func newTarget(url string, pid int, caFile string) (*target, error) {
	if pid <= 0 {
		return nil, errors.New("-target needs -pid (the server process to measure)")
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", pid)); err != nil {
		return nil, fmt.Errorf("-pid %d: %w", pid, err)
	}
	pool := x509.NewCertPool()
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("-ca %s: no certificate", caFile)
		}
	}
	return &target{url: url, pid: pid, pool: pool}, nil
}

// writeBuffers lets a 16 KiB message leave as one frame (gorilla splits a
// message larger than its write buffer into frames of that size, 4 KiB
// by default), so the server reads a whole 16 KiB TLS record; pooled, so
// idle clients hold none.
var writeBuffers = &sync.Pool{}

func (t *target) dialer(cache tls.ClientSessionCache) *websocket.Dialer {
	return &websocket.Dialer{HandshakeTimeout: 10 * time.Second, WriteBufferSize: 32 << 10, WriteBufferPool: writeBuffers, TLSClientConfig: &tls.Config{
		RootCAs: t.pool, ServerName: "localhost", MinVersion: tls.VersionTLS13, ClientSessionCache: cache}}
}

// echoOnce sends msg and checks that the same bytes come back.
func echoOnce(c *websocket.Conn, msg []byte) error {
	c.SetWriteDeadline(time.Now().Add(20 * time.Second))
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
		return err
	}
	_, got, err := c.ReadMessage()
	if err == nil && !bytes.Equal(got, msg) {
		err = fmt.Errorf("echo of %d bytes came back as %d different bytes", len(msg), len(got))
	}
	return err
}

// handshakes: 8 clients each dialling wss (TLS 1.3 handshake, then the
// HTTP upgrade), one 1-byte echo (which also takes in the session ticket)
// and a close, for d; full ones, then resumed ones.
func (t *target) handshakes(d time.Duration) error {
	for _, resumed := range []bool{false, true} {
		var cache tls.ClientSessionCache
		if resumed {
			cache = tls.NewLRUClientSessionCache(64)
			// One full handshake first, so that every counted one can resume.
			c, _, err := t.dialer(cache).Dial(t.url, nil)
			if err != nil {
				return err
			}
			echoOnce(c, []byte{'x'})
			c.Close()
		}
		cpu0 := cpuSeconds(t.pid)
		start := time.Now()
		type result struct{ ok, failed int }
		results := make(chan result, 8)
		for range 8 {
			go func() {
				var r result
				for time.Since(start) < d {
					c, _, err := t.dialer(cache).Dial(t.url, nil)
					if err != nil {
						r.failed++
						continue
					}
					if echoOnce(c, []byte{'x'}) == nil && c.NetConn().(*tls.Conn).ConnectionState().DidResume == resumed {
						r.ok++
					} else {
						r.failed++
					}
					c.Close()
				}
				results <- r
			}()
		}
		var total result
		for range 8 {
			r := <-results
			total.ok += r.ok
			total.failed += r.failed
		}
		elapsed := time.Since(start).Seconds()
		cpu, err := t.cpuSince(cpu0)
		if err != nil {
			return err
		}
		name := "full"
		if resumed {
			name = "resumed"
		}
		fmt.Printf("%-8s handshakes: %6.0f/s, %6.0f per server CPU-second (%d in %.1f s, %d failed or not as asked, server CPU %.2f s)\n",
			name, float64(total.ok)/elapsed, float64(total.ok)/cpu, total.ok, elapsed, total.failed, cpu)
	}
	return nil
}

// echo: n connections each sending a 64-byte message and waiting for its
// echo in a loop for d.
func (t *target) echo(n int, d time.Duration) error {
	if err := raiseFiles(n); err != nil {
		return err
	}
	var conns []*websocket.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, _, err := t.dialer(nil).Dial(t.url, nil)
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	cpu0 := cpuSeconds(t.pid)
	start := time.Now()
	counts := make(chan int, n)
	for _, c := range conns {
		go func() {
			msg := make([]byte, 64)
			k := 0
			for time.Since(start) < d && echoOnce(c, msg) == nil {
				k++
			}
			counts <- k
		}()
	}
	total := 0
	for range conns {
		total += <-counts
	}
	cpu, err := t.cpuSince(cpu0)
	if err != nil {
		return err
	}
	fmt.Printf("wss %d clients: %7.0f echoes/s, %7.0f per server CPU-second (server CPU %.2f s)\n",
		n, float64(total)/time.Since(start).Seconds(), float64(total)/cpu, cpu)
	return nil
}

// idle: RSS per connection for n idle wss connections, after one 16-byte
// echo each and after one 16 KiB echo each (2 s later each time).
func (t *target) idle(n int) error {
	if err := raiseFiles(n); err != nil {
		return err
	}
	var conns []*websocket.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	base := rssKiB(t.pid)
	small, large := make([]byte, 16), make([]byte, 16<<10)
	for i := range large {
		large[i] = 'a' + byte(i%26)
	}
	for range n {
		c, _, err := t.dialer(nil).Dial(t.url, nil)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		if err := echoOnce(c, small); err != nil {
			return err
		}
	}
	time.Sleep(2 * time.Second)
	afterSmall := rssKiB(t.pid)
	for _, c := range conns {
		if err := echoOnce(c, large); err != nil {
			return err
		}
	}
	time.Sleep(2 * time.Second)
	afterLarge := rssKiB(t.pid)
	fmt.Printf("wss %d idle connections: %.1f KiB each after a 16-byte echo, %.1f KiB after a 16 KiB echo (RSS %d -> %d -> %d KiB)\n",
		n, float64(afterSmall-base)/float64(n), float64(afterLarge-base)/float64(n), base, afterSmall, afterLarge)
	return nil
}

// cpuSince is the server's CPU time since cpu0; an error when the process
// is gone (its /proc entry reads as zero) or spent none.
func (t *target) cpuSince(cpu0 float64) (float64, error) {
	cpu := cpuSeconds(t.pid) - cpu0
	if cpu <= 0 {
		return 0, fmt.Errorf("process %d used no CPU time in the run (gone, or not the server?)", t.pid)
	}
	return cpu, nil
}

func raiseFiles(n int) error {
	lim := syscall.Rlimit{Cur: uint64(n) + 1024, Max: uint64(n) + 1024}
	var cur syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur) == nil && cur.Cur >= lim.Cur {
		return nil
	}
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// writeCertificate puts the throwaway certificate the servers share in dir
// as cert.pem and key.pem.
func writeCertificate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	cert, key, _, err := certificate(dir)
	if err != nil {
		return err
	}
	fmt.Println(filepath.Clean(cert), filepath.Clean(key))
	return nil
}
