// Package brokertest starts the real brokers the tests run against: the
// Debian nats-server and redis-server, each as a process of its own on a
// free loopback port, persistence off, stopped by PID when the test ends.
package brokertest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a running broker.
type Server struct {
	Kind     string // "nats" or "redis"
	Port     int
	URL      string
	tb       testing.TB
	dir      string
	conf     string // nats-server configuration lines
	sentinel int    // the master's port, for a Sentinel
	cluster  bool   // a Redis Cluster node
	cmd      *exec.Cmd
	done     chan struct{}
}

// StartNATS runs nats-server; the test is skipped when it is not installed.
func StartNATS(tb testing.TB) *Server { return start(tb, "nats") }

// StartRedis runs redis-server; the test is skipped when it is not installed.
func StartRedis(tb testing.TB) *Server { return start(tb, "redis") }

// Start runs the broker kind names ("nats" or "redis").
func Start(tb testing.TB, kind string) *Server { return start(tb, kind) }

// StartNATSConfig runs nats-server with lines of its configuration file
// (max_payload: 4096, ...).
func StartNATSConfig(tb testing.TB, conf string) *Server {
	tb.Helper()
	s := prepare(tb, "nats")
	s.conf = conf
	s.Restart()
	return s
}

// StartSentinel runs a Redis Sentinel (redis-server --sentinel) that
// monitors master as "mymaster"; its URL is the one --broker takes for
// Sentinel.
func StartSentinel(tb testing.TB, master *Server) *Server {
	tb.Helper()
	s := prepare(tb, "redis")
	s.sentinel = master.Port
	s.URL = fmt.Sprintf("redis://127.0.0.1:%d/0?master_name=mymaster", s.Port)
	s.Restart()
	return s
}

// StartRedisCluster runs a Redis Cluster of three masters (redis-server
// --cluster-enabled, joined by redis-cli --cluster create) and returns the
// URL --broker takes for it.
func StartRedisCluster(tb testing.TB) string {
	tb.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		tb.Skip("redis-cli is not installed (it comes with redis-server)")
	}
	var nodes []*Server
	var addrs []string
	for range 3 {
		s := prepare(tb, "redis")
		s.cluster = true
		s.Restart()
		nodes = append(nodes, s)
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", s.Port))
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	out, err := exec.Command("redis-cli", append(args, "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Every node must agree the cluster is up before it routes.
	for _, s := range nodes {
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			info, _ := exec.Command("redis-cli", "-p", strconv.Itoa(s.Port), "cluster", "info").Output()
			if strings.Contains(string(info), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("cluster node %d never reached cluster_state:ok:\n%s", s.Port, info)
			}
		}
	}
	return "redis://" + addrs[0] + "?addr=" + addrs[1] + "&addr=" + addrs[2]
}

func start(tb testing.TB, kind string) *Server {
	tb.Helper()
	s := prepare(tb, kind)
	s.Restart()
	return s
}

func prepare(tb testing.TB, kind string) *Server {
	tb.Helper()
	bin := map[string]string{"nats": "nats-server", "redis": "redis-server"}[kind]
	if _, err := exec.LookPath(bin); err != nil {
		tb.Skipf("%s is not installed (tests/deps installs it)", bin)
	}
	s := &Server{Kind: kind, tb: tb, dir: tb.TempDir(), Port: freePort(tb)}
	s.URL = fmt.Sprintf("%s://127.0.0.1:%d", kind, s.Port)
	if kind == "redis" {
		s.URL += "/0"
	}
	tb.Cleanup(s.Kill)
	return s
}

func freePort(tb testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Restart starts the broker again on its port, after Kill, and waits
// until it answers.
func (s *Server) Restart() {
	s.tb.Helper()
	port := strconv.Itoa(s.Port)
	if s.Kind == "nats" {
		args := []string{"-a", "127.0.0.1", "-p", port}
		if s.conf != "" {
			path := filepath.Join(s.dir, "nats.conf")
			if err := os.WriteFile(path, []byte(s.conf+"\n"), 0o600); err != nil {
				s.tb.Fatal(err)
			}
			args = append(args, "-c", path)
		}
		s.cmd = exec.Command("nats-server", args...)
	} else if s.sentinel != 0 {
		path := filepath.Join(s.dir, "sentinel.conf") // Sentinel rewrites its file
		conf := fmt.Sprintf("bind 127.0.0.1\nport %d\ndir %s\nsentinel monitor mymaster 127.0.0.1 %d 1\n", s.Port, s.dir, s.sentinel)
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			s.tb.Fatal(err)
		}
		s.cmd = exec.Command("redis-server", path, "--sentinel")
	} else {
		args := []string{"--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
			"--dir", s.dir, "--daemonize", "no", "--protected-mode", "no"}
		if s.cluster {
			args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(s.dir, "nodes.conf"))
		}
		s.cmd = exec.Command("redis-server", args...)
	}
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("start %s: %v", s.Kind, err)
	}
	done := make(chan struct{})
	s.done = done
	go func(cmd *exec.Cmd) { cmd.Wait(); close(done) }(s.cmd)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := s.ping(); err == nil {
			return
		} else if time.Now().After(deadline) {
			s.tb.Fatalf("%s on port %d does not answer: %v", s.Kind, s.Port, err)
		}
		select {
		case <-done:
			s.tb.Fatalf("%s on port %d exited at start", s.Kind, s.Port)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ping checks that the broker speaks: NATS sends INFO, Redis answers PING.
func (s *Server) ping() error {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if s.Kind == "redis" {
		fmt.Fprintf(c, "PING\r\n")
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "INFO ") && !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected greeting %q", line)
	}
	return nil
}

// Kill ends the broker with SIGKILL, by its PID, and waits for it.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}
