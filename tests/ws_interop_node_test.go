package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// wsInteropDir holds the Node client and its pinned dependencies.
const wsInteropDir = "interop"

// wsNPMHint is what to run when the Node client is not installed.
const wsNPMHint = "run `npm ci --prefix tests/interop` from the repository root " +
	"(or set POCKETLUA_SKIP_NODE=1 to skip the Node interop test)"

// wsNodeSummary is the JSON line tests/interop/client.mjs prints.
type wsNodeSummary struct {
	OK          bool     `json:"ok"`
	Client      string   `json:"client"`
	Node        string   `json:"node"`
	Sent        int      `json:"sent"`
	Echoed      int      `json:"echoed"`
	Bytes       int64    `json:"bytes"`
	Pongs       int      `json:"pongs"`
	CloseCode   *int     `json:"closeCode"`
	CloseReason *string  `json:"closeReason"`
	Errors      []string `json:"errors"`
}

// wsRequireNode finds node and the installed ws package, failing (or, with
// POCKETLUA_SKIP_NODE=1, skipping) with the install command when missing.
// It never touches the network.
func wsRequireNode(t *testing.T) (node, wantVersion string) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("POCKETLUA_SKIP_NODE") == "1" {
			t.Skipf("POCKETLUA_SKIP_NODE=1: "+format, args...)
		}
		t.Fatalf(format+"; "+wsNPMHint, args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile(filepath.Join(wsInteropDir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatalf("tests/interop/package.json: %v", err)
	}
	wantVersion = pkg.Dependencies["ws"]
	var installed struct {
		Version string `json:"version"`
	}
	b, err = os.ReadFile(filepath.Join(wsInteropDir, "node_modules", "ws", "package.json"))
	if err != nil {
		missing("the npm ws package is not installed in tests/interop/node_modules")
	}
	if err := json.Unmarshal(b, &installed); err != nil {
		t.Fatalf("tests/interop/node_modules/ws/package.json: %v", err)
	}
	if installed.Version != wantVersion {
		missing("tests/interop/node_modules has ws %s, package.json pins %s", installed.Version, wantVersion)
	}
	return node, wantVersion
}

// TestInteropNodeWS: the npm ws client (tests/interop/client.mjs) against
// scripts/echo.lua: text and binary messages of every length class, a
// burst, a ping, and a close 1000. Both pollers.
func TestInteropNodeWS(t *testing.T) {
	node, version := wsRequireNode(t)
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "../scripts/echo.lua")
		wsRunNodeClient(t, srv, node, version, "ws://"+srv.Addr+"/", nil)
		srv.stop()
	})
}

// wsRunNodeClient runs client.mjs against url (env added to node's) and
// checks its summary.
func wsRunNodeClient(t *testing.T, srv *server, node, version, url string, env []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sizes := "0,1,125,126,127,65535,65536,1048576"
	cmd := exec.CommandContext(ctx, node, filepath.Join(wsInteropDir, "client.mjs"), url, sizes)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var sum wsNodeSummary
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &sum); err != nil {
		t.Fatalf("node client: %v; no JSON summary (%v)\nstdout: %s\nstderr: %s\nserver logs:\n%s",
			runErr, err, stdout.String(), stderr.String(), srv.Logs())
	}
	if runErr != nil || !sum.OK || len(sum.Errors) > 0 {
		t.Fatalf("node client failed (%v): %s\nstderr: %s\nserver logs:\n%s",
			runErr, stdout.String(), stderr.String(), srv.Logs())
	}
	want := 8*2 + 100 // every size as text and binary, then the burst
	if sum.Sent != want || sum.Echoed != want {
		t.Fatalf("node client sent %d and got %d echoes, want %d each: %s", sum.Sent, sum.Echoed, want, stdout.String())
	}
	if sum.Pongs != 1 {
		t.Fatalf("node client saw %d pongs, want 1", sum.Pongs)
	}
	if sum.CloseCode == nil || *sum.CloseCode != 1000 {
		t.Fatalf("node client's close code %v, want 1000: %s", sum.CloseCode, stdout.String())
	}
	if sum.Client != "ws@"+version {
		t.Fatalf("node client ran %s, want ws@%s", sum.Client, version)
	}
	t.Logf("%s on node %s: %d messages, %d bytes echoed", sum.Client, sum.Node, sum.Echoed, sum.Bytes)
}
