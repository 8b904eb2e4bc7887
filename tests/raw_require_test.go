package tests

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRawRequireNextToScript: require finds a module in the main script's
// own folder, whatever the working directory.
func TestRawRequireNextToScript(t *testing.T) {
	rawQuickExit(t)
	dir := t.TempDir()
	rawWriteFile(t, dir, "words.lua", renderTestdata(t, "raw/words.lua", "from next door"))
	main := scriptFrom(t, dir, "raw/word_greeter.lua", "words")
	eachPoller(t, func(t *testing.T, poller string) {
		srv := launch{poller: poller, dir: t.TempDir()}.start(t, main)
		c := dialRaw(t, srv.Addr)
		c.expect("from next door")
		c.roundTrip("echo", "echo")
		c.Close()
		srv.stop()
	})
}

// TestRawRequireLuaPath: -I adds a folder to require's search (dotted names
// map to subfolders); without it the module is not found, and --check says
// which module and where it looked.
func TestRawRequireLuaPath(t *testing.T) {
	rawQuickExit(t)
	lib := t.TempDir()
	rawWriteFile(t, lib, "shared/words.lua", renderTestdata(t, "raw/words.lua", "from the -I folder"))
	main := scriptFrom(t, "", "raw/word_greeter.lua", "shared.words")

	r := rawRunCLI(t, "", "--check", main)
	if r.code != 1 || !strings.Contains(r.stderr, "shared.words") {
		t.Fatalf("--check without -I: exit %d, stderr %q; want 1 naming the module shared.words", r.code, r.stderr)
	}
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "-I", lib, main)
		c := dialRaw(t, srv.Addr)
		c.expect("from the -I folder")
		c.Close()
		srv.stop()
	})
}

// TestRawRequireWorkingDirIgnored: a module that sits only in the working
// directory is not found: require searches the script's folder, -I folders
// and the embedded batteries, never the working directory.
func TestRawRequireWorkingDirIgnored(t *testing.T) {
	cwd := t.TempDir()
	rawWriteFile(t, cwd, "words.lua", renderTestdata(t, "raw/words.lua", "from the working directory"))
	main := scriptFrom(t, "", "raw/word_greeter.lua", "words")
	r := rawRunCLI(t, cwd, "--check", main)
	if r.code != 1 || !strings.Contains(r.stderr, "words") {
		t.Fatalf("--check with the module only in the working directory: exit %d, stderr %q; want 1", r.code, r.stderr)
	}
}

// TestRawRequireBatteriesElsewhere: run from an unrelated working directory,
// a script still gets the embedded batteries (require "tcp_echo", which
// itself requires "fatclient"), and with no script at all the embedded
// default (echo.lua, a WebSocket echo) loads and answers a handshake.
func TestRawRequireBatteriesElsewhere(t *testing.T) {
	rawQuickExit(t)
	main := testdata(t, "raw/batteries.lua")
	eachPoller(t, func(t *testing.T, poller string) {
		srv := launch{poller: poller, dir: t.TempDir()}.start(t, main)
		c := dialRaw(t, srv.Addr)
		c.roundTrip("batteries included", "batteries included")
		c.Close()
		srv.stop()

		def := launch{poller: poller, dir: t.TempDir()}.start(t)
		ws := dialRaw(t, def.Addr)
		ws.send("GET / HTTP/1.1\r\nHost: " + def.Addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		ws.SetReadDeadline(time.Now().Add(rawIOTimeout))
		resp, err := http.ReadResponse(ws.r, nil)
		if err != nil {
			t.Fatalf("embedded default script: reading handshake response: %v", err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
			t.Fatalf("embedded default script answered %s %v", resp.Status, resp.Header)
		}
		ws.Close()
		def.stop()
	})
}
