package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// faultDup makes the fan-out hub send one message twice.
const faultDup = faultClose + 1

// fanoutHub starts a gorilla/websocket server speaking the pocketlua side
// of fanout mode (tests/bench/fanout.lua): /sub/TOPIC subscribes, each
// message on /pub/TOPIC goes to every subscriber of TOPIC. With faultDrop
// the first subscriber misses the third message; with faultDup it gets it
// twice.
func fanoutHub(t testing.TB, f fault) string {
	t.Helper()
	var up websocket.Upgrader
	var mu sync.Mutex
	subs := map[string][]*websocket.Conn{}
	var sent int
	// A subscriber's client may publish as soon as it has read the 101,
	// before this handler has listed the connection: a publish waits for
	// every subscription whose handshake has begun.
	joining := 0
	joined := sync.NewCond(&mu)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(r.URL.Path, "/")
		if len(parts) != 3 || (parts[1] != "sub" && parts[1] != "pub") {
			http.NotFound(w, r)
			return
		}
		topic := parts[2]
		if parts[1] == "sub" {
			mu.Lock()
			joining++
			mu.Unlock()
		}
		c, err := up.Upgrade(w, r, nil)
		if parts[1] == "sub" {
			mu.Lock()
			joining--
			if err == nil {
				subs[topic] = append(subs[topic], c)
			}
			joined.Broadcast()
			mu.Unlock()
		}
		if err != nil {
			return
		}
		defer c.Close()
		for range 1 << 30 {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if parts[1] != "pub" {
				continue
			}
			mu.Lock()
			for joining > 0 {
				joined.Wait()
			}
			sent++
			for i, s := range subs[topic] {
				if i == 0 && sent == 3 {
					switch f {
					case faultDrop:
						continue
					case faultDup:
						_ = s.WriteMessage(mt, msg)
					}
				}
				_ = s.WriteMessage(mt, msg)
			}
			mu.Unlock()
		}
	}))
	t.Cleanup(srv.Close)
	return "ws://" + strings.TrimPrefix(srv.URL, "http://") + "/"
}

func fanoutConfig(buf *safeBuffer, url string) *Config {
	c := testConfig("fanout", buf)
	c.URLs = []string{url, url} // two "servers": connections alternate
	c.Conns = 5
	c.Publishers = 2
	c.Rate = 200
	return c
}

func TestFanout(t *testing.T) {
	takeSlot(t)
	var buf safeBuffer
	c := fanoutConfig(&buf, fanoutHub(t, faultNone))
	c.PIDs = []int{os.Getpid(), os.Getpid()} // the server runs in this process
	res := runProgress(t, c, func(r *Result) bool { return *r.Messages > 0 || r.Errors > 0 })
	if res.Errors != 0 {
		t.Fatalf("errors %v: %s", res.ErrorKinds, buf.String())
	}
	if *res.Lost != 0 || *res.Published == 0 || *res.Messages == 0 || res.P99us == nil {
		t.Fatalf("published %d, delivered in window %d, lost %d", *res.Published, *res.Messages, *res.Lost)
	}
	if *res.Messages > *res.Published*uint64(c.Conns) {
		t.Fatalf("%d deliveries in the window of %d publications to %d subscribers", *res.Messages, *res.Published, c.Conns)
	}
	if res.ServerCPU == nil || res.ServerUsPerMsg == nil {
		t.Fatalf("no server CPU figures with --pid")
	}
}

func TestFanoutCountsLost(t *testing.T) {
	takeSlot(t)
	var buf safeBuffer
	c := fanoutConfig(&buf, fanoutHub(t, faultDrop))
	// The dropped one never comes; the others must, even on a loaded
	// machine (a late one counts as lost too).
	c.Drain = 2 * time.Second
	res := runProgress(t, c, func(r *Result) bool { return *r.Published >= 3 || r.Errors > 0 })
	if res.Errors != 0 || *res.Lost != 1 {
		t.Fatalf("errors %v, lost %d (want 1): %s", res.ErrorKinds, *res.Lost, buf.String())
	}
}

func TestFanoutDetectsDuplicate(t *testing.T) {
	takeSlot(t)
	var buf safeBuffer
	c := fanoutConfig(&buf, fanoutHub(t, faultDup))
	res := runProgress(t, c, func(r *Result) bool { return *r.Published >= 3 || r.Errors > 0 })
	if res.ErrorKinds["bad_echo"] != 1 || !strings.Contains(buf.String(), "duplicated or out of order") {
		t.Fatalf("errors %v, want one bad_echo: %s", res.ErrorKinds, buf.String())
	}
}

func TestFanoutRefusedPath(t *testing.T) {
	takeSlot(t)
	var buf safeBuffer
	c := fanoutConfig(&buf, fanoutHub(t, faultNone))
	c.Proto = protoCentrifuge // its URL path is not the hub's /sub/TOPIC
	res, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if res.ErrorKinds["handshake"] != uint64(c.Conns+c.Publishers) {
		t.Fatalf("errors %v, want every handshake refused", res.ErrorKinds)
	}
}

func TestFanoutConfigErrors(t *testing.T) {
	for _, args := range [][]string{
		{"fanout", "--proto", "mqtt"},
		{"fanout", "--rate", "0"},
		{"fanout", "--publishers", "0"},
		{"fanout", "--raw", "127.0.0.1:1"},
		{"fanout", "--topic", "a b"},
		{"fanout", "--topic", "a/b"},
		{"fanout", "--topic", ""},
		{"idle", "--pid", "1,2"},
	} {
		var out safeBuffer
		if _, _, err := parseArgs(args, &out); !isUsage(err) {
			t.Errorf("%q: want a usage error, got %v", args, err)
		}
	}
	var out safeBuffer
	c, _, err := parseArgs([]string{"fanout", "--pid", "7,9", "--urls", "ws://127.0.0.1:1/,ws://127.0.0.1:2/"}, &out)
	if err != nil || c.PID != 7 || len(c.PIDs) != 2 || len(c.URLs) != 2 {
		t.Fatalf("%v: %+v", err, c)
	}
}
