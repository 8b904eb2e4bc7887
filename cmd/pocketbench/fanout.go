package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fan-out mode: cfg.Conns WebSocket subscribers of one topic spread over
// the server URLs, cfg.Publishers connections publishing cfg.Rate messages
// per second in total. Each payload is a JSON object whose "pbts" field is
// the send time in nanoseconds since the run's start (monotonic), so every
// delivery yields a publish-to-receive latency without a clock shared with
// the server; "pub" and "seq" name the publisher and its message number, so
// a subscriber sees a duplicate or a message out of its publisher's order.
//
// Protocols:
//   - pocketlua (tests/bench/fanout.lua): a subscriber opens PATH/sub/TOPIC,
//     a publisher PATH/pub/TOPIC and sends the payload as a text message.
//   - centrifuge: Centrifuge's JSON protocol (one command or reply per line
//     of a text message): connect, then subscribe; a publisher sends
//     publish commands. Server pings ({}) are answered with {}.

const (
	protoPocketlua  = "pocketlua"
	protoCentrifuge = "centrifuge"
)

// tsKey marks the timestamp inside a payload; deliveries are counted by
// its occurrences, so a Centrifuge message batching several pushes counts each.
var tsKey = []byte(`"pbts":`)

// fanoutConn is one subscriber or publisher connection; one goroutine reads it.
type fanoutConn struct {
	id    int
	conn  *net.TCPConn
	mask  [4]byte
	fr    frameReader
	rbuf  []byte
	msg   []byte // the text message being gathered
	wmu   sync.Mutex
	wbuf  []byte
	hist  *histogram
	recv  uint64 // deliveries over the whole run
	inWin uint64 // deliveries inside the window
	cmdID int
	rest  []byte   // bytes read with the last setup reply, the start of what follows
	next  []uint64 // per publisher, the sequence number expected next
}

// writeText sends one masked text frame; publishers' writes and pong
// replies may come from two goroutines.
func (c *fanoutConn) writeText(p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = appendClientFrame(c.wbuf[:0], opText, p, c.mask)
	if _, err := c.conn.Write(c.wbuf); err != nil {
		return classify(err, "write")
	}
	return nil
}

func (c *fanoutConn) writeCtrl(op byte, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = appendClientFrame(c.wbuf[:0], op, p, c.mask)
	if _, err := c.conn.Write(c.wbuf); err != nil {
		return classify(err, "write")
	}
	return nil
}

// readMessage returns the next complete text message, answering pings.
// pending holds bytes already read (handshake leftovers), consumed first.
func (c *fanoutConn) readMessage(pending *[]byte) ([]byte, error) {
	c.msg = c.msg[:0]
	const maxReads = 1 << 20 // a bound; each read blocks until data or the deadline
	for range maxReads {
		b := *pending
		if len(b) == 0 {
			n, err := c.conn.Read(c.rbuf)
			if n == 0 && err != nil {
				return nil, classify(err, "read")
			}
			b = c.rbuf[:n]
		}
		for len(b) > 0 {
			res, err := c.fr.next(b)
			b = b[res.n:]
			if err != nil {
				return nil, kerr(errProtocol, err)
			}
			c.msg = append(c.msg, res.data...)
			if res.msgEnd {
				*pending = b
				return c.msg, nil
			}
			switch res.ctrl {
			case opPing:
				if err := c.writeCtrl(opPong, c.fr.ctrl[:c.fr.ctrlN]); err != nil {
					return nil, err
				}
			case opClose:
				return nil, kerr(errClosed, fmt.Errorf("server sent close %s", closeText(c.fr.ctrl[:c.fr.ctrlN])))
			}
		}
		*pending = nil
	}
	return nil, kerr(errIO, errors.New("no complete message"))
}

// command sends one Centrifuge command and waits for its reply (pings and
// pushes that come first are answered or skipped).
func (c *fanoutConn) command(pending *[]byte, kind, body string) error {
	c.cmdID++
	cmd := fmt.Sprintf(`{"id":%d,%q:%s}`, c.cmdID, kind, body)
	if err := c.writeText([]byte(cmd)); err != nil {
		return err
	}
	want := fmt.Sprintf(`{"id":%d,`, c.cmdID)
	for range 64 { // replies to other things are few before ours
		m, err := c.readMessage(pending)
		if err != nil {
			return err
		}
		for line := range bytes.SplitSeq(m, []byte("\n")) {
			if string(line) == "{}" {
				if err := c.writeText(line); err != nil {
					return err
				}
				continue
			}
			if !bytes.HasPrefix(line, []byte(want)) {
				continue
			}
			if bytes.Contains(line, []byte(`"error":`)) {
				return kerr(errHandshake, fmt.Errorf("centrifuge %s: %s", kind, line))
			}
			return nil
		}
	}
	return kerr(errHandshake, fmt.Errorf("centrifuge %s: no reply", kind))
}

// fanoutTarget is one server URL, with the request paths of both roles.
type fanoutTarget struct {
	sub, pub *target
}

func fanoutTargets(cfg *Config) ([]fanoutTarget, error) {
	urls := cfg.URLs
	if len(urls) == 0 {
		urls = []string{cfg.URL}
	}
	var out []fanoutTarget
	for _, u := range urls {
		sub, err := parseTarget(u, "", cfg.Sources)
		if err != nil {
			return nil, err
		}
		if sub.secure {
			return nil, fmt.Errorf("%s: fanout mode does not support wss", u)
		}
		pub := *sub
		if cfg.Proto == protoPocketlua {
			base, query, _ := strings.Cut(sub.path, "?")
			base = strings.TrimSuffix(base, "/")
			if query != "" {
				query = "?" + query
			}
			sub.path = base + "/sub/" + cfg.Topic + query
			pub.path = base + "/pub/" + cfg.Topic + query
		}
		out = append(out, fanoutTarget{sub: sub, pub: &pub})
	}
	return out, nil
}

// open dials, upgrades and, for Centrifuge, connects (and subscribes).
func (c *fanoutConn) open(cfg *Config, tgt *target, subscribe bool) ([]byte, error) {
	conn, err := tgt.dial(c.id, cfg.Timeout)
	if err != nil {
		return nil, kerr(errDial, err)
	}
	c.conn = conn
	binary.LittleEndian.PutUint32(c.mask[:], rand.Uint32()|1)
	c.rbuf = make([]byte, 16<<10)
	_ = conn.SetDeadline(time.Now().Add(cfg.Timeout))
	rest, err := tgt.handshake(conn, c.rbuf)
	if err != nil {
		conn.Close()
		return nil, kerr(errHandshake, err)
	}
	rest = append([]byte(nil), rest...)
	if cfg.Proto == protoCentrifuge {
		err = c.command(&rest, "connect", "{}")
		if err == nil && subscribe {
			err = c.command(&rest, "subscribe", fmt.Sprintf(`{"channel":%q}`, cfg.Topic))
		}
		if err != nil {
			conn.Close()
			return nil, err
		}
	}
	_ = conn.SetDeadline(time.Time{})
	return rest, nil
}

// receive reads deliveries until the connection's read deadline.
func (c *fanoutConn) receive(cfg *Config, win *window, base time.Time, pending []byte, total *atomic.Uint64) error {
	for {
		m, err := c.readMessage(&pending)
		if err != nil {
			return err
		}
		now := time.Now()
		lat := int64(now.Sub(base))
		inWin := !now.Before(win.from) && now.Before(win.to)
		for len(m) > 0 {
			i := bytes.Index(m, tsKey)
			if i < 0 {
				break
			}
			m = m[i+len(tsKey):]
			j := 0
			for j < len(m) && m[j] >= '0' && m[j] <= '9' {
				j++
			}
			ts, err := strconv.ParseInt(string(m[:j]), 10, 64)
			if err != nil {
				return kerr(errEcho, fmt.Errorf("bad timestamp in a delivery: %v", err))
			}
			var pub, seq uint64
			var ok1, ok2 bool
			pub, m, ok1 = cutUint(m[j:], `,"pub":`)
			seq, m, ok2 = cutUint(m, `,"seq":`)
			if !ok1 || !ok2 || pub >= uint64(len(c.next)) {
				return kerr(errEcho, errors.New("a delivery without a valid publisher and sequence number"))
			}
			if seq < c.next[pub] {
				return kerr(errEcho, fmt.Errorf("message %d of publisher %d after message %d: duplicated or out of order", seq, pub, c.next[pub]-1))
			}
			c.next[pub] = seq + 1 // a gap is counted as lost at the end
			c.recv++
			total.Add(1)
			if inWin {
				c.inWin++
				c.hist.record(lat - ts)
			}
		}
		if cfg.Proto == protoCentrifuge && bytes.Contains(c.msg, []byte(`"error":`)) {
			return kerr(errEcho, fmt.Errorf("centrifuge error reply: %.200s", c.msg))
		}
		if cfg.Proto == protoCentrifuge && bytes.Contains(c.msg, []byte("{}")) {
			for line := range bytes.SplitSeq(c.msg, []byte("\n")) {
				if string(line) == "{}" { // a ping among the replies
					if err := c.writeText(line); err != nil {
						return err
					}
				}
			}
		}
	}
}

// cutUint reads key and the decimal number after it from the start of b.
func cutUint(b []byte, key string) (uint64, []byte, bool) {
	b, ok := bytes.CutPrefix(b, []byte(key))
	if !ok {
		return 0, b, false
	}
	j := 0
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	v, err := strconv.ParseUint(string(b[:j]), 10, 64)
	return v, b[j:], err == nil
}

// payload builds publication seq of publisher pub, about cfg.Size bytes,
// stamped ts.
func fanoutPayload(dst []byte, cfg *Config, ts int64, pub int, seq uint64) []byte {
	dst = append(dst[:0], `{"pbts":`...)
	dst = strconv.AppendInt(dst, ts, 10)
	dst = append(dst, `,"pub":`...)
	dst = strconv.AppendInt(dst, int64(pub), 10)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"pad":"`...)
	for n := len(dst) + 2; n < cfg.Size; n++ {
		dst = append(dst, 'x')
	}
	return append(dst, `"}`...)
}

func runFanout(cfg *Config) (*Result, error) {
	tgts, err := fanoutTargets(cfg)
	if err != nil {
		return nil, err
	}
	errs := &errorLog{w: cfg.Stderr}
	base := time.Now()
	subs := make([]*fanoutConn, cfg.Conns)
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.Dialers)
	for i := range subs {
		c := &fanoutConn{id: i, hist: new(histogram), next: make([]uint64, cfg.Publishers)}
		subs[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			rest, err := c.open(cfg, tgts[i%len(tgts)].sub, true)
			if err != nil {
				errs.add(kindOf(err), i, err)
				c.conn = nil
				return
			}
			c.rest = rest
		}()
	}
	wg.Wait()
	pubs := make([]*fanoutConn, cfg.Publishers)
	for i := range pubs {
		c := &fanoutConn{id: cfg.Conns + i, hist: new(histogram), next: make([]uint64, cfg.Publishers)}
		rest, err := c.open(cfg, tgts[i%len(tgts)].pub, false)
		if err != nil {
			errs.add(kindOf(err), c.id, err)
			c.conn = nil
		}
		pubs[i] = c
		c.rest = rest
	}
	open := 0
	for _, c := range subs {
		if c.conn != nil {
			open++
		}
	}

	now := time.Now()
	win := &window{from: now.Add(cfg.Warmup), drain: cfg.Drain}
	win.to = win.from.Add(cfg.Duration)
	var received atomic.Uint64
	var readers sync.WaitGroup
	all := append(append([]*fanoutConn(nil), subs...), pubs...)
	for _, c := range all {
		if c.conn == nil {
			continue
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			err := c.receive(cfg, win, base, c.rest, &received)
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				errs.add(kindOf(err), c.id, err)
			}
		}()
	}

	// Publishers send at a fixed rate from now until the window ends.
	var sent atomic.Uint64
	var pubWG sync.WaitGroup
	interval := time.Duration(float64(time.Second) * float64(cfg.Publishers) / float64(cfg.Rate))
	for k, c := range pubs {
		if c.conn == nil {
			continue
		}
		pubWG.Add(1)
		go func() {
			defer pubWG.Done()
			// Publishers start staggered over one interval.
			next := now.Add(interval * time.Duration(k) / time.Duration(cfg.Publishers))
			var p, cmd []byte
			var seq uint64
			for next.Before(win.to) {
				sleepUntil(next)
				next = next.Add(interval)
				p = fanoutPayload(p, cfg, int64(time.Since(base)), k, seq)
				seq++
				msg := p
				if cfg.Proto == protoCentrifuge {
					c.wmu.Lock()
					c.cmdID++
					id := c.cmdID
					c.wmu.Unlock()
					cmd = fmt.Appendf(cmd[:0], `{"id":%d,"publish":{"channel":%q,"data":%s}}`, id, cfg.Topic, p)
					msg = cmd
				}
				if err := c.writeText(msg); err != nil {
					errs.add(kindOf(err), c.id, err)
					return
				}
				sent.Add(1)
			}
		}()
	}

	probe := cpuProbe{pids: cfg.pids()}
	sleepUntil(win.from)
	probe.start()
	sleepUntil(win.to)
	probe.stop()
	pubWG.Wait()
	// Drain: wait for what is still on its way, bounded by --drain.
	want := sent.Load() * uint64(open)
	for deadline := time.Now().Add(cfg.Drain); received.Load() < want && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	for _, c := range all {
		if c.conn != nil {
			_ = c.conn.SetReadDeadline(time.Now())
		}
	}
	readers.Wait()
	for _, c := range all {
		if c.conn != nil {
			_, _ = c.conn.Write(closeFrame(1000, c.mask))
			c.conn.Close()
		}
	}

	var names []string
	for _, t := range tgts {
		names = append(names, t.sub.String())
	}
	res := &Result{Mode: "fanout", Target: strings.Join(names, ","), Conns: cfg.Conns, Size: ptr(cfg.Size),
		Duration: cfg.Duration.Seconds(), Publishers: ptr(cfg.Publishers), Rate: ptr(cfg.Rate), Proto: cfg.Proto}
	var total histTotal
	var inWin, got uint64
	for _, c := range subs {
		total.add(c.hist)
		inWin += c.inWin
		got += c.recv
	}
	res.Published = ptr(sent.Load())
	res.Messages = ptr(inWin)
	res.MsgsPerS = ptr(float64(inWin) / cfg.Duration.Seconds())
	if want > got {
		res.Lost = ptr(want - got)
	} else {
		res.Lost = ptr(uint64(0))
	}
	res.setLatency(&total)
	probe.fill(res, inWin)
	if res.ServerCPU != nil && inWin > 0 {
		res.ServerUsPerMsg = ptr(*res.ServerCPU * 1e6 / float64(inWin))
	}
	errs.fill(res)
	return res, nil
}
