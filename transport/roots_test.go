package transport

import "testing"

// TestFallbackRootsOnce: every client handshake calls installFallbackRoots;
// crypto/x509 panics if the fallback roots are set twice.
func TestFallbackRootsOnce(t *testing.T) {
	installFallbackRoots()
	installFallbackRoots()
}
