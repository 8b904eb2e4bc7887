package tests

import (
	"bufio"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestPubSubAcrossWorkers: with --workers 2, clients of room.a on both
// workers each publish a numbered series; every client gets every
// message exactly once, each publisher's in order, and a client of
// room.b none of them.
func TestPubSubAcrossWorkers(t *testing.T) {
	srv := startServer(t, "epoll", "--workers", "2", testdata(t, "pubsub/rooms.lua"))
	const clients, each = 8, 40
	var cs []*psClient
	workers := map[string]int{}
	for i := 0; len(cs) < clients && i < 200; i++ {
		c := psDial(t, srv.Addr, "/room/a")
		// Half on each worker: the kernel spreads connections, not evenly.
		if workers[c.worker] >= clients/2 {
			c.c.Close()
			continue
		}
		workers[c.worker]++
		cs = append(cs, c)
	}
	if len(cs) < clients || len(workers) != 2 {
		t.Fatalf("clients per worker %v: want %d on each of 2", workers, clients/2)
	}
	other := psDial(t, srv.Addr, "/room/b")
	if got := cs[0].do("count room.a"); got != "ok count "+strconv.Itoa(clients) {
		t.Fatalf("count room.a across workers: %q", got)
	}

	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 1; n <= each; n++ {
				c.send(fmt.Sprintf("pub room.a %d:%d", i, n))
			}
		}()
	}
	wg.Wait()
	for i, c := range cs {
		last := make([]int, clients)
		for got := 0; got < clients*each; {
			m := c.next()
			if strings.HasPrefix(m, "ok ") {
				continue // the answers to its own publishes
			}
			var from, n int
			if _, err := fmt.Sscanf(m, "%d:%d", &from, &n); err != nil || from < 0 || from >= clients {
				t.Fatalf("client %d got %q", i, m)
			}
			if n != last[from]+1 {
				t.Fatalf("client %d (worker %s) got %d:%d after %d:%d: want every message once, in order", i, c.worker, from, n, from, last[from])
			}
			last[from] = n
			got++
		}
	}
	// Nothing more: a marker published after everything is the next message.
	cs[0].send("pub room.a end")
	for i, c := range cs {
		for {
			m := c.next()
			if m == "end" {
				break
			}
			if !strings.HasPrefix(m, "ok ") {
				t.Fatalf("client %d got %q after the last message", i, m)
			}
		}
	}
	if got := other.do("count room.b"); got != "ok count 1" {
		t.Fatalf("room.b got something else first: %q", got)
	}
	// server.stats: each worker delivered to its 4 subscribers every
	// message and the marker, and room.b got nothing.
	asked := map[string]bool{}
	for _, c := range cs {
		if !asked[c.worker] {
			asked[c.worker] = true
			want := fmt.Sprintf("ok stats %d", clients/2*(clients*each+1))
			if got := c.do("stats delivered"); got != want {
				t.Errorf("worker %s: delivered %q, want %q", c.worker, got, want)
			}
		}
	}
	// Subscriptions end with the connection.
	for _, c := range cs[1:] {
		c.c.Close()
	}
	waitFor(t, 10*time.Second, "subscriptions of closed connections to end", func() bool {
		return other.do("count room.a") == "ok count 1"
	})
}

// TestPubSubPatternsAndExcept: '*' and '>' subscriptions on another worker
// get matching publishes once (even when two of them match), except
// leaves the publisher out, binary keeps its kind, and unsubscribe stops
// delivery.
func TestPubSubPatternsAndExcept(t *testing.T) {
	srv := startServer(t, "epoll", "--workers", "2", testdata(t, "pubsub/rooms.lua"))
	pub := psDial(t, srv.Addr, "/room/x")
	sub := psDial(t, srv.Addr, "/lobby/none")
	for _, cmd := range []string{"sub room.*", "sub room.>", "sub news.>"} {
		if got := sub.do(cmd); got != "ok sub true" {
			t.Fatalf("%s: %q", cmd, got)
		}
	}
	if got := sub.do("sub room.*"); got != "ok sub false" {
		t.Fatalf("a second subscribe: %q", got)
	}
	pub.do("pubx room.x one")
	pub.do("pub news.eu.fr two")
	pub.do("pubbin room.y three")
	pub.do("pub sport.x never")
	pub.do("pub room.x.deep four") // room.> only
	want := []struct {
		kind int
		data string
	}{{websocket.TextMessage, "one"}, {websocket.TextMessage, "two"}, {websocket.BinaryMessage, "three"}, {websocket.TextMessage, "four"}}
	for _, w := range want {
		kind, m := sub.nextKind()
		if m != w.data || kind != w.kind {
			t.Fatalf("got %q (kind %d), want %q (kind %d)", m, kind, w.data, w.kind)
		}
	}
	// The publisher, of room.x only, got none of them: "one" left it out.
	pub.do("pub room.x five")
	for _, w := range []string{"five"} {
		for {
			m := pub.next()
			if strings.HasPrefix(m, "ok ") {
				continue
			}
			if m != w {
				t.Fatalf("publisher got %q, want %q (except leaves out only its own)", m, w)
			}
			break
		}
	}
	if m := sub.next(); m != "five" {
		t.Fatalf("got %q, want five", m)
	}
	for _, cmd := range []string{"unsub room.*", "unsub room.>"} {
		if got := sub.do(cmd); got != "ok unsub true" {
			t.Fatalf("%s: %q", cmd, got)
		}
	}
	if got := sub.do("unsub room.>"); got != "ok unsub false" {
		t.Fatalf("unsubscribe twice: %q", got)
	}
	pub.do("pub room.x six")
	pub.do("pub news.x seven")
	if m := sub.next(); m != "seven" {
		t.Fatalf("after unsubscribe got %q, want seven", m)
	}
}

// TestPubSubBadTopics: every broken rule is a Lua error that names it,
// and the connection goes on.
func TestPubSubBadTopics(t *testing.T) {
	srv := startServer(t, "epoll", testdata(t, "pubsub/rooms.lua"))
	c := psDial(t, srv.Addr, "/room/a")
	long := strings.Repeat("a", 256)
	for _, tc := range []struct{ cmd, want string }{
		{"sub a..b", "empty token"},
		{"sub .a", "empty token"},
		{"sub a.", "empty token"},
		{"sub " + long, "1-255 printable ASCII"},
		{"sub a\x01b", "0x01"},
		{"sub a\x7fb", "0x7f"},
		{"sub caf\xc3\xa9", "printable ASCII"},
		{"sub foo*", "whole tokens"},
		{"sub a.>.b", "must be the last token"},
		{"pub room.* x", "publish needs a concrete topic"},
		{"pub room.> x", "publish needs a concrete topic"},
		{"pub  x", "1-255 printable ASCII"},
		{"unsub a..b", "empty token"},
		{"count a..b", "empty token"},
	} {
		if got := c.do(tc.cmd); !strings.HasPrefix(got, "error ") || !strings.Contains(got, tc.want) {
			t.Errorf("%q: %q, want an error with %q", tc.cmd, got, tc.want)
		}
	}
	if got := c.do("sub " + long[:255]); got != "ok sub true" {
		t.Fatalf("a 255-byte topic: %q", got)
	}
	c.do("pub room.a still")
	if m := c.next(); m != "still" {
		t.Fatalf("got %q after the errors", m)
	}
}

// TestPubSubLimits: --max-publish and --max-subscriptions refuse with a
// Lua error naming the flag; bad values of either are refused at start.
func TestPubSubLimits(t *testing.T) {
	srv := startServer(t, "epoll", "--max-publish", "100", "--max-subscriptions", "3", testdata(t, "pubsub/rooms.lua"))
	c := psDial(t, srv.Addr, "/room/a") // one subscription
	if got := c.do("pub room.a " + strings.Repeat("x", 101)); !strings.Contains(got, "101 bytes, over the limit of 100 (--max-publish)") {
		t.Fatalf("101 bytes: %q", got)
	}
	c.do("pub room.a " + strings.Repeat("y", 100))
	if m := c.next(); m != strings.Repeat("y", 100) {
		t.Fatalf("100 bytes: got %q", m)
	}
	for _, topic := range []string{"b", "c"} {
		if got := c.do("sub " + topic); got != "ok sub true" {
			t.Fatalf("sub %s: %q", topic, got)
		}
	}
	if got := c.do("sub d"); !strings.Contains(got, "holds 3 subscriptions, the limit (--max-subscriptions)") {
		t.Fatalf("a fourth subscription: %q", got)
	}
	c.do("unsub b")
	if got := c.do("sub d"); got != "ok sub true" {
		t.Fatalf("after unsubscribe: %q", got)
	}
	for _, flag := range []string{"--max-publish", "--max-subscriptions"} {
		r := rawRunCLI(t, "", flag, "0", "--check")
		if r.code != 2 || !strings.Contains(r.stderr, flag) {
			t.Errorf("%s 0: exit %d, stderr %q", flag, r.code, r.stderr)
		}
	}
}

// TestPubSubSlowSubscriber: a subscriber that never reads is dropped as
// a slow consumer under --max-queued-bytes while a reading subscriber on
// the same topic gets every message; with --publish-flush-delay, held
// deliveries count against the cap too.
func TestPubSubSlowSubscriber(t *testing.T) {
	for _, delay := range []string{"0", "5ms"} {
		t.Run("delay="+delay, func(t *testing.T) { pubsubSlowSubscriber(t, delay) })
	}
}

func pubsubSlowSubscriber(t *testing.T, delay string) {
	srv := startServer(t, "epoll", "--publish-flush-delay", delay, "--max-queued-bytes", "1MiB",
		"--high-water", "256KiB", "--low-water", "64KiB", testdata(t, "pubsub/rooms.lua"))
	// A small receive buffer, so the kernel does not hold megabytes for it.
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDial: func(network, addr string) (net.Conn, error) {
		nd := net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10) })
		}}
		return nd.Dial(network, addr)
	}}
	slow, resp, err := d.Dial("ws://"+srv.Addr+"/room/a", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer slow.Close() // joined, and never read
	fast := psDial(t, srv.Addr, "/room/a")
	const rounds, size = 200, 60000
	for i := range rounds {
		fast.send(fmt.Sprintf("flood room.a 1 %d", size))
		for {
			m := fast.next()
			if strings.HasPrefix(m, "ok ") {
				continue
			}
			if len(m) != size {
				t.Fatalf("message %d: got %d bytes", i, len(m))
			}
			break
		}
	}
	rawWaitLogs(t, srv, 10*time.Second, 1, `msg="rooms closed"`, `reason="slow consumer"`)
}

// TestPubSubPublishedHandler: a class with published(topic, data, kind)
// gets each delivery in Lua instead of the frame; the others get the
// frame unchanged.
func TestPubSubPublishedHandler(t *testing.T) {
	srv := startServer(t, "epoll", testdata(t, "pubsub/rooms.lua"))
	filtered := psDial(t, srv.Addr, "/filter/a")
	plain := psDial(t, srv.Addr, "/room/a")
	plain.send("pub room.a hello")
	plain.send("pubbin room.a bin")
	for _, want := range []string{"filtered room.a text HELLO", "filtered room.a binary BIN"} {
		if m := filtered.next(); m != want {
			t.Fatalf("published handler: got %q, want %q", m, want)
		}
	}
	for _, want := range []string{"hello", "bin"} {
		for {
			m := plain.next()
			if strings.HasPrefix(m, "ok ") {
				continue
			}
			if m != want {
				t.Fatalf("plain subscriber: got %q, want %q", m, want)
			}
			break
		}
	}
}

// TestPubSubDeflateAndRaw: a subscriber that negotiated permessage-deflate
// gets the shared compressed frame (gorilla inflates it), one without
// gets the plain frame, and raw TCP subscribers get the bytes.
func TestPubSubDeflateAndRaw(t *testing.T) {
	srv := startServer(t, "epoll", testdata(t, "pubsub/rooms.lua"))
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, EnableCompression: true}
	zc, resp, err := d.Dial("ws://"+srv.Addr+"/room/z", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer zc.Close()
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Fatalf("no compression negotiated: %q", ext)
	}
	z := &psClient{t: t, c: zc}
	z.next() // joined
	plain := psDial(t, srv.Addr, "/room/z")
	big := strings.Repeat("compress me ", 500)
	var before, after int
	fmt.Sscanf(plain.do("stats bytes_out"), "ok stats %d", &before)
	for _, c := range []*psClient{z, plain} {
		c.send("pub room.z " + big)
	}
	for _, c := range []*psClient{z, plain} {
		for n := 0; n < 2; {
			m := c.next()
			if strings.HasPrefix(m, "ok ") {
				continue
			}
			if m != big {
				t.Fatalf("got %d bytes, want the %d published", len(m), len(big))
			}
			n++
		}
	}
	// Four deliveries: two plain frames, two compressed ones.
	fmt.Sscanf(plain.do("stats bytes_out"), "ok stats %d", &after)
	if sent := after - before; sent < 2*len(big) || sent > 2*len(big)+2000 {
		t.Fatalf("%d bytes out for 2 plain and 2 compressed deliveries of %d bytes: the compressed frame was not used", sent, len(big))
	}

	raw := startServer(t, "epoll", testdata(t, "pubsub/raw.lua"))
	var conns []net.Conn
	for range 2 {
		c, err := net.DialTimeout("tcp", raw.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// Both are subscribed once start ran: publish until the second gets one.
	r0 := bufio.NewReader(conns[0])
	r1 := bufio.NewReader(conns[1])
	conns[1].SetDeadline(time.Now().Add(10 * time.Second))
	conns[0].SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conns[1], "pub first\n")
	if line, err := r1.ReadString('\n'); err != nil || line != "first\n" {
		t.Fatalf("raw subscriber: %q %v", line, err)
	}
	if line, err := r0.ReadString('\n'); err != nil || line != "first\n" {
		t.Fatalf("the other raw subscriber: %q %v", line, err)
	}
}

// TestPubSubInterruptedPublisher: a handler that publishes and is then
// interrupted by --handler-timeout loses its connection, but what it
// published is delivered and the server goes on.
func TestPubSubInterruptedPublisher(t *testing.T) {
	srv := startServer(t, "epoll", "--handler-timeout", "300ms", testdata(t, "pubsub/rooms.lua"))
	sub := psDial(t, srv.Addr, "/room/i")
	pub := psDial(t, srv.Addr, "/room/other")
	pub.send("publoop room.i before the loop")
	if m := sub.next(); m != "before the loop" {
		t.Fatalf("got %q", m)
	}
	pub.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := pub.c.ReadMessage(); !websocket.IsCloseError(err, 1011) {
		t.Fatalf("the interrupted publisher: %v, want close 1011", err)
	}
	sub.do("pub room.i after")
	if m := sub.next(); m != "after" {
		t.Fatalf("after the interrupt: %q", m)
	}
}

// TestChatAcrossWorkers: the chat example's rooms are topics, so with
// --workers 2 what a member says reaches the members on the other worker,
// and a newcomer's welcome names the members of both.
func TestChatAcrossWorkers(t *testing.T) {
	srv := batteryServer(t, "epoll", "--workers", "2", chatServerScript)
	const members = 8 // over two workers: the kernel spreads them
	var conns []*websocket.Conn
	for i := range members {
		c, _ := chatDial(t, srv.Addr, "lobby", fmt.Sprintf("m%d", i), false)
		conns = append(conns, c)
	}
	// A newcomer's welcome names the members of both workers.
	_, welcome := chatDial(t, srv.Addr, "lobby", "new", false)
	want := []string{"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "new"}
	if !slices.Equal(welcome.Members, want) || welcome.Online != members+1 {
		t.Fatalf("welcome %+v, want members %v, online %d", welcome, want, members+1)
	}
	for i, c := range conns {
		chatSend(t, c, chatMsg{Type: "say", Text: fmt.Sprintf("hello from m%d", i)})
	}
	for i, c := range conns {
		seen := map[string]bool{}
		for len(seen) < members {
			m := chatNext(t, c, "message")
			if seen[m.Text] {
				t.Fatalf("m%d got %q twice", i, m.Text)
			}
			seen[m.Text] = true
		}
	}
}
