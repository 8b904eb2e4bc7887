package archtest

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "pocketlua/"

// allowed lists, for every package of ours, the packages of ours its
// non-test files may import (docs/ARCHITECTURE.md, "Packages"). The
// vendored runtime under third_party/ may be imported by anyone and
// imports nothing of ours outside third_party/.
var allowed = map[string][]string{
	"httphead":            {},
	"poll":                {},
	"sandbox":             {},
	"scripts":             {},
	"ws":                  {"httphead"},
	"bindings":            {"httphead", "ws"},
	"sshd":                {},
	"engine":              {"bindings", "broker", "httphead", "poll", "sandbox", "shared", "sshd", "transport", "ws"},
	"console":             {},
	"luadefs":             {},
	"scripttest":          {"bindings", "broker", "engine", "shared", "ws"},
	"metrics":             {},
	"cmd/pocketlua":       {"bindings", "broker", "console", "engine", "luadefs", "metrics", "sandbox", "scripts", "scripttest", "shared", "transport"},
	"transport":           {},
	"broker":              {"ws"},
	"shared":              {},
	"cmd/pocketbench":     {},
	"internal/loopback":   {},
	"internal/brokertest": {},
	"archtest":            {},
	"tests":               {},
	"tests/soak":          {},
	"tests/tlsstall":      {},
}

// isTop reports the packages nothing imports, not even a test: the
// commands, the end-to-end tests and this package sit on top.
func isTop(p string) bool {
	return strings.HasPrefix(p, "cmd/") || p == "tests" || strings.HasPrefix(p, "tests/") || p == "archtest"
}

type pkg struct {
	ImportPath                         string
	Imports, TestImports, XTestImports []string
}

func ours(path string) (string, bool) { return strings.CutPrefix(path, module) }

func isThirdParty(p string) bool { return strings.HasPrefix(p, "third_party/") }

// listPackages runs go list -json over the module.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// violations checks the rules on pkgs and returns one line per broken one.
func violations(pkgs []pkg) []string {
	var bad []string
	for _, p := range pkgs {
		name, ok := ours(p.ImportPath)
		if !ok {
			continue
		}
		rules, known := allowed[name]
		if !known && !isThirdParty(name) {
			bad = append(bad, name+": a package the rules do not know; give it a place in docs/ARCHITECTURE.md and in allowed")
			continue
		}
		for _, imp := range p.Imports {
			dep, ok := ours(imp)
			switch {
			case !ok:
			case isThirdParty(name) && !isThirdParty(dep):
				bad = append(bad, name+" imports "+dep+": the vendored runtime imports nothing of ours")
			case isThirdParty(dep) || isThirdParty(name):
			case !slices.Contains(rules, dep):
				bad = append(bad, name+" imports "+dep+": not among the imports the rules allow it")
			}
		}
		for _, imp := range slices.Concat(p.Imports, p.TestImports, p.XTestImports) {
			if dep, ok := ours(imp); ok && isTop(dep) && dep != name {
				bad = append(bad, name+" imports "+dep+": nothing imports a command, the tests or archtest")
			}
		}
	}
	return bad
}

// TestImportRules holds the module to the documented layering.
func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < len(allowed)-2 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// TestImportRulesCatch: the checker flags each kind of broken rule.
func TestImportRulesCatch(t *testing.T) {
	for _, tc := range []struct {
		p    pkg
		want string
	}{
		{pkg{ImportPath: "pocketlua/bindings", Imports: []string{"pocketlua/engine"}}, "bindings imports engine"},
		{pkg{ImportPath: "pocketlua/ws", Imports: []string{"pocketlua/poll"}}, "ws imports poll"},
		{pkg{ImportPath: "pocketlua/poll", Imports: []string{"pocketlua/engine"}}, "poll imports engine"},
		{pkg{ImportPath: "pocketlua/engine", XTestImports: []string{"pocketlua/cmd/pocketlua"}}, "engine imports cmd/pocketlua"},
		{pkg{ImportPath: "pocketlua/acme"}, "acme: a package the rules do not know"},
		{pkg{ImportPath: "pocketlua/third_party/gopher-lua", Imports: []string{"pocketlua/engine"}}, "the vendored runtime imports nothing of ours"},
	} {
		got := violations([]pkg{tc.p})
		if len(got) != 1 || !strings.Contains(got[0], tc.want) {
			t.Errorf("%s importing %v: %q, want %q", tc.p.ImportPath, slices.Concat(tc.p.Imports, tc.p.XTestImports), got, tc.want)
		}
	}
	ok := []pkg{
		{ImportPath: "pocketlua/engine", Imports: []string{"pocketlua/poll", "pocketlua/third_party/gopher-lua", "fmt"}},
		{ImportPath: "pocketlua/third_party/gopher-lua/parse", Imports: []string{"pocketlua/third_party/gopher-lua/ast"}},
		{ImportPath: "pocketlua/ws", TestImports: []string{"pocketlua/httphead"}},
	}
	if got := violations(ok); len(got) != 0 {
		t.Errorf("allowed imports flagged: %q", got)
	}
}
