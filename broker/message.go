package broker

import (
	"sync"
	"unsafe"

	"pocketlua/ws"
)

// Message is one publish as every worker of a process sees it: shared,
// read-only but for the frames it encodes once on first use.
type Message struct {
	Topic  string
	Data   string
	Binary bool   // WebSocket subscribers get a binary frame, else text; raw subscribers get the bytes
	Node   uint64 // the publishing process: a broker never hands a node its own messages back
	Worker int32  // the publishing worker in that process
	Seq    uint64 // per Node and Worker, rising: a second copy of a message is dropped
	// The publisher's own connection left out (server.publish's except),
	// a connection of Worker; 0: none.
	ExceptConn int64

	once  sync.Once
	frame []byte

	mu       sync.Mutex
	deflated [10][]byte // shared compressed frames, by level (nil: not smaller)
	tried    [10]bool
}

// messageOverhead is what a queued message costs besides its topic and
// data, counted against the queues' byte limits.
const messageOverhead = 128

// Size is what m counts for against a queue's byte limit.
func (m *Message) Size() int64 { return int64(len(m.Topic)+len(m.Data)) + messageOverhead }

// payloadSize is what a payload of n bytes from the broker counts for
// against a queue's byte limit: the Size of the message it decodes to
// (the envelope's head aside, its topic and data).
func payloadSize(n int) int64 { return int64(max(n-envelopeHead, 0)) + messageOverhead }

// Opcode is the WebSocket frame kind.
func (m *Message) Opcode() ws.Opcode {
	if m.Binary {
		return ws.OpBinary
	}
	return ws.OpText
}

// Frame is the message as one unmasked WebSocket frame, encoded once per
// process whatever the number of subscribers and workers.
func (m *Message) Frame() []byte {
	m.once.Do(func() {
		m.frame = ws.AppendFrame(make([]byte, 0, ws.HeaderSize(len(m.Data))+len(m.Data)), true, m.Opcode(), m.bytes())
	})
	return m.frame
}

// Deflated is the message compressed on its own at level (1-9), for
// subscribers without server context takeover, compressed once per level
// per process; nil when compressing does not make it smaller.
func (m *Message) Deflated(level int) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.tried[level] {
		m.tried[level] = true
		m.deflated[level], _ = ws.DeflateFrame(nil, m.Opcode(), m.bytes(), level)
	}
	return m.deflated[level]
}

// bytes views Data without copying; nothing writes to them.
func (m *Message) bytes() []byte { return unsafe.Slice(unsafe.StringData(m.Data), len(m.Data)) }
