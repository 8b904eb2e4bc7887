package transport

import (
	"crypto/x509"
	"sync"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

var fallbackOnce sync.Once

// installFallbackRoots gives crypto/x509 the embedded root bundle to use
// on a machine without a CA store of its own, so outbound TLS still
// verifies there. It runs at the first client handshake, on that
// handshake's goroutine: parsing the bundle takes about 1.4 ms, which
// start-up need not pay for a feature most servers never use (importing
// x509roots/fallback would parse it in init).
func installFallbackRoots() {
	fallbackOnce.Do(func() {
		pool := x509.NewCertPool()
		for root := range bundle.Roots() {
			cert, err := x509.ParseCertificate(root.Certificate)
			if err != nil {
				continue
			}
			if root.Constraint == nil {
				pool.AddCert(cert)
			} else {
				pool.AddCertWithConstraint(cert, root.Constraint)
			}
		}
		x509.SetFallbackRoots(pool)
	})
}
