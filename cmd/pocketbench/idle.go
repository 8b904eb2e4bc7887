package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fdReserve is what the process needs besides the connections: stdio, the
// runtime's epoll and eventfd, /proc reads.
const fdReserve = 32

// ephemeralPorts is the size of net.ipv4.ip_local_port_range (default 28232).
func ephemeralPorts() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 28232
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 28232
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || hi < lo {
		return 28232
	}
	return hi - lo + 1
}

// checkCapacity fails early and clearly when conns cannot all be opened.
func checkCapacity(conns int, tgt *target) error {
	limit, err := raiseNoFile()
	if err != nil {
		return err
	}
	if uint64(conns)+fdReserve > limit {
		return fmt.Errorf("cannot open %d connections: RLIMIT_NOFILE is %d (already raised to the hard limit); raise the hard limit (ulimit -Hn, or systemd LimitNOFILE)", conns, limit)
	}
	srcs := max(len(tgt.sources), 1)
	if ports := ephemeralPorts(); conns > ports*srcs {
		return fmt.Errorf("cannot open %d connections: %d source address(es) × %d ephemeral ports; use --sources %d or more", conns, srcs, ports, (conns+ports-1)/ports)
	}
	return nil
}

// handshakeBufs lends handshake read buffers: idle connections keep no buffer.
var handshakeBufs = sync.Pool{New: func() any { b := make([]byte, maxResponseHead); return &b }}

func runIdle(cfg *Config) (*Result, error) {
	tgt, err := newTarget(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.PID <= 0 {
		return nil, errors.New("idle mode needs --pid of the server to read its RSS")
	}
	if err := checkCapacity(cfg.Conns, tgt); err != nil {
		return nil, err
	}
	before, err := procRSS(cfg.PID)
	if err != nil {
		return nil, err
	}
	errs := &errorLog{w: cfg.Stderr}
	conns := make([]*idleConn, cfg.Conns)
	t0 := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.Dialers)
	for i := range conns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := openIdle(tgt, i, cfg.Timeout)
			if err != nil {
				errs.add(kindOf(err), i, err)
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	openTime := time.Since(t0)
	open := 0
	for _, c := range conns {
		if c != nil {
			open++
		}
	}
	time.Sleep(cfg.Settle) // let the server finish per-connection setup and the GC settle
	after, rssErr := procRSS(cfg.PID)
	res := &Result{Mode: "idle", Target: tgt.String(), Conns: cfg.Conns, Duration: openTime.Seconds(),
		Open: ptr(open), RSSBefore: ptr(before), RSSAfter: ptr(after)}
	for _, c := range conns {
		if c != nil {
			res.TLSVersion = tlsVersionOf(c.conn)
			break
		}
	}
	for _, size := range cfg.IdleEcho {
		if rssErr != nil {
			break
		}
		idleEchoRound(cfg, conns, size, errs)
		time.Sleep(cfg.Settle)
		var rss int64
		rss, rssErr = procRSS(cfg.PID)
		r := idleRound{Size: size, RSS: rss}
		if open > 0 {
			r.RSSPer = float64(rss-before) / float64(open)
		}
		res.IdleEcho = append(res.IdleEcho, r)
	}
	// Close: a close frame then the socket; the server's replies are not awaited.
	for _, c := range conns {
		if c != nil {
			c.close()
		}
	}
	if rssErr != nil {
		return nil, rssErr
	}
	if open > 0 {
		res.RSSPer = ptr(float64(after-before) / float64(open))
	}
	errs.fill(res)
	return res, nil
}

// idleRound is the server's RSS after one echo of Size bytes on every
// open connection.
type idleRound struct {
	Size   int     `json:"size"`
	RSS    int64   `json:"rss_bytes"`
	RSSPer float64 `json:"rss_per_conn_bytes"`
}

// idleEchoRound sends one message of size bytes on every open connection
// (--dialers at a time, as one frame, so that under TLS the server reads
// records of up to 16 KiB) and checks its echo. The buffers are lent per
// echo: the connections keep none.
func idleEchoRound(cfg *Config, conns []*idleConn, size int, errs *errorLog) {
	payload := make([]byte, size)
	fillPayload(payload, false, size)
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.Dialers)
	for i, c := range conns {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			frame := make([]byte, 0, clientHeaderLen(size)+size)
			buf := make([]byte, 32<<10)
			if err := echoOnce(c.conn, payload, frame, buf, cfg.Timeout); err != nil {
				errs.add(kindOf(err), i, err)
			}
		}()
	}
	wg.Wait()
}

// idleConn is all the load side keeps per idle connection: no buffers.
type idleConn struct {
	conn net.Conn // *net.TCPConn, or *tls.Conn on a wss target
}

func openIdle(tgt *target, id int, timeout time.Duration) (*idleConn, error) {
	c, err := tgt.connect(id, timeout, nil)
	if err != nil {
		return nil, err
	}
	bp := handshakeBufs.Get().(*[]byte)
	defer handshakeBufs.Put(bp)
	_ = c.SetDeadline(time.Now().Add(timeout))
	rest, err := tgt.handshake(c, *bp)
	_ = c.SetDeadline(time.Time{})
	if err != nil {
		c.Close()
		return nil, kerr(errHandshake, err)
	}
	if len(rest) > 0 {
		c.Close()
		return nil, kerr(errProtocol, fmt.Errorf("server sent %d bytes right after the handshake", len(rest)))
	}
	return &idleConn{conn: c}, nil
}

var idleMask = [4]byte{0x5a, 0x17, 0xc3, 0x81}

func (c *idleConn) close() {
	_ = c.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = c.conn.Write(closeFrame(1000, idleMask))
	c.conn.Close()
}
