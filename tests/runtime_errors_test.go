package tests

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The runtime's error messages as a script author sees them in the
// server's log and from --check: Lua 5.1's wording, at the user's line.

// TestErrorsInHandlers: a misspelt method and a bad argument to a battery's
// method are logged with the script's own file:line and Lua 5.1's message;
// the traceback names the handler by where it is defined, not "main chunk".
func TestErrorsInHandlers(t *testing.T) {
	script := testdata(t, "runtime/errs.lua")
	src := testdataText(t, "runtime/errs.lua")
	srv := startServer(t, "epoll", script)
	for _, c := range []struct{ send, msg string }{
		{"typo", "attempt to call method 'sned' (a nil value)"},
		{"badarg", "bad argument #1 to 'send' (string expected, got nil)"},
		{"badkind", "bad argument #2 to 'send' (invalid option 'texte')"},
	} {
		ws := wsDial(t, srv.Addr)
		ws.send(wsFrame(true, wsOpText, []byte(c.send)))
		ws.expectCloseFrame(1011)
		ws.answerClose(1011)
		want := fmt.Sprintf("%s:%d: %s", script, rawLineOf(t, src, "AT:"+c.send), c.msg)
		waitFor(t, 5*time.Second, "the "+c.send+" error in the log", func() bool {
			return strings.Contains(srv.Logs(), c.msg)
		})
		if logs := srv.Logs(); !strings.Contains(logs, want) {
			t.Fatalf("log lacks %q; logs:\n%s", want, logs)
		}
	}
	logs := srv.Logs()
	if want := fmt.Sprintf("in function <%s:%d>", script, rawLineOf(t, src, "AT:handler")); !strings.Contains(logs, want) {
		t.Fatalf("traceback lacks %q; logs:\n%s", want, logs)
	}
	if strings.Contains(logs, "main chunk") {
		t.Fatalf("a handler's frame is labelled main chunk; logs:\n%s", logs)
	}
	srv.stop()
}

// TestErrorsSyntaxUnclosed: a missing '}' is reported as Lua 5.1 does,
// naming the line of the '{' it would close.
func TestErrorsSyntaxUnclosed(t *testing.T) {
	script := testdata(t, "runtime/unclosed.lua")
	r := rawRunCLI(t, "", "--check", script)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	want := script + ":8: '}' expected (to close '{' at line 4) near 'local'"
	if line := rawOneLine(t, "syntax error", r.stderr); !strings.Contains(line, want) {
		t.Fatalf("got %q, want it to contain %q", line, want)
	}
}
