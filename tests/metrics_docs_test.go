package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestMetricsDocsMatchScrape: every pocketlua_ metric a real server
// exposes is documented in docs/METRICS.md and every documented one is
// exposed; the Grafana dashboard's queries parse (promtool) and name only
// metrics that exist.
func TestMetricsDocsMatchScrape(t *testing.T) {
	srv := startServer(t, "epoll", "--metrics", "127.0.0.1:0", metricsApp(t, "", "counter", "v1"))
	_, body := get(t, "http://"+metricsAddr(t, srv.Logs)+"/metrics")
	var exposed []string
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (pocketlua_\w+) `).FindAllStringSubmatch(body, -1) {
		exposed = append(exposed, m[1])
	}
	doc, err := os.ReadFile("../docs/METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(pocketlua_\\w+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		documented = append(documented, m[1])
	}
	slices.Sort(exposed)
	slices.Sort(documented)
	if len(exposed) < 15 || !slices.Equal(exposed, documented) {
		t.Errorf("exposed %q\ndocumented %q", exposed, documented)
	}

	raw, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	var rules strings.Builder
	rules.WriteString("groups:\n- name: dashboard\n  rules:\n")
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			expr := strings.NewReplacer("$__rate_interval", "5m", "$job", ".*").Replace(tg.Expr)
			for _, name := range regexp.MustCompile(`pocketlua_[a-z_]+`).FindAllString(expr, -1) {
				base := strings.TrimSuffix(name, "_bucket")
				if !slices.Contains(exposed, base) {
					t.Errorf("panel %q queries %s, which the server does not expose", p.Title, name)
				}
			}
			rules.WriteString("  - record: dashboard:check\n    expr: '" + expr + "'\n")
		}
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("promtool", "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the dashboard's queries: %v\n%s", err, out)
	}
	srv.stop()
}
