package tests

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// runScriptTests runs `pocketlua test args...` from the repository's root.
func runScriptTests(t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	return runIn(t, "..", append([]string{"test"}, args...)...)
}

var summaryLine = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed$`)

func summary(t *testing.T, out string) (passed, failed int) {
	t.Helper()
	m := summaryLine.FindAllStringSubmatch(out, -1)
	if len(m) != 1 {
		t.Fatalf("want one summary line, got %d in:\n%s", len(m), out)
	}
	if !strings.HasSuffix(out, m[0][0]+"\n") {
		t.Errorf("the summary is not the last line:\n%s", out)
	}
	passed, _ = strconv.Atoi(m[0][1])
	failed, _ = strconv.Atoi(m[0][2])
	return passed, failed
}

// TestScriptTestBatteries runs the batteries' own Lua unit tests (echo,
// chat room, httpd routes, mux routing, ftp commands) through the binary.
func TestScriptTestBatteries(t *testing.T) {
	out, errOut, status := runScriptTests(t, "scripts/tests", "scripts/examples")
	if status != 0 {
		t.Fatalf("status %d\n%s%s", status, out, errOut)
	}
	passed, failed := summary(t, out)
	if failed != 0 || passed < 40 {
		t.Errorf("%d passed, %d failed; want 40 or more passing\n%s", passed, failed, out)
	}
	for _, f := range []string{"tests/echo_test.lua", "examples/chat/chat_test.lua", "tests/httpd_test.lua", "tests/mux_test.lua", "tests/ftp_test.lua"} {
		if _, err := os.Stat("../scripts/" + f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestScriptTestFailures checks what a failing run says: assertion
// failures with file:line and expected vs got, Lua errors with a
// traceback, a runaway test stopped by --timeout, a fresh state per test,
// exit status 1 and the summary line.
func TestScriptTestFailures(t *testing.T) {
	out, _, status := runScriptTests(t, "--timeout", "300ms", "tests/testdata/scripttest/mixed")
	if status != 1 {
		t.Errorf("status %d, want 1", status)
	}
	if p, f := summary(t, out); p != 4 || f != 4 {
		t.Errorf("%d passed, %d failed; want 4 and 4\n%s", p, f, out)
	}
	file := "tests/testdata/scripttest/mixed/counter_test.lua"
	for _, want := range []string{
		"--- FAIL: " + file + ": wrong count (",
		"    " + file + `:13: at [2]: expected "2\n", got nil`,
		`      expected {"1\n", "2\n"}`,
		`           got {"1\n"}`,
		"--- FAIL: " + file + ": runtime error (",
		"tests/testdata/scripttest/mixed/counter.lua:10: cannot perform add operation between nil and number",
		"stack traceback:",
		"--- FAIL: " + file + ": endless (",
		"    timed out after 300ms",
		"--- FAIL: " + file + ": logs then fails (",
		"    " + file + ":45: the note: expected a true value, got false\n    log:\n      printed\t42\n" +
			"      level=WARN msg=logged at=" + file + ":44 n=7\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, passing := range []string{"counts lines", "sets a global", "sees no global", "quit closes"} {
		if strings.Contains(out, passing) {
			t.Errorf("output mentions the passing test %q:\n%s", passing, out)
		}
	}

	// -v lists the passing tests too.
	out, _, _ = runScriptTests(t, "-v", "--timeout", "300ms", "tests/testdata/scripttest/mixed")
	if !strings.Contains(out, "--- PASS: "+file+": sees no global from another test (") {
		t.Errorf("-v does not list passing tests:\n%s", out)
	}
}

// TestScriptTestRunPattern selects tests by name with --run.
func TestScriptTestRunPattern(t *testing.T) {
	out, _, status := runScriptTests(t, "--run", "^(counts|quit)", "tests/testdata/scripttest/mixed/counter_test.lua")
	if status != 0 {
		t.Errorf("status %d, want 0\n%s", status, out)
	}
	if p, f := summary(t, out); p != 2 || f != 0 {
		t.Errorf("%d passed, %d failed; want 2 and 0\n%s", p, f, out)
	}
	out, errOut, status := runScriptTests(t, "--run", "nomatch", "tests/testdata/scripttest/mixed")
	if status != 1 || !strings.Contains(errOut, "no tests ran") {
		t.Errorf("a pattern matching nothing: status %d, stderr %q, want 1 and \"no tests ran\"\n%s", status, errOut, out)
	}
	_, errOut, status = runScriptTests(t, "--run", "(", "tests/testdata/scripttest/mixed")
	if status != 2 || !strings.Contains(errOut, "--run") {
		t.Errorf("a bad pattern: status %d, stderr %q, want 2 and a --run error", status, errOut)
	}
}

// TestScriptTestBadInput: a file that does not compile fails with its
// file:line; missing paths and folders without tests are errors.
func TestScriptTestBadInput(t *testing.T) {
	out, _, status := runScriptTests(t, "tests/testdata/scripttest/broken")
	if status != 1 {
		t.Errorf("status %d, want 1", status)
	}
	if p, f := summary(t, out); p != 0 || f != 1 {
		t.Errorf("%d passed, %d failed; want 0 and 1\n%s", p, f, out)
	}
	if !strings.Contains(out, "--- FAIL: tests/testdata/scripttest/broken/syntax_test.lua (loading)") ||
		!strings.Contains(out, "syntax_test.lua: ')' expected (to close '(' at line 2) at end of file") {
		t.Errorf("no load failure with the file name:\n%s", out)
	}
	for _, args := range [][]string{{"tests/testdata/scripttest/missing"}, {"tests/testdata/scripttest/empty"}} {
		out, errOut, status := runScriptTests(t, args...)
		if status != 1 || errOut == "" || summaryLine.MatchString(out) {
			t.Errorf("%v: status %d, stdout %q, stderr %q; want 1, an error and no summary", args, status, out, errOut)
		}
	}
	_, errOut, status := runScriptTests(t, "--timeout", "0", "scripts/tests")
	if status != 2 || !strings.Contains(errOut, "--timeout") {
		t.Errorf("--timeout 0: status %d, stderr %q", status, errOut)
	}
}
