package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDepsSaysWhatToInstall: tests/deps, run by a user who cannot install
// on a machine that lacks curl and Node.js, installs nothing, exits 1 and
// prints the one apt-get command that brings the missing packages.
func TestDepsSaysWhatToInstall(t *testing.T) {
	bin, err := os.MkdirTemp("", "deps-path")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(bin)
	os.Chmod(bin, 0o755) // runuser's nobody must reach it
	// A PATH with what the script itself runs, and none of the test tools.
	for _, tool := range []string{"bash", "dirname", "id", "go"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("no %s: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(filepath.Join(bin, "bash"), "tests/deps")
	cmd.Dir = ".."
	cmd.Env = []string{"PATH=" + bin}
	if os.Geteuid() == 0 { // as root it would install: run it as nobody
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			t.Skip("root without runuser")
		}
		cmd = exec.Command(runuser, "-u", "nobody", "--", filepath.Join(bin, "bash"), "tests/deps")
		cmd.Dir, cmd.Env = "..", []string{"PATH=" + bin}
	}
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("tests/deps without curl and node: %v, want exit 1; output:\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if !strings.HasPrefix(last, "sudo apt-get update && sudo apt-get install -y ") ||
		!strings.Contains(last, " curl") || !strings.Contains(last, " nodejs") || !strings.Contains(last, " npm") {
		t.Fatalf("tests/deps printed %q: want the one apt-get command naming curl, nodejs and npm", out)
	}
}
