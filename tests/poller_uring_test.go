//go:build linux

package tests

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// denyUringEnv makes this test binary a wrapper: it installs a seccomp
// filter failing io_uring_setup with the errno named (EPERM as a
// container's profile does, ENOSYS as a kernel without io_uring), then
// execs its arguments. The filter outlives exec, so the server it runs
// meets the refusal a real sandbox gives.
const denyUringEnv = "POCKETLUA_TEST_DENY_IO_URING"

func init() {
	name := os.Getenv(denyUringEnv)
	if name == "" {
		return
	}
	errno := map[string]unix.Errno{"EPERM": unix.EPERM, "ENOSYS": unix.ENOSYS}[name]
	if errno == 0 || len(os.Args) < 2 {
		os.Stderr.WriteString("deny-io_uring wrapper: want EPERM or ENOSYS and a command\n")
		os.Exit(2)
	}
	runtime.LockOSThread() // the filter and the exec on the same thread
	if err := denyUringSetup(errno); err != nil {
		os.Stderr.WriteString("deny-io_uring wrapper: " + err.Error() + "\n")
		os.Exit(2)
	}
	err := syscall.Exec(os.Args[1], os.Args[1:], os.Environ())
	os.Stderr.WriteString("deny-io_uring wrapper: exec: " + err.Error() + "\n")
	os.Exit(2)
}

// The end-to-end tests that run once per poller run on io_uring too where
// this kernel lets the process use it.
func init() {
	if uringAllowed() {
		pollers = append(pollers, "io_uring")
	}
}

func denyUringSetup(errno unix.Errno) error {
	var arch uint32
	switch runtime.GOARCH {
	case "amd64":
		arch = unix.AUDIT_ARCH_X86_64
	case "arm64":
		arch = unix.AUDIT_ARCH_AARCH64
	default:
		return syscall.ENOTSUP
	}
	const (
		ldAbs   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq     = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret     = unix.BPF_RET | unix.BPF_K
		retErr  = 0x00050000 // SECCOMP_RET_ERRNO
		retPass = 0x7fff0000 // SECCOMP_RET_ALLOW
	)
	filter := []unix.SockFilter{
		{Code: ldAbs, K: 4},                // seccomp_data.arch
		{Code: jeq, K: arch, Jt: 0, Jf: 3}, // another ABI: allow
		{Code: ldAbs, K: 0},                // seccomp_data.nr
		{Code: jeq, K: unix.SYS_IO_URING_SETUP, Jt: 0, Jf: 1},
		{Code: ret, K: retErr | uint32(errno)},
		{Code: ret, K: retPass},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	return unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0)
}

// denyUringWrapper is the launch wrapper running the server with
// io_uring_setup failing with errno.
func denyUringWrapper(t *testing.T, errno string) launch {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return launch{wrapper: []string{exe}, env: []string{denyUringEnv + "=" + errno}}
}

// TestPollerIOUringRefused: where the kernel refuses io_uring, --poller
// io_uring stops the start with the cause, and --poller auto, the default,
// serves on epoll after saying why in one log line.
func TestPollerIOUringRefused(t *testing.T) {
	rawQuickExit(t)
	for _, tc := range []struct{ errno, cause string }{
		{"EPERM", "operation not permitted (refused: sysctl kernel.io_uring_disabled, or a seccomp filter"},
		{"ENOSYS", "function not implemented (kernel without io_uring"},
	} {
		t.Run(tc.errno, func(t *testing.T) {
			w := denyUringWrapper(t, tc.errno)

			cmd := exec.Command(w.wrapper[0], binary, "--poller", "io_uring", "-l", "127.0.0.1:0", "../scripts/tcp_echo.lua")
			cmd.Env = append(append(os.Environ(), "GORACE=atexit_sleep_ms=0"), w.env...)
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-exited
				t.Fatalf("--poller io_uring went on although io_uring is refused; output:\n%s", out.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != 1 {
				t.Fatalf("--poller io_uring refused: exit %d, want 1; output:\n%s", code, out.String())
			}
			if want := "pocketlua: --poller io_uring: io_uring unavailable: io_uring_setup: " + tc.cause; !strings.Contains(out.String(), want) {
				t.Fatalf("--poller io_uring refused: output lacks %q:\n%s", want, out.String())
			}
			if announced(out.String()) {
				t.Fatalf("--poller io_uring refused yet listened:\n%s", out.String())
			}

			for _, w.poller = range []string{"auto", ""} {
				srv := w.start(t, "--workers", "2", "../scripts/tcp_echo.lua")
				c := dialRaw(t, srv.Addr)
				c.roundTrip("served on the fallback", "served on the fallback")
				c.Close()
				srv.stop()
				logs := srv.Logs()
				fallback := rawLogLines(srv, "level=INFO", "--poller auto: io_uring unavailable, using epoll", tc.cause[:20])
				if len(fallback) != 1 {
					t.Fatalf("--poller %q refused: want one fallback line for two workers, got %d:\n%s", w.poller, len(fallback), logs)
				}
				if !strings.Contains(logs, "poller=epoll") {
					t.Fatalf("--poller %q refused: the listening line names another poller:\n%s", w.poller, logs)
				}
			}
		})
	}
}

// TestPollerAutoPicksIOUring: with nothing refusing it, auto, the
// default, runs io_uring and logs no fallback.
func TestPollerAutoPicksIOUring(t *testing.T) {
	rawQuickExit(t)
	if !uringAllowed() {
		t.Skip("io_uring refused to this process")
	}
	for _, poller := range []string{"auto", ""} {
		srv := startServer(t, poller, "../scripts/tcp_echo.lua")
		c := dialRaw(t, srv.Addr)
		c.roundTrip("on io_uring", "on io_uring")
		c.Close()
		srv.stop()
		if logs := srv.Logs(); !strings.Contains(logs, "poller=io_uring") || strings.Contains(logs, "unavailable") {
			t.Fatalf("--poller %q: want io_uring without a fallback:\n%s", poller, logs)
		}
	}
}

// uringAllowed reports whether this process may set up an io_uring.
func uringAllowed() bool {
	var params [120]byte
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
	if e != 0 {
		return false
	}
	unix.Close(int(fd))
	return true
}
