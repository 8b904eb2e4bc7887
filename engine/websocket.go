package engine

import (
	"fmt"
	"sync"
	"time"
	"unsafe"

	lua "github.com/yuin/gopher-lua"

	"pocketlua/bindings"
	"pocketlua/poll"
	"pocketlua/ws"
)

// The kinds handed to message(payload, kind), boxed once.
var (
	luaText   lua.LValue = lua.LString("text")
	luaBinary lua.LValue = lua.LString("binary")
)

// wsConn is a connection's WebSocket state after conn:upgrade.
type wsConn struct {
	dec          ws.Decoder
	pending      []byte // input not yet decoded: leftover from the handshake, or held while paused
	feeding      bool   // a feed of pending is scheduled
	closeTimer   *poll.Timer
	keepalive    *poll.Timer
	pingInterval time.Duration
	idleTimeout  time.Duration
	lastRead     time.Time
	// permessage-deflate (RFC 7692), when the upgrade options carried
	// the negotiated parameters; both nil otherwise.
	inf *ws.Inflater
	def *ws.Deflater
}

// Upgrade switches the connection to WebSocket framing; the script has
// already answered the handshake. opts may be nil; its limits cannot raise
// the server's flags.
func (c *Conn) Upgrade(mode string, opts *bindings.UpgradeOptions, leftover string) error {
	if mode == "ssh" {
		return c.sshUpgrade(opts, leftover)
	}
	if mode != "websocket" {
		return fmt.Errorf("unknown mode %q (want \"websocket\" or \"ssh\")", mode)
	}
	if c.ws != nil || c.sshOf() != nil {
		return fmt.Errorf("already in %s mode", c.Mode())
	}
	if !c.Open() {
		return fmt.Errorf("connection is closed")
	}
	cfg := &c.srv.cfg
	w := &wsConn{lastRead: c.srv.loop.Now()}
	w.dec.MaxMessage = cfg.MaxMessage
	w.dec.MaxFrame = cfg.MaxFrame
	if opts != nil {
		w.dec.MaxMessage = lower(cfg.MaxMessage, opts.MaxMessage)
		w.dec.MaxFrame = lower(cfg.MaxFrame, opts.MaxFrame)
		w.pingInterval = opts.PingInterval
		w.idleTimeout = opts.IdleTimeout
		if d := opts.Deflate; d != nil {
			w.dec.AllowRSV1 = true
			w.inf = ws.NewInflater(d.Params, w.dec.MaxMessage)
			w.def = ws.NewDeflater(d.Params, d.Level, d.MinSize)
		}
	}
	c.ws = w
	c.setState(stateWebSocket)
	if leftover != "" {
		w.pending = []byte(leftover)
		c.scheduleFeed()
	}
	c.armKeepalive()
	return nil
}

// lower is a script's limit, when it sets one below the server's flag.
func lower(flag, script int64) int64 {
	if script > 0 && script < flag {
		return script
	}
	return flag
}

// scheduleFeed decodes held input after the current handler returns.
func (c *Conn) scheduleFeed() {
	w := c.ws
	if w.feeding {
		return
	}
	w.feeding = true
	c.srv.loop.AfterFunc(0, func() {
		w.feeding = false
		if w.pending != nil && c.pc.Open() && !c.pc.Paused() {
			c.wsData(nil)
		}
	})
}

// wsData decodes input into events. Held input always goes first, so
// bytes are handled in arrival order.
func (c *Conn) wsData(p []byte) {
	w := c.ws
	w.lastRead = c.srv.loop.Now()
	if w.dec.Buffers == nil {
		// Message buffers come from the loop's recycler (set here, before
		// the first Decode): none is held between messages.
		w.dec.Buffers = c.srv.loop.Buffers()
	}
	if w.pending != nil {
		p = append(w.pending, p...)
		w.pending = nil
	}
	for len(p) > 0 && c.pc.Open() {
		if c.pc.Paused() {
			w.pending = append([]byte(nil), p...)
			return
		}
		n, ev, err := w.dec.Decode(p)
		p = p[n:]
		if err != nil {
			c.wsFail(err)
			return
		}
		switch ev.Kind {
		case ws.EventMessage:
			if c.state != stateWebSocket {
				w.dec.Release()
				continue // nothing is delivered after our close
			}
			var payload lua.LString
			if ev.Compressed {
				var err error
				payload, err = w.inflate(ev)
				w.dec.Release()
				if err != nil {
					c.wsFail(err)
					return
				}
			} else {
				payload = lua.LString(string(ev.Payload))
				w.dec.Release() // copied: the buffer can serve this message's echo
			}
			c.srv.stats.obs.MessagesIn[bindings.ProtoWebSocket]++
			kind := luaBinary
			if ev.Opcode == ws.OpText {
				kind = luaText
			}
			c.call(evMessage, 2, payload, kind, 0)
		case ws.EventPing:
			if c.state == stateWebSocket {
				var h [wsMaxHeader]byte
				c.write2(ws.AppendHeader(h[:0], true, ws.OpPong, len(ev.Payload)), string(ev.Payload))
				c.callControl(evPing, ev.Payload)
			}
		case ws.EventPong:
			if c.state == stateWebSocket {
				c.callControl(evPong, ev.Payload)
			}
		case ws.EventClose:
			reply := ev.Code
			if reply == ws.CloseNoStatus {
				reply = 0 // an empty close answers an empty close
			}
			c.wsEnd(&closeCause{code: ev.Code, reason: string(ev.Payload), kind: bindings.ClosePeer}, reply, "")
			return
		}
	}
}

// callControl reports a ping or pong to the script if its class observes them,
// without making a string for classes that do not.
func (c *Conn) callControl(ev event, payload []byte) {
	if c.ended() {
		return
	}
	c.resolveClass()
	if c.cls.fns[ev] != nil {
		c.call(ev, 1, lua.LString(string(payload)), nil, 0)
	}
}

// wsFail ends the connection for a protocol violation with its close code.
func (c *Conn) wsFail(err error) {
	ce, ok := err.(*ws.CloseError)
	if !ok {
		ce = &ws.CloseError{Code: ws.CloseProtocolError, Reason: err.Error()}
	}
	c.wsEnd(&closeCause{code: ce.Code, reason: ce.Reason, kind: bindings.CloseProtocolError}, ce.Code, ce.Reason)
}

// wsEnd is the one close path for a WebSocket the loop ends now (the
// peer's close, a protocol violation): closed runs with cause, unless it
// ran already, our close frame goes out unless it went already (the peer
// answered ours), and TCP closes first, as the server should.
func (c *Conn) wsEnd(cause *closeCause, replyCode int, replyReason string) {
	replied := c.state == stateClosing
	c.end(cause, stateEnded)
	if !replied {
		c.writeClose(replyCode, replyReason)
	}
	if replied || cause.kind != bindings.ClosePeer {
		c.pc.Close(cause)
		return
	}
	c.pc.CloseNoLinger(cause)
}

// wsClose starts the close handshake from our side: closed runs now; the
// socket closes when the peer answers or CloseTimeout passes.
func (c *Conn) wsClose(code int, reason string, kind bindings.CloseCause) {
	if c.state != stateWebSocket {
		return
	}
	cause := &closeCause{code: code, reason: reason, kind: kind}
	c.end(cause, stateClosing)
	c.writeClose(code, reason)
	if c.pc.Open() {
		c.ws.closeTimer = c.srv.loop.AfterFunc(c.srv.cfg.CloseTimeout, func() {
			c.pc.Close(&closeCause{code: code, reason: "close timeout"})
		})
	}
}

func (c *Conn) writeClose(code int, reason string) {
	var buf [wsMaxHeader + 125]byte
	c.write(ws.AppendClose(buf[:0], code, reason))
}

// wsSend frames one message; kind "" is text, as in websocket.lua's
// send, so a string sent without a kind reaches a browser as a string.
// Nothing is sent after a close.
func (c *Conn) wsSend(data, kind string) (bool, error) {
	op := ws.OpText
	switch kind {
	case "text", "":
	case "binary":
		op = ws.OpBinary
	default:
		return false, fmt.Errorf("send: kind must be \"text\" or \"binary\", not %q", kind)
	}
	if c.state != stateWebSocket {
		return false, nil
	}
	if op == ws.OpText && !ws.ValidUTF8(unsafeBytes(data)) {
		return false, fmt.Errorf("send: a text message must be valid UTF-8 (send it as \"binary\")")
	}
	if d := c.ws.def; d != nil && d.Wants(len(data)) {
		sp := getScratch()
		frame, buf := d.Frame(*sp, op, unsafeBytes(data))
		*sp = buf
		if frame != nil {
			c.srv.stats.obs.MessagesOut[bindings.ProtoWebSocket]++
			c.srv.stats.obs.BytesOut[bindings.ProtoWebSocket] += int64(len(frame))
			ok := c.write(frame)
			putScratch(sp)
			return ok, nil
		}
		putScratch(sp)
	}
	var h [wsMaxHeader]byte
	head := ws.AppendHeader(h[:0], true, op, len(data))
	c.srv.stats.obs.MessagesOut[bindings.ProtoWebSocket]++
	c.srv.stats.obs.BytesOut[bindings.ProtoWebSocket] += int64(len(head) + len(data))
	return c.write2(head, data), nil
}

// Ping sends a ping frame (payload at most 125 bytes).
func (c *Conn) Ping(payload string) (bool, error) {
	if c.ws == nil {
		return false, fmt.Errorf("ping needs websocket mode")
	}
	if len(payload) > 125 {
		return false, fmt.Errorf("ping payload is %d bytes; the limit is 125", len(payload))
	}
	if c.state != stateWebSocket {
		return false, nil
	}
	var h [wsMaxHeader]byte
	return c.write2(ws.AppendHeader(h[:0], true, ws.OpPing, len(payload)), payload), nil
}

// armKeepalive pings every ping_interval and closes a peer silent for idle_timeout.
func (c *Conn) armKeepalive() {
	w := c.ws
	period := w.pingInterval
	if period <= 0 {
		period = w.idleTimeout / 2
	}
	if period <= 0 {
		return
	}
	w.keepalive = c.srv.loop.AfterFunc(period, func() {
		if c.state != stateWebSocket || !c.pc.Open() {
			return
		}
		if w.idleTimeout > 0 && c.srv.loop.Now().Sub(w.lastRead) >= w.idleTimeout {
			c.wsClose(ws.CloseGoingAway, "idle timeout", bindings.CloseTimeout)
			return
		}
		if w.pingInterval > 0 {
			c.Ping("")
		}
		c.armKeepalive()
	})
}

func (w *wsConn) stop() {
	w.closeTimer.Stop()
	w.keepalive.Stop()
	w.pending = nil
	w.dec.Reset()
	if w.def != nil {
		w.def.Release() // a context-takeover compressor goes back to the pool
		w.inf.Reset()
	}
}

// broadcast sends data to every open connection but except. kind picks the
// audience: "text" or "binary" reaches WebSocket connections (after their
// handshake), sharing one encoded frame; "" or "raw" reaches raw-mode
// connections. It returns how many connections got it.
//
// With permessage-deflate, a receiver that compresses without context
// takeover gets a frame compressed once per level and shared (a message
// compressed on its own is valid for any such receiver); a receiver with
// server context takeover gets the message compressed by its own
// compressor, since its client's window must see every message its
// compressor saw; the others (no compression, or a message below the
// receiver's min size or above its window) share the plain frame.
func (s *Server) broadcast(data, kind string, except any) (int, error) {
	var op ws.Opcode
	switch kind {
	case "", "raw":
	case "text":
		op = ws.OpText
		if !ws.ValidUTF8(unsafeBytes(data)) {
			return 0, fmt.Errorf("broadcast: a text message must be valid UTF-8")
		}
	case "binary":
		op = ws.OpBinary
	default:
		return 0, fmt.Errorf("broadcast: kind must be \"text\", \"binary\" or \"raw\", not %q", kind)
	}
	var frame []byte
	var (
		deflated [10][]byte // shared compressed frames, by level
		tried    [10]bool
		scratch  *[]byte // for receivers with context takeover
	)
	n := 0
	for _, c := range s.conns {
		if except != nil && except == any(c) {
			continue
		}
		if op == 0 {
			if c.ws != nil {
				continue
			}
			c.writeString(data)
			s.stats.obs.BytesOut[c.cls.proto] += int64(len(data))
			s.stats.obs.MessagesOut[c.cls.proto]++
		} else {
			if c.state != stateWebSocket {
				continue
			}
			var out []byte
			if d := c.ws.def; d != nil && d.Wants(len(data)) {
				if d.Takeover() {
					if scratch == nil {
						scratch = getScratch()
					}
					out, *scratch = d.Frame(*scratch, op, unsafeBytes(data))
				} else {
					l := d.Level()
					if !tried[l] {
						tried[l] = true
						deflated[l], _ = ws.DeflateFrame(nil, op, unsafeBytes(data), l)
					}
					out = deflated[l]
				}
			}
			if out == nil {
				if frame == nil {
					frame = ws.AppendFrame(make([]byte, 0, ws.HeaderSize(len(data))+len(data)), true, op, unsafeBytes(data))
				}
				out = frame
			}
			c.write(out)
			s.stats.obs.MessagesOut[bindings.ProtoWebSocket]++
			s.stats.obs.BytesOut[bindings.ProtoWebSocket] += int64(len(out))
		}
		n++
	}
	if scratch != nil {
		putScratch(scratch)
	}
	return n, nil
}

// unsafeBytes views a string's bytes without copying; they must not be modified.
func unsafeBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// wsMaxHeader is the largest server frame header: 2 bytes + 8 length bytes.
const wsMaxHeader = 10

// Compression (permessage-deflate, RFC 7692). The negotiation is the
// script's (ws.negotiate_deflate, called by websocket.lua); conn:upgrade
// gets the agreed parameters as its deflate option and the engine
// compresses and inflates. ws/deflate.go explains the memory.

// inflate decompresses a message that arrived with RSV1, enforcing
// max_message on the inflated size (1009) and UTF-8 on text after
// inflating (1007); invalid DEFLATE data is 1007.
func (w *wsConn) inflate(ev ws.Event) (lua.LString, error) {
	sp := getScratch()
	out, err := w.inf.Inflate((*sp)[:0], ev.Payload)
	*sp = out[:0]
	if err == nil && ev.Opcode == ws.OpText && !ws.ValidUTF8(out) {
		err = ws.ErrInvalidUTF8
	}
	var s lua.LString
	if err == nil {
		s = lua.LString(string(out))
	}
	putScratch(sp)
	return s, err
}

// scratchPool holds buffers that compressing or inflating one message
// uses until it is copied into the output queue or a Lua string: one is
// in use at a time per loop, and none is held by an idle connection.
var scratchPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 4<<10)
	return &b
}}

// keepScratch is the largest scratch buffer put back: one grown for a
// big message is left to the GC.
const keepScratch = 64 << 10

func getScratch() *[]byte { return scratchPool.Get().(*[]byte) }

func putScratch(b *[]byte) {
	if cap(*b) > keepScratch {
		return
	}
	*b = (*b)[:0]
	scratchPool.Put(b)
}
