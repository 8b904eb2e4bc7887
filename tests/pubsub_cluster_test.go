package tests

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"pocketlua/internal/brokertest"
)

// clusterClient is a room member that records every delivery in the
// background.
type clusterClient struct {
	id, room, proc int
	c              *websocket.Conn
	mu             sync.Mutex
	got            []string
	answers        chan string
}

func (cc *clusterClient) read() {
	for {
		cc.c.SetReadDeadline(time.Now().Add(60 * time.Second))
		_, b, err := cc.c.ReadMessage()
		if err != nil {
			close(cc.answers)
			return
		}
		m := string(b)
		if strings.HasPrefix(m, "ok ") || strings.HasPrefix(m, "error ") {
			select {
			case cc.answers <- m:
			default:
			}
			continue
		}
		cc.mu.Lock()
		cc.got = append(cc.got, m)
		cc.mu.Unlock()
	}
}

func (cc *clusterClient) send(t *testing.T, cmd string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := cc.c.WriteMessage(websocket.TextMessage, []byte(cmd)); err != nil {
		t.Errorf("client %d: %v", cc.id, err)
	}
}

// has reports whether a delivery with prefix arrived.
func (cc *clusterClient) has(prefix string) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for _, m := range cc.got {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// TestPubSubCluster: three processes (two with --workers 2) on one real
// broker, 60 WebSocket clients in 4 rooms. Every message reaches every
// member of its room exactly once, in each sender's order. Then the
// broker is killed with SIGKILL: the processes keep serving, local
// delivery goes on, /readyz says 503, drops are counted; the broker
// restarts and delivery resumes.
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

	const rooms, per, each = 4, 20, 20
	var clients []*clusterClient
	byRoom := make([][]*clusterClient, rooms)
	for p := range procs {
		for range per {
			id := len(clients)
			cc := &clusterClient{id: id, room: id % rooms, proc: p, answers: make(chan string, 64)}
			cc.c = psDial(t, procs[p].Addr, fmt.Sprintf("/room/r%d", cc.room)).c
			go cc.read()
			clients = append(clients, cc)
			byRoom[cc.room] = append(byRoom[cc.room], cc)
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
					for k := 0; k < 500; k++ {
						probe := fmt.Sprintf("probe:%s:%d:%d", round, from.id, k)
						from.send(t, fmt.Sprintf("pub room.r%d %s", r, probe))
						time.Sleep(20 * time.Millisecond)
						all := true
						for _, cc := range byRoom[r] {
							all = all && cc.has(fmt.Sprintf("probe:%s:%d:", round, from.id))
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
			members := byRoom[cc.room]
			waitFor(t, 30*time.Second, fmt.Sprintf("client %d to get every end marker", cc.id), func() bool {
				for _, m := range members {
					if !cc.has(fmt.Sprintf("end:%d:%d", m.id, first)) {
						return false
					}
				}
				return true
			})
			cc.mu.Lock()
			next := map[int]int{}
			for _, m := range cc.got {
				var from, n int
				if _, err := fmt.Sscanf(m, "m:%d:%d", &from, &n); err != nil || n < first {
					continue
				}
				if want := max(next[from], first); n != want {
					cc.mu.Unlock()
					t.Fatalf("%s: client %d (process %d) got m:%d:%d, want m:%d:%d: each message once, in order", kind, cc.id, cc.proc, from, n, from, want)
				}
				next[from] = n + 1
			}
			cc.mu.Unlock()
			for _, m := range members {
				if next[m.id] != first+each {
					t.Fatalf("client %d got %d of client %d's messages", cc.id, next[m.id]-first, m.id)
				}
			}
		}
	}

	settle("a")
	burst(0)
	// server.presence: room 0's 15 members, over the 3 processes.
	presence(t, byRoom[0][0], 15, 3)

	// The broker dies.
	b.Kill()
	waitFor(t, 10*time.Second, "/readyz to say the broker is down", func() bool {
		s, body := get(t, ready)
		return s == 503 && strings.Contains(body, "broker")
	})
	// Local delivery goes on, across the workers of a process, and the
	// publishes the broker could not take are counted.
	var p0 []*clusterClient
	for _, cc := range byRoom[0] {
		if cc.proc == 0 {
			p0 = append(p0, cc)
		}
	}
	p0[0].send(t, "pub room.r0 local:1")
	for _, cc := range p0 {
		waitFor(t, 10*time.Second, "local delivery while the broker is down", func() bool { return cc.has("local:1") })
	}
	waitFor(t, 10*time.Second, "the lost publish to be counted", func() bool {
		p0[0].send(t, "stats broker_dropped")
		a := <-p0[0].answers
		return a != "ok stats 0"
	})
	for i, p := range procs {
		select {
		case <-p.done:
			t.Fatalf("process %d exited while the broker was down:\n%s", i, p.Logs())
		default:
		}
	}
	presence(t, byRoom[0][len(byRoom[0])-1], 5, 1) // process 3's own, the broker being away

	b.Restart()
	waitFor(t, 10*time.Second, "/readyz once the broker is back", func() bool { s, _ := get(t, ready); return s == 200 })
	settle("b")
	burst(1000)
	if !strings.Contains(procs[0].Logs(), "msg=\"broker down\"") || !strings.Contains(procs[0].Logs(), "msg=\"broker up\"") {
		t.Errorf("no log line for each change of state:\n%s", procs[0].Logs())
	}
	// A process that dies drops out of presence within a few seconds.
	procs[1].kill()
	presence(t, byRoom[0][0], 10, 2)
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
