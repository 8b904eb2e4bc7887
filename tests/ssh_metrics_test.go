package tests

import (
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestSSHMetrics: /metrics counts SSH connections taken on, those open
// and the failed authentication attempts, per worker, from real logins.
func TestSSHMetrics(t *testing.T) {
	site := newSSHSite(t)
	srv := site.muxServer(t, "--metrics", "127.0.0.1:0")
	maddr := metricsAddr(t, srv.Logs)
	w := "worker=1"

	site.goClient(t, srv.Addr) // logged in, and left open
	_, err := ssh.Dial("tcp", srv.Addr, &ssh.ClientConfig{User: "alice", HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout: 20 * time.Second, Auth: []ssh.AuthMethod{ssh.RetryableAuthMethod(ssh.Password("wrong"), 2)}})
	if err == nil {
		t.Fatal("logged in with a wrong password")
	}
	var m scraped
	waitFor(t, 10*time.Second, "the refused client's connection to close", func() bool {
		m = scrape(t, maddr)
		return m.value(t, "pocketlua_ssh_connections_open", w) == 1
	})
	for name, want := range map[string]float64{
		"pocketlua_ssh_connections_accepted_total": 2,
		"pocketlua_ssh_unauthenticated":            0,
		"pocketlua_ssh_auth_failures_total":        2,
		"pocketlua_ssh_connections_dropped_total":  0,
	} {
		if got := m.value(t, name, w); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}
