package engine

import "pocketlua/poll"

// ResolvePoller settles Config.Poller once per process, before any worker
// starts: "auto" becomes io_uring when the kernel lets this process use it
// and epoll otherwise (fallback says why), and "io_uring" fails here, with
// the cause, rather than in every worker.
func ResolvePoller(name string) (resolved string, fallback, err error) {
	return poll.ResolvePoller(name)
}

// ValidUringBuffers reports whether n can be Config.UringBuffers.
func ValidUringBuffers(n int) bool { return poll.ValidUringBuffers(n) }
