package console

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"golang.org/x/term"
)

// client is one console session seen from the terminal side.
type client struct {
	conn  net.Conn
	in    *bufio.Scanner
	enc   *json.Encoder
	hello Reply
}

func dial(path string) (*client, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("console %s: %w", path, err)
	}
	cl := &client{conn: c, in: bufio.NewScanner(c), enc: json.NewEncoder(c)}
	cl.in.Buffer(make([]byte, 64<<10), 16<<20)
	hello, err := cl.read()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("console %s: %w", path, err)
	}
	if !hello.Hello {
		c.Close()
		return nil, fmt.Errorf("console %s: %s", path, hello.Err)
	}
	cl.hello = hello
	return cl, nil
}

func (c *client) read() (Reply, error) {
	if !c.in.Scan() {
		if err := c.in.Err(); err != nil {
			return Reply{}, err
		}
		return Reply{}, errors.New("the server closed the console")
	}
	var r Reply
	err := json.Unmarshal(c.in.Bytes(), &r)
	return r, err
}

func (c *client) send(line string) (Reply, error) {
	if err := c.enc.Encode(request{Line: line}); err != nil {
		return Reply{}, err
	}
	return c.read()
}

// Eval sends one chunk or command and prints its reply: what the chunk
// printed and returned on stdout, an error on stderr. It is
// `pocketlua console PATH -e CHUNK`; the status is 1 when the chunk failed.
func Eval(path, chunk string, stdout, stderr io.Writer) int {
	c, err := dial(path)
	if err != nil {
		fmt.Fprintf(stderr, "pocketlua: %v\n", err)
		return 1
	}
	defer c.conn.Close()
	r, err := c.send(chunk)
	if err != nil {
		fmt.Fprintf(stderr, "pocketlua: console: %v\n", err)
		return 1
	}
	if r.More {
		fmt.Fprintln(stderr, "pocketlua: console: the chunk is incomplete")
		return 1
	}
	show(stdout, r.Text)
	if r.Err != "" {
		fmt.Fprintln(stderr, r.Err)
		return 1
	}
	return 0
}

func show(w io.Writer, text string) {
	if text != "" {
		fmt.Fprintln(w, strings.TrimSuffix(text, "\n"))
	}
}

// Interactive runs a session on a terminal: line editing and history from
// x/term, a continuation prompt while a chunk is incomplete, and :log
// streamed until Ctrl-C. When stdin is not a terminal, lines are read
// plainly, one request per complete chunk.
func Interactive(path string, stdin *os.File, stdout io.Writer) error {
	c, err := dial(path)
	if err != nil {
		return err
	}
	defer c.conn.Close()
	keys := make(chan []byte)
	go func() { // the one reader of stdin, shared by the line editor and :log
		for {
			buf := make([]byte, 256)
			n, err := stdin.Read(buf)
			if n > 0 {
				keys <- buf[:n]
			}
			if err != nil {
				close(keys)
				return
			}
		}
	}()
	if !term.IsTerminal(int(stdin.Fd())) {
		return c.plain(&chanReader{keys: keys}, stdout)
	}
	old, err := term.MakeRaw(int(stdin.Fd()))
	if err != nil {
		return err
	}
	defer term.Restore(int(stdin.Fd()), old)
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{&chanReader{keys: keys}, stdout}, "pocketlua> ")
	if w, h, err := term.GetSize(int(stdin.Fd())); err == nil {
		t.SetSize(w, h)
	}
	show(t, c.hello.Text)
	var chunk strings.Builder
	for {
		line, err := t.ReadLine()
		if err != nil {
			if errors.Is(err, term.ErrPasteIndicator) {
				err = nil
			} else {
				return nil // Ctrl-D or Ctrl-C
			}
		}
		if chunk.Len() > 0 {
			chunk.WriteByte('\n')
		}
		chunk.WriteString(line)
		if strings.TrimSpace(chunk.String()) == ":log" || strings.HasPrefix(chunk.String(), ":log ") {
			err = c.streamLog(chunk.String(), keys, t)
			chunk.Reset()
			if err != nil {
				return err
			}
			continue
		}
		r, err := c.send(chunk.String())
		if err != nil {
			return err
		}
		if r.More {
			t.SetPrompt(">> ")
			continue
		}
		chunk.Reset()
		t.SetPrompt(prompt(r.Worker))
		show(t, r.Text)
		if r.Err != "" {
			show(t, string(t.Escape.Red)+r.Err+string(t.Escape.Reset))
		}
	}
}

func prompt(worker int) string {
	if worker > 1 {
		return fmt.Sprintf("pocketlua[%d]> ", worker)
	}
	return "pocketlua> "
}

// streamLog shows streamed log lines until a Ctrl-C on the keyboard.
func (c *client) streamLog(line string, keys <-chan []byte, w io.Writer) error {
	if err := c.enc.Encode(request{Line: line}); err != nil {
		return err
	}
	replies := make(chan Reply)
	failed := make(chan error, 1)
	go func() {
		for {
			r, err := c.read()
			if err != nil {
				failed <- err
				return
			}
			replies <- r
			if r.Log == "" && (r.Err != "" || strings.HasPrefix(r.Text, "log stream ended")) {
				return
			}
		}
	}()
	stopped := false
	for {
		select {
		case k, ok := <-keys:
			if (!ok || strings.ContainsRune(string(k), 3)) && !stopped {
				stopped = true
				if err := c.enc.Encode(request{Line: ":stop"}); err != nil {
					return err
				}
			}
			if !ok {
				keys = nil
			}
		case err := <-failed:
			return err
		case r := <-replies:
			if r.Log != "" {
				fmt.Fprintln(w, r.Log)
				continue
			}
			show(w, r.Text)
			if r.Err != "" {
				show(w, r.Err)
				return nil
			}
			if strings.HasPrefix(r.Text, "log stream ended") {
				return nil
			}
		}
	}
}

// plain serves a console whose input is not a terminal.
func (c *client) plain(r io.Reader, stdout io.Writer) error {
	in := bufio.NewScanner(r)
	in.Buffer(make([]byte, 4096), maxLine)
	var chunk strings.Builder
	for in.Scan() {
		if chunk.Len() > 0 {
			chunk.WriteByte('\n')
		}
		chunk.WriteString(in.Text())
		rep, err := c.send(chunk.String())
		if err != nil {
			return err
		}
		if rep.More {
			continue
		}
		chunk.Reset()
		show(stdout, rep.Text)
		show(stdout, rep.Err)
	}
	return nil
}

// chanReader reads what the stdin goroutine hands over.
type chanReader struct {
	keys <-chan []byte
	rest []byte
}

func (r *chanReader) Read(p []byte) (int, error) {
	if len(r.rest) == 0 {
		k, ok := <-r.keys
		if !ok {
			return 0, io.EOF
		}
		r.rest = k
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}
