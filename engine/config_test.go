package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigZeroValues: a zero Config means the documented defaults.
func TestConfigZeroValues(t *testing.T) {
	var c Config
	c.setDefaults()
	if len(c.Listen) != 1 || c.Listen[0] != DefaultListen || c.MaxConns != DefaultMaxConns ||
		c.MaxQueuedBytes != DefaultMaxQueuedBytes || c.HandlerTimeout != DefaultHandlerTimeout ||
		c.ShutdownGrace != DefaultShutdownGrace || c.CloseTimeout != DefaultCloseTimeout ||
		c.MaxMessage != DefaultMaxMessage || c.MaxFrame != DefaultMaxMessage || c.Logger == nil {
		t.Fatalf("defaults: %+v", c)
	}
	off := Config{HandlerTimeout: NoHandlerTimeout}
	off.setDefaults()
	if off.HandlerTimeout >= 0 {
		t.Fatalf("NoHandlerTimeout became %s", off.HandlerTimeout)
	}
}

// TestZeroConfigGuardsHandlers: an embedder that leaves HandlerTimeout
// zero gets the guard: a main chunk that never ends is interrupted.
func TestZeroConfigGuardsHandlers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spin.lua")
	if err := os.WriteFile(path, []byte(`while true do end`), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := New(Config{Listen: []string{"127.0.0.1:0"}, Script: path})
	if err == nil || !strings.Contains(err.Error(), "interrupted after running longer than the handler timeout (2s)") {
		t.Fatalf("New: %v", err)
	}
	if d := time.Since(start); d < DefaultHandlerTimeout {
		t.Fatalf("interrupted after %s, before the default timeout", d)
	}
}
