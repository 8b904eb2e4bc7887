package main

import (
	"io"
	"strconv"
	"testing"

	"pocketlua/engine"
)

// TestUringBuffersFlag: --uring-buffers takes a power of two the kernel's
// buffer ring can hold and refuses anything else before starting.
func TestUringBuffersFlag(t *testing.T) {
	if cfg, _, err := parseFlags(nil, io.Discard); err != nil || cfg.UringBuffers != engine.DefaultUringBuffers {
		t.Fatalf("default: %d, %v; want %d", cfg.UringBuffers, err, engine.DefaultUringBuffers)
	}
	for _, v := range []string{"16", "1024", "32768"} {
		if cfg, _, err := parseFlags([]string{"--poller", "io_uring", "--uring-buffers", v}, io.Discard); err != nil || v != strconv.Itoa(cfg.UringBuffers) {
			t.Errorf("--uring-buffers %s: %d, %v", v, cfg.UringBuffers, err)
		}
	}
	for _, v := range []string{"0", "-4096", "8", "1000", "65536", "4k", ""} {
		if _, _, err := parseFlags([]string{"--uring-buffers", v}, io.Discard); err == nil {
			t.Errorf("--uring-buffers %q accepted", v)
		}
	}
}
