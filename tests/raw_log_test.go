package tests

import (
	"strings"
	"testing"
)

// TestRawLogValues: log.info(msg, key, value, ...) tags the line with the
// script's file:line and writes numbers as a reader expects them: integers
// in full (a byte count of 1114112, not 1.114112e+06), fractions as
// decimals.
func TestRawLogValues(t *testing.T) {
	script := testdata(t, "raw/log_values.lua")
	r := rawRunCLI(t, "", "--check", script)
	if r.code != 0 {
		t.Fatalf("--check: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	line := strings.TrimSpace(r.stderr)
	for _, want := range []string{"msg=sizes", "at=" + script + ":2 ", "small=42 ", "half=0.5 ", "neg=-3 ", "word=x", "bytes=1114112 "} {
		if !strings.Contains(line, want) {
			t.Fatalf("log line lacks %q:\n%s", want, line)
		}
	}
}
