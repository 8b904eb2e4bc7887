package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Helpers for the ssh.lua tests (tests/ssh_*_test.go): they drive the
// server with the OpenSSH client tools (ssh, sftp, scp, ssh-keygen) and,
// for hostile input, with golang.org/x/crypto/ssh and raw sockets.

type sshSite struct {
	dir, root, outside string
	key, unknownKey    string // private key files: authorized, not authorized
	knownHosts         string
}

// newSSHSite makes the client keys, an SFTP root with a symlink leading
// out of it, and a secret file beside the root.
func newSSHSite(t *testing.T) *sshSite {
	t.Helper()
	dir := t.TempDir()
	s := &sshSite{dir: dir, root: filepath.Join(dir, "root"), outside: filepath.Join(dir, "secret.txt"),
		key: filepath.Join(dir, "id_alice"), unknownKey: filepath.Join(dir, "id_other"),
		knownHosts: filepath.Join(dir, "known_hosts")}
	for _, k := range []string{s.key, s.unknownKey} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	pub, err := os.ReadFile(s.key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	rawWriteFile(t, dir, "authorized_keys", "# alice\n"+string(pub))
	rawWriteFile(t, dir, "secret.txt", "outside the root\n")
	rawWriteFile(t, s.root, "hello.txt", "hello over sftp\n")
	if err := os.Symlink(s.outside, filepath.Join(s.root, "escape.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(s.root, "escape")); err != nil {
		t.Fatal(err)
	}
	return s
}

// script renders the test application into dir ("" for a temp dir);
// hostKeys is a Lua expression.
func (s *sshSite) script(t *testing.T, dir, hostKeys string) string {
	return scriptFrom(t, dir, "ssh/sshapp.lua", map[string]string{
		"HostKeys": hostKeys, "AuthorizedKeys": filepath.Join(s.dir, "authorized_keys"), "Root": s.root})
}

// sshServer starts the application with its own state folder, so the
// generated host key lands in the test's temp dir.
func (s *sshSite) server(t *testing.T, args ...string) *server {
	t.Helper()
	t.Setenv("XDG_STATE_HOME", filepath.Join(s.dir, "state"))
	return batteryServer(t, "epoll", append(args, s.script(t, "", "nil"))...)
}

// opts are the client options every OpenSSH tool gets: no user config,
// a private known_hosts, loopback only, no agent.
func (s *sshSite) opts(addr string, portFlag string) []string {
	_, port := splitAddr(addr)
	return []string{"-F", "/dev/null", portFlag, port,
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=" + s.knownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
		"-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR"}
}

func splitAddr(addr string) (string, string) {
	i := strings.LastIndexByte(addr, ':')
	return addr[:i], addr[i+1:]
}

type toolResult struct {
	stdout, stderr string
	code           int
}

// run runs an OpenSSH tool with stdin and a time limit, with password
// logins answered by an askpass script printing password ("" for key logins).
func (s *sshSite) run(t *testing.T, password, stdin, tool string, args ...string) toolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
	if password != "" {
		askpass := filepath.Join(t.TempDir(), "askpass")
		if err := os.WriteFile(askpass, []byte("#!/bin/sh\necho '"+password+"'\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		cmd.Env = append(cmd.Env, "SSH_ASKPASS="+askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0")
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v: timed out; stderr %q", tool, args, errb.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return toolResult{out.String(), errb.String(), code}
}

// sshKey runs ssh with alice's key (or another identity) and a command.
func (s *sshSite) sshKey(t *testing.T, addr, key, user string, extra []string, command ...string) toolResult {
	t.Helper()
	args := append(s.opts(addr, "-p"), "-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey", "-i", key)
	args = append(append(args, extra...), user+"@127.0.0.1")
	return s.run(t, "", "", "ssh", append(args, command...)...)
}

// sshPassword runs ssh logging in with a password.
func (s *sshSite) sshPassword(t *testing.T, addr, user, password string, extra []string, command ...string) toolResult {
	t.Helper()
	args := append(s.opts(addr, "-p"), "-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no")
	args = append(append(args, extra...), user+"@127.0.0.1")
	return s.run(t, password, "", "ssh", append(args, command...)...)
}

// sftp runs an sftp batch as alice (key login); the batch stops at the
// first failing command unless it is prefixed with "-".
func (s *sshSite) sftp(t *testing.T, addr, user, batch string) toolResult {
	t.Helper()
	args := append(s.opts(addr, "-P"), "-o", "BatchMode=yes", "-i", s.key, "-b", "-", user+"@127.0.0.1")
	return s.run(t, "", batch, "sftp", args...)
}

// serverStats asks the application's `stats` exec command.
func (s *sshSite) serverStats(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	r := s.sshKey(t, addr, s.key, "alice", nil, "stats")
	var st map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil {
		t.Fatalf("stats: %d %q %q", r.code, r.stdout, r.stderr)
	}
	out := map[string]float64{}
	for k, v := range st {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}

// clientConfig logs in as alice with the key, through x/crypto/ssh.
func (s *sshSite) clientConfig(t *testing.T) *ssh.ClientConfig {
	t.Helper()
	data, err := os.ReadFile(s.key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return &ssh.ClientConfig{User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 20 * time.Second}
}

// goClient is a logged-in x/crypto/ssh client, closed when the test ends.
func (s *sshSite) goClient(t *testing.T, addr string) *ssh.Client {
	t.Helper()
	c, err := ssh.Dial("tcp", addr, s.clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
