package sshd

import (
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/ssh"
)

var nextChannelID atomic.Int64

// Channel is one session channel. Send, SendStderr, Exit, Close and
// ServeSFTP are for the loop; they never block: output goes to a queue
// that a writer goroutine empties while the client's window allows.
type Channel struct {
	c  *Conn
	ch ssh.Channel
	id int64

	ack chan struct{} // the loop took a Data chunk; the reader may read on

	mu        sync.Mutex
	out       []chunk
	queued    int
	writing   bool // a writer goroutine is running
	wantDrain bool // Send reported false
	ending    bool // Exit or Close: after the queue, end the channel
	status    int  // exit status; -1: none
	gone      bool // the channel closed; output is dropped
	reading   bool
	holding   bool      // a request is being decided: output waits for its reply
	sftp      *sftpRoot // set by ServeSFTP while a subsystem request is decided
}

type chunk struct {
	data   []byte
	stderr bool
}

func newChannel(c *Conn, ch ssh.Channel) *Channel {
	return &Channel{c: c, ch: ch, id: nextChannelID.Add(1), ack: make(chan struct{}, 1), status: -1}
}

// ID numbers channels within the process.
func (ch *Channel) ID() int64 { return ch.id }

// Send queues output; false when the queue is above the high-water mark
// (Drain follows) or the channel has ended.
func (ch *Channel) Send(data string, stderr bool) bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.gone || ch.ending {
		return false
	}
	if data != "" {
		if n := len(ch.out); n > 0 && ch.out[n-1].stderr == stderr && len(ch.out[n-1].data) < 32<<10 {
			ch.out[n-1].data = append(ch.out[n-1].data, data...)
		} else {
			ch.out = append(ch.out, chunk{data: []byte(data), stderr: stderr})
		}
		ch.queued += len(data)
		ch.startWriter()
	}
	if ch.queued > ch.c.cfg.HighWater {
		ch.wantDrain = true
		return false
	}
	return true
}

// Buffered is the output not yet taken by the client's window.
func (ch *Channel) Buffered() int {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.queued
}

// Exit sends exit-status after the queued output, then closes the channel.
func (ch *Channel) Exit(status int) {
	ch.finish(status)
}

// Close closes the channel after the queued output, without a status.
func (ch *Channel) Close() { ch.finish(-1) }

func (ch *Channel) finish(status int) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.ending || ch.gone {
		return
	}
	ch.ending, ch.status = true, status
	ch.startWriter()
}

// startWriter runs the writer if it is not running and no request is
// being answered (what a handler sends must follow the reply); ch.mu held.
func (ch *Channel) startWriter() {
	if !ch.writing && !ch.holding {
		ch.writing = true
		go ch.write()
	}
}

// write empties the queue into the channel (blocking on the client's
// window), then ends the channel if asked; it exits when there is nothing
// left to do, so an idle session has no writer.
func (ch *Channel) write() {
	for {
		ch.mu.Lock()
		if len(ch.out) == 0 || ch.gone {
			ending, status := ch.ending && !ch.gone, ch.status
			ch.writing = false
			ch.out, ch.queued = nil, 0
			ch.mu.Unlock()
			if ending {
				if status >= 0 {
					ch.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
				}
				ch.ch.CloseWrite()
				ch.ch.Close()
			}
			return
		}
		next := ch.out[0]
		ch.out[0] = chunk{}
		ch.out = ch.out[1:]
		ch.mu.Unlock()

		var err error
		if next.stderr {
			_, err = ch.ch.Stderr().Write(next.data)
		} else {
			_, err = ch.ch.Write(next.data)
		}

		ch.mu.Lock()
		ch.queued -= len(next.data)
		if err != nil {
			ch.gone = true
		}
		drain := ch.wantDrain && ch.queued <= ch.c.cfg.LowWater && !ch.gone
		if drain {
			ch.wantDrain = false
		}
		ch.mu.Unlock()
		if drain {
			ch.c.tell(func() { ch.c.h.Drain(ch) })
		}
	}
}

// serveRequests answers the channel's requests one at a time, each
// decided on the loop; it returns when the channel closes.
func (ch *Channel) serveRequests(reqs <-chan *ssh.Request) {
	c := ch.c
	defer func() {
		ch.mu.Lock()
		ch.gone = true
		ch.mu.Unlock()
		ch.ch.Close()
		c.chans.Add(-1)
		c.tell(func() { c.h.ChannelClosed(ch) })
	}()
	for req := range reqs {
		r, ok := parseRequest(req)
		if !ok {
			// env, x11-req, auth-agent-req@openssh.com, signal, unknown:
			// refused (replies only where the client wants one).
			req.Reply(false, nil)
			continue
		}
		if r.Type == "window-change" {
			// No reply, but wait for the loop all the same: a flood of
			// them queues nothing.
			c.ask(func() bool { return c.h.Request(ch, r) })
			continue
		}
		started := r.Type == "shell" || r.Type == "exec" || r.Type == "subsystem"
		if started && ch.started() {
			req.Reply(false, nil) // one program per channel
			continue
		}
		ch.hold(true)
		ok = c.ask(func() bool { return c.h.Request(ch, r) })
		ch.mu.Lock()
		root := ch.sftp
		ch.sftp = nil
		ch.mu.Unlock()
		if r.Type == "subsystem" && ok && root == nil {
			ok = false // the script said yes but served nothing
		}
		req.Reply(ok, nil)
		ch.hold(false)
		if !ok || !started {
			continue
		}
		ch.mu.Lock()
		ch.reading = true
		ch.mu.Unlock()
		if root != nil {
			go ch.serveSFTP(root)
		} else {
			go ch.read()
		}
	}
}

func (ch *Channel) hold(on bool) {
	ch.mu.Lock()
	ch.holding = on
	if !on && (len(ch.out) > 0 || ch.ending) {
		ch.startWriter()
	}
	ch.mu.Unlock()
}

func (ch *Channel) started() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.reading
}

// read hands channel input to the loop one chunk at a time, waiting for
// the loop to take each: a slow script slows the client (its window
// fills) instead of filling memory.
func (ch *Channel) read() {
	c := ch.c
	buf := make([]byte, 32<<10)
	for {
		n, err := ch.ch.Read(buf)
		if n > 0 {
			p := buf[:n]
			c.tell(func() {
				c.h.Data(ch, p)
				ch.ack <- struct{}{}
			})
			select {
			case <-ch.ack:
			case <-c.done:
				return
			}
		}
		if err != nil {
			c.tell(func() { c.h.EOF(ch) })
			return
		}
	}
}

func parseRequest(req *ssh.Request) (*Request, bool) {
	r := &Request{Type: req.Type}
	switch req.Type {
	case "shell":
		return r, len(req.Payload) == 0
	case "exec":
		var m struct{ Command string }
		if ssh.Unmarshal(req.Payload, &m) != nil {
			return nil, false
		}
		r.Command = m.Command
	case "subsystem":
		var m struct{ Name string }
		if ssh.Unmarshal(req.Payload, &m) != nil {
			return nil, false
		}
		r.Subsystem = m.Name
	case "pty-req":
		var m struct {
			Term             string
			Cols, Rows, W, H uint32
			Modes            string
		}
		if ssh.Unmarshal(req.Payload, &m) != nil {
			return nil, false
		}
		r.Term, r.Cols, r.Rows = m.Term, clampDim(m.Cols), clampDim(m.Rows)
	case "window-change":
		var m struct{ Cols, Rows, W, H uint32 }
		if ssh.Unmarshal(req.Payload, &m) != nil {
			return nil, false
		}
		r.Cols, r.Rows = clampDim(m.Cols), clampDim(m.Rows)
	default:
		return nil, false
	}
	return r, true
}

func clampDim(v uint32) int { return int(min(v, 10000)) }
