package main

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestByteSizeParses(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "67108864": 64 << 20, "64MiB": 64 << 20, "64mib": 64 << 20, "64M": 64 << 20, "64MB": 64 << 20,
		"1KiB": 1024, "1k": 1024, "1.5KiB": 1536, "2GiB": 2 << 30, "1TiB": 1 << 40, "7B": 7, " 3 KiB": 3072,
	} {
		var n int64
		if err := (byteSize[int64]{&n}).Set(in); err != nil || n != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, n, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1PiB", "1 Mx", "abc", "1e30", "8388608TiB", "1KiBB"} {
		var n int64
		if err := (byteSize[int64]{&n}).Set(in); err == nil {
			t.Errorf("Set(%q) = %d, want an error", in, n)
		}
	}
	for n, want := range map[int]string{0: "0", 1000: "1000", 1024: "1KiB", 16 << 20: "16MiB", 3 << 30: "3GiB", 1<<20 + 1: "1048577"} {
		if got := (byteSize[int]{&n}).String(); got != want {
			t.Errorf("String(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestByteFlagsTakeUnits: every flag given in bytes takes the same forms.
func TestByteFlagsTakeUnits(t *testing.T) {
	cfg, o, err := parseFlags([]string{
		"--max-message", "16MiB", "--max-frame", "1MiB", "--max-queued-bytes", "8MiB",
		"--high-water", "512KiB", "--low-water", "128KiB", "--max-string", "32MiB",
		"--max-memory", "1GiB", "--gc-reserve", "4MiB",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxMessage != 16<<20 || cfg.MaxFrame != 1<<20 || cfg.MaxQueuedBytes != 8<<20 || cfg.HighWater != 512<<10 ||
		cfg.LowWater != 128<<10 || cfg.MaxString != 32<<20 || cfg.MaxMemory != 1<<30 || o.gcReserve != 4<<20 {
		t.Fatalf("parsed %+v, gc-reserve %d", cfg, o.gcReserve)
	}
	var help strings.Builder
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	var n int
	sizeVar(fs, &n, "high-water", 1<<20, "queued bytes")
	fs.SetOutput(&help)
	fs.PrintDefaults()
	if !strings.Contains(help.String(), "(default 1MiB)") {
		t.Fatalf("help: %q", help.String())
	}
	for _, flag := range []string{"--max-message", "--max-frame", "--max-queued-bytes", "--high-water", "--low-water", "--max-string", "--max-memory", "--gc-reserve"} {
		if _, _, err := parseFlags([]string{flag, "12 parsecs"}, io.Discard); err == nil || !strings.Contains(err.Error(), "want a size in bytes") {
			t.Errorf("%s 12 parsecs: %v", flag, err)
		}
	}
}
