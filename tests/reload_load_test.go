package tests

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// rlChatStep is one reload of TestReloadUnderLoad.
type rlChatStep struct {
	kind string // good, migrate, syntax, throw, notable, modsyntax, modthrow
}

func (s rlChatStep) ok() bool { return s.kind == "good" || s.kind == "migrate" }

// files renders the step's files (tests/testdata/reload/chat_main.lua and
// a tag module); tag is the tag a good step introduces.
func (s rlChatStep) files(t testing.TB, step int, tag string) map[string]string {
	type chat struct {
		N             int
		Break, Return string
		Reloaded      bool
	}
	main := func(c chat) string {
		c.N = step
		return renderTestdata(t, "reload/chat_main.lua", c)
	}
	good := main(chat{Return: "class"})
	decoy := rlLuaString(fmt.Sprintf("BAD%d", step)) // a module change that must not leak
	switch s.kind {
	case "good":
		return map[string]string{"tag.lua": rlLuaString(tag), "main.lua": good}
	case "migrate":
		return map[string]string{"tag.lua": rlLuaString(tag), "main.lua": main(chat{Reloaded: true, Return: "class"})}
	case "syntax", "throw": // line 2
		return map[string]string{"tag.lua": decoy, "main.lua": main(chat{Break: s.kind, Return: "class"})}
	case "notable":
		ret := "string"
		if step%2 == 0 {
			ret = "" // forgot to return the class
		}
		return map[string]string{"tag.lua": decoy, "main.lua": main(chat{Reloaded: true, Return: ret})}
	case "modsyntax", "modthrow": // tag.lua line 1, line 2
		return map[string]string{"tag.lua": renderTestdata(t, "reload/broken_tag.lua", s.kind), "main.lua": main(chat{Reloaded: true, Return: "class"})}
	}
	panic("unknown step kind " + s.kind)
}

// checkFailure verifies the "reload failed" error names the right file and line.
func (s rlChatStep) checkFailure(dir, msg string) error {
	main, tag := filepath.Join(dir, "main.lua"), filepath.Join(dir, "tag.lua")
	var ok bool
	switch s.kind {
	case "syntax":
		ok = rlMentionsLine(msg, main, 2)
	case "throw":
		ok = rlMentionsLine(msg, main, 2) && strings.Contains(msg, "boom")
	case "notable":
		ok = strings.Contains(msg, main) && strings.Contains(msg, "must return its class table")
	case "modsyntax":
		ok = rlMentionsLine(msg, tag, 1)
	case "modthrow":
		ok = rlMentionsLine(msg, tag, 2) && strings.Contains(msg, "boom in tag")
	}
	if !ok {
		return fmt.Errorf("%s failure logged without the expected file:line: %q", s.kind, msg)
	}
	return nil
}

// rlChatPlan: 20 reloads, 11 good (4 of them migrate with reloaded) and 9
// failing in every way the issue lists.
var rlChatPlan = []rlChatStep{
	{"good"}, {"syntax"}, {"migrate"}, {"throw"}, {"good"},
	{"notable"}, {"modsyntax"}, {"migrate"}, {"good"}, {"modthrow"},
	{"good"}, {"syntax"}, {"migrate"}, {"notable"}, {"good"},
	{"throw"}, {"migrate"}, {"good"}, {"syntax"}, {"good"},
}

type rlTagVersion struct {
	tag     string
	version int
}

// rlLoadPlan is what rlChatPlan predicts, computed up front so that clients
// can check every reply as it comes. Index k is the state after reload k
// (0: before the first).
type rlLoadPlan struct {
	current []rlTagVersion // what a new connection gets
	loadExp []rlTagVersion // what the connections opened at the start show
	tags    []string       // the tag reload k introduces ("" when it fails)
}

func newRLLoadPlan() rlLoadPlan {
	p := rlLoadPlan{current: []rlTagVersion{{"T1", 1}}, loadExp: []rlTagVersion{{"T1", 1}}, tags: []string{""}}
	for k, st := range rlChatPlan {
		cur, le := p.current[k], p.loadExp[k]
		tag := ""
		if st.ok() {
			tag = fmt.Sprintf("T%d", cur.version+1)
			cur = rlTagVersion{tag, cur.version + 1}
			if st.kind == "migrate" {
				le = cur
			}
		}
		p.tags = append(p.tags, tag)
		p.current = append(p.current, cur)
		p.loadExp = append(p.loadExp, le)
	}
	return p
}

// rlLoadResult is what one load client saw.
type rlLoadResult struct {
	replies, atFinal int
	err              error
}

// rlLoadClient exchanges numbered messages on c, one in flight, until stop
// (bounded to 60 s), and checks each reply against the plan: in order, the
// shared counter growing, and the tag and version of an epoch between the
// one before the send and the one after the reply plus one.
func rlLoadClient(i int, c *websocket.Conn, plan rlLoadPlan, epoch *atomic.Int64, stop *atomic.Bool) (res rlLoadResult) {
	final := len(rlChatPlan)
	lastN := 0
	deadline := time.Now().Add(60 * time.Second)
	for seq := 1; !stop.Load() && time.Now().Before(deadline); seq++ {
		e := int(epoch.Load())
		reply, err := rlRoundTrip(c, strconv.Itoa(seq))
		if err != nil {
			res.err = fmt.Errorf("client %d seq %d (epoch %d): %w", i, seq, e, err)
			return
		}
		r := int(epoch.Load())
		f := strings.Split(reply, "|")
		if len(f) != 5 {
			res.err = fmt.Errorf("client %d seq %d: malformed reply %q", i, seq, reply)
			return
		}
		if f[1] != strconv.Itoa(seq) {
			res.err = fmt.Errorf("client %d: sent seq %d, reply %q (lost, duplicated or reordered)", i, seq, reply)
			return
		}
		n, _ := strconv.Atoi(f[2])
		if n <= lastN {
			res.err = fmt.Errorf("client %d seq %d: shared counter went %d -> %d (server.state not shared?)", i, seq, lastN, n)
			return
		}
		lastN = n
		// Processed after reload e was applied and before at most
		// reload r+1 (the next one is only sent once r is confirmed).
		ok := false
		for k := e; k <= min(r+1, final); k++ {
			x := plan.loadExp[k]
			if f[0] == x.tag && f[3] == x.tag && f[4] == strconv.Itoa(x.version) {
				ok = true
			}
		}
		if !ok {
			res.err = fmt.Errorf("client %d seq %d: reply %q between epochs %d and %d; want one of %v",
				i, seq, reply, e, r+1, plan.loadExp[e:min(r+2, final+1)])
			return
		}
		res.replies++
		if e == final {
			res.atFinal++
		}
	}
	return
}

// rlProbe is a connection opened after one reload and asked again after
// every later one.
type rlProbe struct {
	c   *websocket.Conn
	exp rlTagVersion
}

// rlAskProbes asks every probe at once (one round trip's time for all) and
// returns the first wrong answer; the last probe is the newest connection.
func rlAskProbes(k int, probes []*rlProbe) error {
	errs := make([]error, len(probes))
	var pwg sync.WaitGroup
	for j, p := range probes {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			reply, err := rlRoundTrip(p.c, "probe")
			if err != nil {
				errs[j] = fmt.Errorf("after reload %d: probe %d: %w", k, j, err)
				return
			}
			f := strings.Split(reply, "|")
			if len(f) != 5 || f[0] != p.exp.tag || f[3] != p.exp.tag || f[4] != strconv.Itoa(p.exp.version) {
				what := "an older connection"
				if j == len(probes)-1 {
					what = "a new connection"
				}
				errs[j] = fmt.Errorf("after reload %d (%s): %s (probe %d) answered %q; want tag %s version %d",
					k, rlChatPlan[k-1].kind, what, j, reply, p.exp.tag, p.exp.version)
			}
		}()
	}
	pwg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// rlCheckGoodReload waits for the good-th "reloaded" line (reload k) and
// checks it: version, trigger, no failure line, and how many of conns
// connections it moved over.
func rlCheckGoodReload(t *testing.T, srv *server, k int, plan rlLoadPlan, good, failed, conns int) error {
	t.Helper()
	st := rlChatPlan[k-1]
	logs := rlWaitLog(t, srv.Logs, 10*time.Second, fmt.Sprintf("reload %d (%s)", k, st.kind),
		func(l string) bool { return len(rlReloads(l)) >= good })
	rs := rlReloads(logs)
	last := rs[good-1]
	if len(rs) != good || last.version != plan.current[k].version || last.trigger != "SIGHUP" {
		return fmt.Errorf("reload %d: want exactly %d reloaded lines, the last with version=%d trigger=SIGHUP; got %+v",
			k, good, plan.current[k].version, rs)
	}
	if len(rlFailures(logs)) != failed {
		return fmt.Errorf("reload %d (good) was also logged as failed:\n%s", k, rlTail(logs, 3000))
	}
	wantMigrated := 0
	if st.kind == "migrate" {
		wantMigrated = last.conns // every open connection runs an older main class
	}
	if last.migrated != wantMigrated || last.migrationFailed != 0 || last.conns != conns {
		return fmt.Errorf("reload %d (%s): %+v; want migrated=%d migration_failed=0 connections=%d",
			k, st.kind, last, wantMigrated, conns)
	}
	return nil
}

// rlCheckFailedReload waits for the failed-th "reload failed" line (reload
// k in dir) and checks it: trigger, version unchanged, file:line of the
// fault, and no "reloaded" line for it.
func rlCheckFailedReload(t *testing.T, srv *server, dir string, k int, plan rlLoadPlan, good, failed int) error {
	t.Helper()
	st := rlChatPlan[k-1]
	logs := rlWaitLog(t, srv.Logs, 10*time.Second, fmt.Sprintf("reload %d (%s) to fail", k, st.kind),
		func(l string) bool { return len(rlFailures(l)) >= failed })
	fs := rlFailures(logs)
	last := fs[failed-1]
	if len(fs) != failed || last.trigger != "SIGHUP" || last.version != plan.current[k].version {
		return fmt.Errorf("reload %d (%s): want %d failure lines, the last with trigger=SIGHUP version=%d; got %+v",
			k, st.kind, failed, plan.current[k].version, fs)
	}
	if err := st.checkFailure(dir, last.err); err != nil {
		return fmt.Errorf("reload %d: %v", k, err)
	}
	if n := len(rlReloads(logs)); n != good {
		return fmt.Errorf("reload %d (%s) failed but %d reloaded lines are logged, want %d", k, st.kind, n, good)
	}
	return nil
}

// TestReloadUnderLoad: 200 WebSocket clients exchange numbered messages
// (one in flight each) while 20 SIGHUP reloads happen ~100-150 ms apart.
// Nothing is lost, duplicated or reordered and no connection drops; every
// reply carries the version the plan predicts for that connection; failed
// reloads change nothing and are logged with file:line; server.state is
// shared across versions; the log's version increments only on success.
func TestReloadUnderLoad(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		const clients = 200
		dir := t.TempDir()
		mainPath := filepath.Join(dir, "main.lua")
		rlWriteFiles(t, dir, rlChatStep{"good"}.files(t, 0, "T1"))
		srv := startServer(t, poller, mainPath)
		plan := newRLLoadPlan()
		final := len(rlChatPlan)

		var epoch atomic.Int64
		var stop atomic.Bool
		results := make([]rlLoadResult, clients)
		conns := make([]*websocket.Conn, clients)
		for i := range conns {
			conns[i] = rlMustDial(t, srv.Addr)
		}
		var wg sync.WaitGroup
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = rlLoadClient(i, conns[i], plan, &epoch, &stop)
			}()
		}
		clientsDone := make(chan struct{})
		go func() { wg.Wait(); close(clientsDone) }()
		failEarly := func() {
			t.Helper()
			stop.Store(true)
			<-clientsDone
			for _, r := range results {
				if r.err != nil {
					t.Fatal(r.err)
				}
			}
		}

		// Probes: one new connection after every reload, kept open.
		probeMsgs := 0
		var probes []*rlProbe

		time.Sleep(100 * time.Millisecond) // let the load run before the first reload
		good, failed := 0, 0
		start := time.Now()
		for k := 1; k <= final; k++ {
			st := rlChatPlan[k-1]
			sent := time.Now()
			rlWriteFiles(t, dir, st.files(t, k, plan.tags[k]))
			if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			var err error
			if st.ok() {
				good++
				err = rlCheckGoodReload(t, srv, k, plan, good, failed, clients+len(probes))
			} else {
				failed++
				err = rlCheckFailedReload(t, srv, dir, k, plan, good, failed)
			}
			if err != nil {
				failEarly()
				t.Fatal(err)
			}
			epoch.Store(int64(k))
			if st.kind == "migrate" { // reloaded moves every open connection over
				for _, p := range probes {
					p.exp = plan.current[k]
				}
			}
			probes = append(probes, &rlProbe{c: rlMustDial(t, srv.Addr), exp: plan.current[k]})
			probeMsgs += len(probes)
			if err := rlAskProbes(k, probes); err != nil {
				failEarly()
				t.Fatal(err)
			}
			time.Sleep(time.Until(sent.Add(time.Duration(100+rand.IntN(51)) * time.Millisecond)))
		}
		reloadTime := time.Since(start)
		time.Sleep(300 * time.Millisecond) // every client runs on the final state for a while
		stop.Store(true)
		select {
		case <-clientsDone:
		case <-time.After(30 * time.Second):
			t.Fatal("clients did not finish")
		}
		total := probeMsgs
		for i, r := range results {
			if r.err != nil {
				t.Error(r.err)
				continue
			}
			if r.atFinal == 0 {
				t.Errorf("client %d got no reply after the last reload (%d replies in all)", i, r.replies)
			}
			total += r.replies
		}
		if t.Failed() {
			t.FailNow()
		}

		// server.state: one counter across all 12 versions; every connection still open.
		statConn := rlMustDial(t, srv.Addr)
		want := fmt.Sprintf("stat|%d|%d|%d", total, plan.current[final].version, clients+len(probes)+1)
		if got := rlAsk(t, statConn, "stat"); got != want {
			t.Fatalf("stat = %q, want %q (counter = every message of every version; version; open connections)", got, want)
		}
		for i, c := range conns {
			if err := rlCloseClean(c); err != nil {
				t.Fatalf("client %d: %v", i, err)
			}
		}
		for i, p := range probes {
			if err := rlCloseClean(p.c); err != nil {
				t.Fatalf("probe %d: %v", i, err)
			}
		}
		if err := rlCloseClean(statConn); err != nil {
			t.Fatalf("stat connection: %v", err)
		}

		logs := srv.Logs()
		if n := strings.Count(logs, "level=ERROR"); n != failed {
			t.Fatalf("%d ERROR lines in the logs, want only the %d failed reloads:\n%s", n, failed, rlTail(logs, 4000))
		}
		if strings.Contains(logs, "lua handler failed") {
			t.Fatalf("a handler failed:\n%s", rlTail(logs, 4000))
		}
		srv.stop()
		var maxPause time.Duration
		for _, r := range rlReloads(logs) {
			maxPause = max(maxPause, r.pause)
		}
		t.Logf("%d clients, %d reloads (%d good, %d failed) in %s; %d messages, all in order; final %s v%d; longest reload pause %s",
			clients, final, good, failed, reloadTime.Round(time.Millisecond), total, plan.current[final].tag, plan.current[final].version, maxPause)
	})
}
