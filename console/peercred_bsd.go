//go:build darwin || freebsd

package console

import "golang.org/x/sys/unix"

// fdUID is the uid of the process at the other end of fd (LOCAL_PEERCRED).
func fdUID(fd int) (int, error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return -1, err
	}
	return int(cred.Uid), nil
}
