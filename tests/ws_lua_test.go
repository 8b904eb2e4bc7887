package tests

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// answerClose completes a close the server started: echo its code, then
// expect the server to close TCP.
func (c *wsClient) answerClose(code int) {
	c.t.Helper()
	c.send(wsCloseFrame(code, ""))
	c.expectEOF()
}

// TestWSLuaError: a WebSocket handler that raises, or runs past
// --handler-timeout, costs its own connection a close 1011 and a logged
// traceback; every other connection goes on. Epoll only.
func TestWSLuaError(t *testing.T) {
	script := testdata(t, "ws/boom.lua")
	srv := startServer(t, "epoll", "--handler-timeout", "300ms", script)
	addr := srv.Addr

	bystander := wsDial(t, addr)
	bystander.echo(wsOpText, []byte("before"))

	t.Run("error", func(t *testing.T) {
		c := wsDial(t, addr)
		c.echo(wsOpText, []byte("ok so far"))
		c.send(wsFrame(true, wsOpText, []byte("boom")))
		c.expectCloseFrame(1011)
		c.answerClose(1011)
		bystander.with(t).echo(wsOpBinary, []byte("still echoing"))
		waitFor(t, 5*time.Second, "the error in the log", func() bool {
			return strings.Contains(srv.Logs(), "boom requested by the client")
		})
		at := fmt.Sprintf("boom.lua:%d", fileLineOf(t, script, "boom requested"))
		if logs := srv.Logs(); !strings.Contains(logs, at) {
			t.Fatalf("the log names no file:line for the error; logs:\n%s", logs)
		}
	})

	t.Run("runaway-handler", func(t *testing.T) {
		c := wsDial(t, addr)
		start := time.Now()
		c.send(wsFrame(true, wsOpText, []byte("spin")))
		c.expectCloseFrame(1011)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("runaway handler interrupted after %s; --handler-timeout is 300ms", d)
		}
		c.answerClose(1011)
		bystander.with(t).echo(wsOpText, []byte("still echoing after the runaway"))
	})

	t.Run("new-connections-still-served", func(t *testing.T) {
		c := wsDial(t, addr)
		c.echo(wsOpText, []byte("fresh"))
		c.closeCleanly()
	})
	bystander.closeCleanly()
	srv.stop()
}

// TestWSShutdown: on SIGTERM every WebSocket client receives close 1001
// (RFC 6455 §7.4.1 "going away"); clients that answer are closed at once,
// silent ones after --close-timeout; the server exits 0. Both pollers.
func TestWSShutdown(t *testing.T) {
	eachPoller(t, func(t *testing.T, poller string) {
		srv := startServer(t, poller, "--close-timeout", "1s", "../scripts/echo.lua")
		const n, silent = 10, 2
		clients := make([]*wsClient, n)
		for i := range clients {
			clients[i] = wsDial(t, srv.Addr)
			clients[i].echo(wsOpText, []byte("hello"))
		}
		// One client is in the middle of a fragmented message.
		clients[0].send(wsFrame(false, wsOpText, []byte("half a message")))
		time.Sleep(20 * time.Millisecond)

		start := time.Now()
		if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		for i, c := range clients {
			c.expectCloseFrame(1001)
			if i < n-silent {
				c.answerClose(1001)
			}
		}
		for _, c := range clients[n-silent:] {
			c.expectEOF()
		}
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Fatalf("silent clients dropped after %s, before --close-timeout (1 s)", d)
		}
		select {
		case <-srv.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("server did not exit within 10 s of SIGTERM; logs:\n%s", srv.Logs())
		}
		if code := srv.cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("exit code %d after SIGTERM; logs:\n%s", code, srv.Logs())
		}
		if d := time.Since(start); d > 8*time.Second {
			t.Fatalf("shutdown took %s (close timeout 1 s, grace 5 s)", d)
		}
	})
}
