package console

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// LogTee is a slog.Handler that passes every record on and copies it, as a
// text line, to the consoles streaming the log. With no console streaming
// it costs one atomic load per record.
type LogTee struct {
	inner slog.Handler
	hub   *logHub
	text  slog.Handler // formats copies; shares attrs and groups with inner
	buf   *lockedBuffer
}

type logHub struct {
	mu   sync.Mutex
	subs map[*logSub]bool
	n    atomic.Int32
}

type logSub struct {
	level   slog.Level
	lines   chan string
	dropped atomic.Int64
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) { return b.b.Write(p) }

// NewLogTee wraps inner.
func NewLogTee(inner slog.Handler) *LogTee {
	buf := &lockedBuffer{}
	return &LogTee{inner: inner, hub: &logHub{subs: map[*logSub]bool{}}, buf: buf,
		text: slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})}
}

// Subscribe streams lines at level and above into the returned channel
// (a console that reads too slowly loses lines, counted by dropped) until
// cancel is called.
func (t *LogTee) Subscribe(level slog.Level) (lines <-chan string, dropped func() int64, cancel func()) {
	sub := &logSub{level: level, lines: make(chan string, 256)}
	t.hub.mu.Lock()
	t.hub.subs[sub] = true
	t.hub.n.Add(1)
	t.hub.mu.Unlock()
	return sub.lines, sub.dropped.Load, func() {
		t.hub.mu.Lock()
		delete(t.hub.subs, sub)
		t.hub.n.Add(-1)
		t.hub.mu.Unlock()
	}
}

func (t *LogTee) Enabled(ctx context.Context, l slog.Level) bool {
	if t.inner.Enabled(ctx, l) {
		return true
	}
	if t.hub.n.Load() == 0 {
		return false
	}
	t.hub.mu.Lock()
	defer t.hub.mu.Unlock()
	for s := range t.hub.subs {
		if l >= s.level {
			return true
		}
	}
	return false
}

func (t *LogTee) Handle(ctx context.Context, r slog.Record) error {
	if t.hub.n.Load() > 0 {
		t.copy(ctx, r)
	}
	if !t.inner.Enabled(ctx, r.Level) {
		return nil // enabled only for a console's lower level
	}
	return t.inner.Handle(ctx, r)
}

func (t *LogTee) copy(ctx context.Context, r slog.Record) {
	t.buf.mu.Lock()
	t.buf.b.Reset()
	t.text.Handle(ctx, r)
	line := string(bytes.TrimSuffix(t.buf.b.Bytes(), []byte("\n")))
	t.buf.mu.Unlock()
	t.hub.mu.Lock()
	defer t.hub.mu.Unlock()
	for s := range t.hub.subs {
		if r.Level < s.level {
			continue
		}
		select {
		case s.lines <- line:
		default:
			s.dropped.Add(1)
		}
	}
}

func (t *LogTee) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &LogTee{inner: t.inner.WithAttrs(attrs), hub: t.hub, text: t.text.WithAttrs(attrs), buf: t.buf}
}

func (t *LogTee) WithGroup(name string) slog.Handler {
	return &LogTee{inner: t.inner.WithGroup(name), hub: t.hub, text: t.text.WithGroup(name), buf: t.buf}
}
