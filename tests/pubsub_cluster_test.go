package tests

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"pocketlua/internal/brokertest"
)

// clusterClient is a room member that records every delivery in the
// background: the numbered messages in order, the markers (probes, end
// markers, presence answers) in a set.
type clusterClient struct {
	id, room, proc int
	worker         string
	c              *websocket.Conn
	wmu            sync.Mutex // writes
	mu             sync.Mutex
	got            []string        // "m:..." and "r:..." messages, in arrival order
	marks          map[string]bool // the others; a probe by "probe:ROUND:FROM"
	answers        chan string     // "ok stats ..." and errors
}

func (cc *clusterClient) read() {
	defer close(cc.answers)
	for {
		cc.c.SetReadDeadline(time.Now().Add(60 * time.Second))
		_, b, err := cc.c.ReadMessage()
		if err != nil {
			return
		}
		m := string(b)
		switch {
		case strings.HasPrefix(m, "ok pub "), strings.HasPrefix(m, "ok presence "):
		case strings.HasPrefix(m, "ok ") || strings.HasPrefix(m, "error "):
			select {
			case cc.answers <- m:
			default:
			}
		case strings.HasPrefix(m, "m:") || strings.HasPrefix(m, "r:"):
			cc.mu.Lock()
			cc.got = append(cc.got, m)
			cc.mu.Unlock()
		default:
			if strings.HasPrefix(m, "probe:") {
				m = m[:strings.LastIndexByte(m, ':')]
			}
			cc.mu.Lock()
			cc.marks[m] = true
			cc.mu.Unlock()
		}
	}
}

func (cc *clusterClient) send(t *testing.T, cmd string) {
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	cc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := cc.c.WriteMessage(websocket.TextMessage, []byte(cmd)); err != nil {
		t.Errorf("client %d: %v", cc.id, err)
	}
}

// has reports whether the marker arrived.
func (cc *clusterClient) has(mark string) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.marks[mark]
}

// stat asks rooms.lua for server.stats()[key] of the client's worker.
func (cc *clusterClient) stat(t *testing.T, key string) string {
	t.Helper()
	cc.send(t, "stats "+key)
	for {
		select {
		case a, ok := <-cc.answers:
			if !ok {
				t.Fatalf("client %d: connection closed", cc.id)
			}
			if v, found := strings.CutPrefix(a, "ok stats "); found {
				return v
			}
			t.Fatalf("client %d: %q", cc.id, a)
		case <-time.After(10 * time.Second):
			t.Fatalf("client %d: no answer to stats %s", cc.id, key)
		}
	}
}

// statSum is a counter summed over the workers of process p (one client
// on each asks).
func statSum(t *testing.T, clients []*clusterClient, p int, key string) int {
	t.Helper()
	sum, asked := 0, map[string]bool{}
	for _, cc := range clients {
		if cc.proc == p && !asked[cc.worker] {
			asked[cc.worker] = true
			n, err := strconv.Atoi(cc.stat(t, key))
			if err != nil {
				t.Fatalf("stats %s: %v", key, err)
			}
			sum += n
		}
	}
	return sum
}

// TestPubSubCluster: three processes (two with --workers 2) on one real
// broker, 300 WebSocket clients in 15 rooms. Every message reaches every
// member of its room exactly once, in each sender's order. Then, while
// every client is publishing, the broker is killed with SIGKILL: the
// processes keep serving, local delivery goes on whole, /readyz says 503,
// every publish is counted as sent to the broker or dropped, and every
// publish made once the broker is known down is counted as dropped and
// reaches no other process;
// the broker restarts and delivery resumes, exactly once and in order.
func TestPubSubCluster(t *testing.T) {
	for _, kind := range []string{"nats", "redis"} {
		t.Run(kind, func(t *testing.T) { pubsubCluster(t, kind) })
	}
}

func pubsubCluster(t *testing.T, kind string) {
	b := brokertest.Start(t, kind)
	script := testdata(t, "pubsub/rooms.lua")
	procs := []*server{
		startServer(t, "epoll", "--workers", "2", "--broker", b.URL, "--metrics", "127.0.0.1:0", script),
		startServer(t, "epoll", "--workers", "2", "--broker", b.URL, script),
		startServer(t, "epoll", "--broker", b.URL, script),
	}
	ready := "http://" + metricsAddr(t, procs[0].Logs) + "/readyz"
	waitFor(t, 10*time.Second, "/readyz with the broker up", func() bool { s, _ := get(t, ready); return s == 200 })

	const rooms, per, each = 15, 100, 3
	var clients []*clusterClient
	byRoom := make([][]*clusterClient, rooms)
	for p := range procs {
		for range per {
			id := len(clients)
			cc := &clusterClient{id: id, room: id % rooms, proc: p, answers: make(chan string, 16), marks: map[string]bool{}}
			pc := psDial(t, procs[p].Addr, fmt.Sprintf("/room/r%d", cc.room))
			cc.c, cc.worker = pc.c, pc.worker
			go cc.read()
			clients = append(clients, cc)
			byRoom[cc.room] = append(byRoom[cc.room], cc)
		}
	}
	// One client of each process.
	heads := []*clusterClient{clients[0], clients[per], clients[2*per]}
	brokerState := func(want string) func() bool {
		return func() bool {
			for _, h := range heads {
				if h.stat(t, "broker") != want {
					return false
				}
			}
			return true
		}
	}

	// settle publishes probes from one member per process and room until
	// every member has one: the broker's subscriptions are in place.
	settle := func(round string) {
		var wg sync.WaitGroup
		for r := range rooms {
			for p := range procs {
				var from *clusterClient
				for _, cc := range byRoom[r] {
					if cc.proc == p {
						from = cc
						break
					}
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					mark := fmt.Sprintf("probe:%s:%d", round, from.id)
					for k := 0; k < 500; k++ {
						from.send(t, fmt.Sprintf("pub room.r%d %s:%d", r, mark, k))
						time.Sleep(20 * time.Millisecond)
						all := true
						for _, cc := range byRoom[r] {
							all = all && cc.has(mark)
						}
						if all {
							return
						}
					}
					t.Errorf("room %d: probes from process %d never reached every member", r, p)
				}()
			}
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}
	// check verifies what cc got of the messages "PREFIX:FROM:N" with N
	// from first to last: from each sender once at most, in order; every
	// one when complete(sender).
	check := func(cc *clusterClient, prefix string, first, last int, complete func(from *clusterClient) bool) {
		cc.mu.Lock()
		next := map[int]int{}
		for _, m := range cc.got {
			var from, n int
			if !strings.HasPrefix(m, prefix+":") {
				continue
			}
			if _, err := fmt.Sscanf(m[len(prefix)+1:], "%d:%d", &from, &n); err != nil || n < first || n > last {
				continue
			}
			if want := max(next[from], first); n < want || (n > want && complete(clients[from])) {
				cc.mu.Unlock()
				t.Fatalf("%s: client %d (process %d) got %s:%d:%d, want %s:%d:%d: each message once, in order", kind, cc.id, cc.proc, prefix, from, n, prefix, from, want)
			}
			next[from] = n + 1
		}
		cc.mu.Unlock()
		for _, m := range byRoom[cc.room] {
			left := last + 1 - max(next[m.id], first)
			if left > 0 && complete(m) {
				t.Fatalf("%s: client %d (process %d) got %d of client %d's (process %d) %s messages", kind, cc.id, cc.proc, last+1-first-left, m.id, m.proc, prefix)
			}
		}
	}
	every := func(*clusterClient) bool { return true }
	// burst has every client publish each numbered messages (from first),
	// then checks every member got each sender's exactly once, in order.
	burst := func(first int) {
		var wg sync.WaitGroup
		for _, cc := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := first; n < first+each; n++ {
					cc.send(t, fmt.Sprintf("pub room.r%d m:%d:%d", cc.room, cc.id, n))
				}
				cc.send(t, fmt.Sprintf("pub room.r%d end:%d:%d", cc.room, cc.id, first))
			}()
		}
		wg.Wait()
		for _, cc := range clients {
			waitFor(t, 30*time.Second, fmt.Sprintf("client %d to get every end marker", cc.id), func() bool {
				for _, m := range byRoom[cc.room] {
					if !cc.has(fmt.Sprintf("end:%d:%d", m.id, first)) {
						return false
					}
				}
				return true
			})
			check(cc, "m", first, first+each-1, every)
		}
	}

	settle("a")
	burst(0)
	// server.presence: room 0's members over the 3 processes.
	inRoom0 := [3]int{}
	for _, cc := range byRoom[0] {
		inRoom0[cc.proc]++
	}
	presence(t, byRoom[0][0], inRoom0[0]+inRoom0[1]+inRoom0[2], 3)

	// accounted waits until every publish of process p is counted as sent
	// to the broker or dropped, and returns the counts.
	accounted := func(p int) (published, sent, dropped int) {
		waitFor(t, 10*time.Second, fmt.Sprintf("process %d's publishes to be sent or dropped", p), func() bool {
			published = statSum(t, clients, p, "published")
			var err1, err2 error
			sent, err1 = strconv.Atoi(heads[p].stat(t, "broker_sent"))
			dropped, err2 = strconv.Atoi(heads[p].stat(t, "broker_dropped"))
			return err1 == nil && err2 == nil && sent+dropped == published
		})
		return published, sent, dropped
	}

	// Every client publishes "r:ID:N", N from 0 to 3, 10 ms apart, and the
	// broker is killed when half are out; then, once every process has
	// seen it go, N 4 and 5.
	const run, whileDown = 6, 2
	var sent atomic.Int64
	half, downSeen := make(chan struct{}), make(chan struct{})
	var halfOnce sync.Once
	var wg, upDone sync.WaitGroup
	for _, cc := range clients {
		wg.Add(1)
		upDone.Add(1)
		go func() {
			defer wg.Done()
			for n := range run {
				if n == run-whileDown {
					upDone.Done()
					<-downSeen
				}
				cc.send(t, fmt.Sprintf("pub room.r%d r:%d:%d", cc.room, cc.id, n))
				if sent.Add(1) >= int64(len(clients)*(run-whileDown)/2) {
					halfOnce.Do(func() { close(half) })
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	<-half
	b.Kill()
	waitFor(t, 10*time.Second, "/readyz to say the broker is down", func() bool {
		s, body := get(t, ready)
		return s == 503 && strings.Contains(body, "broker")
	})
	waitFor(t, 10*time.Second, "every process to see the broker down", brokerState("down"))
	upDone.Wait()
	// Every publish so far is counted as sent or dropped; every one from
	// here, while the broker is known to be down, must be dropped.
	var before, after [3][3]int // published, sent, dropped
	for p := range procs {
		before[p][0], before[p][1], before[p][2] = accounted(p)
	}
	close(downSeen)
	wg.Wait()
	for p := range procs {
		after[p][0], after[p][1], after[p][2] = accounted(p)
		want := per * whileDown
		if pub, dropped := after[p][0]-before[p][0], after[p][2]-before[p][2]; pub != want || dropped != want {
			t.Errorf("process %d published %d while the broker was down and counts %d dropped, want %d and %d", p, pub, dropped, want, want)
		}
	}
	t.Logf("%s: [published sent dropped] per process when the broker went down %v, after publishing while down %v", kind, before, after)
	// Local delivery goes on whole: each member has every message of the
	// senders in its own process.
	for _, cc := range clients {
		waitFor(t, 10*time.Second, fmt.Sprintf("client %d to get its process's messages", cc.id), func() bool {
			cc.mu.Lock()
			defer cc.mu.Unlock()
			n := 0
			for _, m := range cc.got {
				var from, k int
				if _, err := fmt.Sscanf(m, "r:%d:%d", &from, &k); err == nil && clients[from].proc == cc.proc {
					n++
				}
			}
			want := 0
			for _, m := range byRoom[cc.room] {
				if m.proc == cc.proc {
					want += run
				}
			}
			return n >= want
		})
	}
	for i, p := range procs {
		select {
		case <-p.done:
			t.Fatalf("process %d exited while the broker was down:\n%s", i, p.Logs())
		default:
		}
	}
	presence(t, byRoom[0][len(byRoom[0])-1], inRoom0[2], 1) // process 3's own, the broker being away

	b.Restart()
	waitFor(t, 10*time.Second, "/readyz once the broker is back", func() bool { s, _ := get(t, ready); return s == 200 })
	waitFor(t, 10*time.Second, "every process to see the broker up", brokerState("up"))
	settle("b")
	burst(1000)
	// What the run lost: no member got a message twice or out of order,
	// none missed one of its own process's, and none got one of another
	// process's counted as dropped.
	for _, cc := range clients {
		check(cc, "r", 0, run-1, func(from *clusterClient) bool { return from.proc == cc.proc })
		cc.mu.Lock()
		for _, m := range cc.got {
			var from, n int
			if _, err := fmt.Sscanf(m, "r:%d:%d", &from, &n); err == nil && n >= run-whileDown && clients[from].proc != cc.proc {
				t.Errorf("client %d (process %d) got %s, published while the broker was down and counted as dropped", cc.id, cc.proc, m)
			}
		}
		cc.mu.Unlock()
	}
	if !strings.Contains(procs[0].Logs(), "msg=\"broker down\"") || !strings.Contains(procs[0].Logs(), "msg=\"broker up\"") {
		t.Errorf("no log line for each change of state:\n%s", procs[0].Logs())
	}
	// A process that dies drops out of presence within a few seconds.
	procs[1].kill()
	presence(t, byRoom[0][0], inRoom0[0]+inRoom0[2], 2)
	// server.on_broker ran in both workers at each change.
	for _, state := range []string{"down", "up"} {
		if n := len(rawLogLines(procs[0], `msg="rooms: broker"`, "state="+state)); n < 2 {
			t.Errorf("on_broker(%q) ran %d times in a process of 2 workers", state, n)
		}
	}
}

// TestBrokerBadURL: a URL that cannot work stops the start with a clear
// error; a broker that does not resolve or speaks another protocol leaves
// the server up, serving local delivery, saying "broker down" in the log,
// in server.stats() and in /readyz, and calling on_broker.
func TestBrokerBadURL(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"ftp://127.0.0.1:21", `unknown scheme "ftp"`},
		{"nats://", "no host"},
		{"redis://127.0.0.1:6379/notadb", "invalid database"},
		{"%zz", "invalid URL escape"},
	} {
		r := rawRunCLI(t, "", "--broker", tc.url, "-l", "127.0.0.1:0", testdata(t, "pubsub/rooms.lua"))
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("--broker %s: exit %d, stderr %q, want 2 and %q", tc.url, r.code, r.stderr, tc.want)
		}
	}

	// A listener that answers every connection with a line of nonsense.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("HELLO this is not a broker\r\n"))
			c.Close()
		}
	}()
	for _, url := range []string{"nats://no-such-host.invalid:4222", "nats://" + ln.Addr().String(), "redis://" + ln.Addr().String() + "/0"} {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			srv := startServer(t, "epoll", "--broker", url, "--metrics", "127.0.0.1:0", testdata(t, "pubsub/rooms.lua"))
			ready := "http://" + metricsAddr(t, srv.Logs) + "/readyz"
			waitFor(t, 10*time.Second, "broker down in the log and on_broker", func() bool {
				return strings.Contains(srv.Logs(), `msg="broker down"`) && len(rawLogLines(srv, `msg="rooms: broker"`, "state=down")) > 0
			})
			if s, body := get(t, ready); s != 503 || !strings.Contains(body, "broker") {
				t.Fatalf("/readyz: %d %q", s, body)
			}
			c := psDial(t, srv.Addr, "/room/a")
			if got := c.do("stats broker"); got != "ok stats down" {
				t.Fatalf("server.stats().broker: %q", got)
			}
			c.do("pub room.a still local")
			if m := c.next(); m != "still local" {
				t.Fatalf("local delivery: %q", m)
			}
		})
	}
}

// TestBrokerMaxPayload: under NATS, server.publish refuses data that would
// not fit the server's max_payload once the envelope is added.
func TestBrokerMaxPayload(t *testing.T) {
	b := brokertest.StartNATSConfig(t, "max_payload: 4096")
	srv := startServer(t, "epoll", "--broker", b.URL, testdata(t, "pubsub/rooms.lua"))
	c := psDial(t, srv.Addr, "/room/a")
	waitFor(t, 10*time.Second, "the broker to be up", func() bool { return c.do("stats broker") == "ok stats up" })
	if got := c.do("pub room.a " + strings.Repeat("x", 3000)); got != "ok pub " {
		t.Fatalf("3000 bytes: %q", got)
	}
	if got := c.do("pub room.a " + strings.Repeat("x", 4000)); !strings.Contains(got, "over the broker's limit of 3818 (its max_payload") {
		t.Fatalf("4000 bytes: %q", got)
	}
}

// presence asks server.presence(room) through cc until the answer is
// count subscriptions over nodes processes.
func presence(t *testing.T, cc *clusterClient, count, nodes int) {
	t.Helper()
	want := fmt.Sprintf("presence %d %d", count, nodes)
	waitFor(t, 10*time.Second, want, func() bool {
		cc.send(t, fmt.Sprintf("presence room.r%d", cc.room))
		time.Sleep(300 * time.Millisecond)
		return cc.has(want)
	})
}
