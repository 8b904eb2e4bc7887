package tests

import (
	"bufio"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

var metricsAddrLog = regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)

// metricsAddr is the --metrics listener's address, from the server's log.
func metricsAddr(t *testing.T, logs func() string) string {
	t.Helper()
	var addr string
	waitFor(t, 10*time.Second, "the metrics listening line", func() bool {
		m := metricsAddrLog.FindStringSubmatch(logs())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	return addr
}

// get fetches url and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return res.StatusCode, string(b)
}

// scrape reads /metrics and checks it with promtool.
func scrape(t *testing.T, addr string) scraped {
	t.Helper()
	status, body := get(t, "http://"+addr+"/metrics")
	if status != 200 {
		t.Fatalf("/metrics: status %d: %s", status, body)
	}
	promtoolCheck(t, body)
	return parseScrape(t, body)
}

// promtoolCheck validates the text format with Prometheus's own tool.
func promtoolCheck(t *testing.T, body string) {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Fatal("promtool not found: install Debian's prometheus package (tests/run and .ci/run do)")
	}
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s\n--- scrape:\n%s", err, out, body)
	}
}

// scraped maps `name{k="v",...}` with labels sorted to its value.
type scraped map[string]float64

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

func parseScrape(t *testing.T, body string) scraped {
	t.Helper()
	out := scraped{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unparsable metrics line %q", line)
		}
		var pairs []string
		for _, p := range labelPair.FindAllStringSubmatch(m[2], -1) {
			pairs = append(pairs, p[1]+"="+p[2])
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[key(m[1], pairs...)] = v
	}
	return out
}

func key(name string, labels ...string) string {
	sort.Strings(labels)
	return name + "{" + strings.Join(labels, ",") + "}"
}

// value is the sample name{labels}, labels as "k=v"; the test fails if absent.
func (s scraped) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, ok := s[key(name, labels...)]
	if !ok {
		t.Fatalf("no sample %s in the scrape", key(name, labels...))
	}
	return v
}

// series lists the samples of name, whatever their labels.
func (s scraped) series(name string) []string {
	var out []string
	for k := range s {
		if strings.HasPrefix(k, name+"{") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// want fails the test unless name{labels} is exactly v.
func (s scraped) want(t *testing.T, v float64, name string, labels ...string) {
	t.Helper()
	if got := s.value(t, name, labels...); got != v {
		t.Errorf("%s = %v, want %v", key(name, labels...), got, v)
	}
}
