//go:build !linux

package poll

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// sockRead and sockWrite: see sock_linux.go.
func sockRead(fd int, p []byte) (int, error) { return unix.Read(fd, p) }

func sockWrite(fd int, p []byte) (int, error) { return unix.Write(fd, p) }

// schedYield: see sock_linux.go; elsewhere the Go scheduler's yield.
func schedYield() { runtime.Gosched() }

// DirectWriter: see sock_linux.go.
func DirectWriter(int) func([]byte) (int, error) { return nil }

func sockWriteLast(fd int, p []byte) (int, error) { return unix.Write(fd, p) }

func sockClose(fd int)    { unix.Close(fd) }
func sockShutdown(fd int) { unix.Shutdown(fd, unix.SHUT_WR) }
