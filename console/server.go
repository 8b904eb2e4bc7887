// Package console is the live console: a Unix socket through which the
// user the server runs as evaluates Lua in a running worker, lists and
// inspects connections, reloads and watches the log; and the client,
// `pocketlua console`, that talks to it from a terminal or a script.
//
// The socket speaks JSON lines: the client sends {"line": "..."} and gets
// one Reply per line; ":log" streams Replies with Log set until the client
// sends ":stop" or goes away. Evaluation itself runs on a worker's loop
// (Worker.Console), so nothing here touches Lua.
package console

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Reply is one message from the server.
type Reply struct {
	Text    string `json:"text,omitempty"`
	Err     string `json:"err,omitempty"`
	More    bool   `json:"more,omitempty"`    // the chunk is incomplete
	Log     string `json:"log,omitempty"`     // one streamed log line
	Hello   bool   `json:"hello,omitempty"`   // the greeting
	Worker  int    `json:"worker,omitempty"`  // the worker the session talks to
	Workers int    `json:"workers,omitempty"` // in the greeting
}

type request struct {
	Line string `json:"line"`
}

// Worker is one event loop the console can talk to.
type Worker interface {
	// Console runs a Lua chunk or a loop command (":conns", ":inspect",
	// ":close", ":stats") on the worker's loop and returns its reply.
	Console(line string) Reply
	Reload(trigger string)
}

// Config is what Listen needs.
type Config struct {
	Path    string
	Logs    *LogTee // the server's log, for :log
	Logger  *slog.Logger
	Version string
}

// maxSessions bounds the goroutines consoles cost: two per session.
const maxSessions = 16

// maxLine bounds one request; a chunk pasted into a console is small.
const maxLine = 1 << 20

// Server accepts console sessions on a Unix socket.
type Server struct {
	cfg      Config
	workers  []Worker
	ln       *net.UnixListener
	uid      int
	mu       sync.Mutex
	sessions map[net.Conn]bool
	closed   bool
	wg       sync.WaitGroup
}

// Listen creates the socket with mode 0600, before the server starts, so
// a bad path stops it early. A path that exists is taken over only when it
// is a socket nobody listens on (left by a server that did not exit
// cleanly); anything else is refused. Serve starts the sessions.
func Listen(cfg Config) (*Server, error) {
	if err := takeStale(cfg.Path); err != nil {
		return nil, err
	}
	old := unix.Umask(0o177) // no moment where the socket is open to others
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: cfg.Path, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("--admin-socket: %w", err)
	}
	if err := os.Chmod(cfg.Path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("--admin-socket: %w", err)
	}
	return &Server{cfg: cfg, ln: ln, uid: os.Getuid(), sessions: map[net.Conn]bool{}}, nil
}

// Serve accepts sessions for workers (worker 1 first) until Close.
func (s *Server) Serve(workers []Worker) {
	s.workers = workers
	s.wg.Add(1)
	go s.serve()
}

func takeStale(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--admin-socket: %w", err)
	}
	if st.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("--admin-socket %s exists and is not a socket; refusing to replace it", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("--admin-socket %s: another process is listening on it", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("--admin-socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("--admin-socket: removing the stale socket: %w", err)
	}
	return nil
}

// Close stops accepting, ends every session and removes the socket.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.sessions {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close() // removes the socket file
	s.wg.Wait()
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.cfg.Logger.Warn("console: accept", "err", err)
			time.Sleep(100 * time.Millisecond) // out of descriptors: don't spin
			continue
		}
		uid, err := peerUID(c)
		if err != nil || uid != s.uid {
			// The file mode keeps other users out, but not root: the
			// check is on the peer's credentials, every time.
			s.cfg.Logger.Warn("console: refused a connection from another user", "uid", uid, "server_uid", s.uid)
			writeReply(c, Reply{Err: "refused: only the user the server runs as may use its console"})
			c.Close()
			continue
		}
		s.mu.Lock()
		if s.closed || len(s.sessions) >= maxSessions {
			s.mu.Unlock()
			writeReply(c, Reply{Err: fmt.Sprintf("refused: %d console sessions are open already", maxSessions)})
			c.Close()
			continue
		}
		s.sessions[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.session(c, uid)
			s.mu.Lock()
			delete(s.sessions, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// peerUID is the uid of the process at the other end of c.
func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	uid, uidErr := -1, error(nil)
	if err := raw.Control(func(fd uintptr) { uid, uidErr = fdUID(int(fd)) }); err != nil {
		return -1, err
	}
	return uid, uidErr
}

func writeReply(c net.Conn, r Reply) error {
	b, _ := json.Marshal(r)
	c.SetWriteDeadline(time.Now().Add(10 * time.Second)) // a console that stops reading is dropped
	_, err := c.Write(append(b, '\n'))
	return err
}

// session serves one console until it hangs up.
func (s *Server) session(c net.Conn, uid int) {
	in := bufio.NewScanner(c)
	in.Buffer(make([]byte, 4096), maxLine)
	worker := 1
	n := len(s.workers)
	writeReply(c, Reply{Hello: true, Worker: worker, Workers: n,
		Text: fmt.Sprintf("pocketlua %s console, worker %d of %d (:help lists the commands)", s.cfg.Version, worker, n)})
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			writeReply(c, Reply{Err: "bad request: " + err.Error()})
			return
		}
		line := strings.TrimSpace(req.Line)
		if line == "" {
			writeReply(c, Reply{Worker: worker})
			continue
		}
		cmd, arg, _ := strings.Cut(line, " ")
		arg = strings.TrimSpace(arg)
		var r Reply
		switch cmd {
		case ":help":
			r.Text = helpText
		case ":worker":
			k, err := strconv.Atoi(arg)
			if err != nil || k < 1 || k > n {
				r.Err = fmt.Sprintf("want a worker from 1 to %d", n)
				break
			}
			worker = k
			r.Text = fmt.Sprintf("worker %d of %d", worker, n)
		case ":reload":
			for _, w := range s.workers {
				w.Reload("console")
			}
			r.Text = fmt.Sprintf("reload asked of %d worker(s); the log says how it went", n)
		case ":log":
			var err error
			if r, err = s.streamLog(c, in, arg); err != nil {
				return
			}
		default:
			r = s.workers[worker-1].Console(line)
		}
		if !r.More { // an incomplete chunk is logged once it is whole
			first, _, _ := strings.Cut(line, "\n")
			s.cfg.Logger.Info("console", "uid", uid, "worker", worker, "line", first)
		}
		r.Worker = worker
		if writeReply(c, r) != nil {
			return
		}
	}
}

// streamLog sends log lines at level and above until the client sends
// anything (":stop") or hangs up, and returns the reply that ends the stream.
func (s *Server) streamLog(c net.Conn, in *bufio.Scanner, level string) (Reply, error) {
	lv := slog.LevelInfo
	if level != "" {
		if err := lv.UnmarshalText([]byte(level)); err != nil {
			return Reply{Err: fmt.Sprintf("log level %q: want debug, info, warn or error", level)}, nil
		}
	}
	lines, dropped, cancel := s.cfg.Logs.Subscribe(lv)
	defer cancel()
	stop := make(chan bool, 1)
	go func() { stop <- in.Scan() }()
	if err := writeReply(c, Reply{Text: fmt.Sprintf("streaming the log at %s and above; Ctrl-C stops", lv)}); err != nil {
		return Reply{}, err
	}
	for {
		select {
		case line := <-lines:
			if err := writeReply(c, Reply{Log: line}); err != nil {
				return Reply{}, err
			}
		case ok := <-stop:
			if !ok {
				return Reply{}, errors.New("console hung up")
			}
			end := Reply{Text: "log stream ended"}
			if d := dropped(); d > 0 {
				end.Text += fmt.Sprintf(" (%d lines dropped: the console read too slowly)", d)
			}
			return end, nil
		}
	}
}

const helpText = `Lua chunks run in the worker's Lua state, between events, under the
handler guard; an expression shows its value; conn(ID) is a connection's
instance. print and log output comes back here.
  :worker N               talk to worker N
  :conns [filter]         open connections (rows containing filter)
  :inspect ID             a connection's instance, its fields
  :close ID [code [reason]]  close a connection (WebSocket: code and reason)
  :reload                 reload every worker, like SIGHUP
  :stats                  server.stats() of this worker
  :log [level]            stream the server's log until Ctrl-C
  :help                   this text
Ctrl-D (or Ctrl-C at the prompt) leaves.`
