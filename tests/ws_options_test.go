package tests

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const wsDeprecatedOptions = "websocket: Class.options is deprecated"

// TestWSOptionSpellings: options set as class fields and in the deprecated
// Class.options table act alike (origin check, max_message's 1009), an
// inherited table's entry wins over a subclass field of the same name, and
// each class that defines a table logs the deprecation once, naming its
// keys, however many connections (and subclasses) use it.
func TestWSOptionSpellings(t *testing.T) {
	srv := startServer(t, "epoll", testdata(t, "ws/options.lua"))
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	for _, path := range []string{"/fields", "/table", "/sub", "/other"} {
		t.Run(path[1:], func(t *testing.T) {
			url := "ws://" + srv.Addr + path
			c, resp, err := d.Dial(url, http.Header{"Origin": {"http://evil.example"}})
			if err == nil {
				c.Close()
				t.Fatal("a foreign Origin was upgraded")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("foreign Origin: %v, response %v; want 403", err, resp)
			}
			for i := 0; i < 2; i++ { // a second connection must not warn again
				c, _, err = d.Dial(url, http.Header{"Origin": {"http://good.example"}})
				if err != nil {
					t.Fatalf("allowed Origin: %v", err)
				}
				if got := rlAsk(t, c, strings.Repeat("x", 16)); got != strings.Repeat("x", 16) {
					t.Fatalf("16 bytes: echo %q", got)
				}
				c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if err := c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 17))); err != nil {
					t.Fatal(err)
				}
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
					t.Fatalf("17 bytes over max_message 16: %v, want close 1009", err)
				}
				c.Close()
			}
		})
	}
	var warnings []string
	for _, line := range strings.Split(srv.Logs(), "\n") {
		if strings.Contains(line, wsDeprecatedOptions) {
			warnings = append(warnings, line)
		}
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "options=max_message,origins") ||
		!strings.HasSuffix(warnings[1], "options=max_message") || !strings.Contains(warnings[0], "level=WARN") {
		t.Fatalf("deprecation lines %q: want one for /table's class (options=max_message,origins; /sub shares it) and one for /other's (options=max_message)", warnings)
	}
}
