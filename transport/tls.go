package transport

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

// Pair is one certificate chain and its key, as PEM files.
type Pair struct{ Cert, Key string }

// Options configure TLS for a process; every worker shares one TLS.
type Options struct {
	Pairs         []Pair // chosen by SNI; the first is the default
	ClientCA      string // PEM bundle that client certificates must chain to
	ClientAuth    string // "none" (default), "optional" or "required"
	MinVersion    uint16 // tls.VersionTLS12 when zero
	CryptoWorkers int    // handshakes doing crypto at once; runtime.NumCPU() when zero
}

// TLS is the process-wide server side: the current certificates (swapped
// whole on reload) and the pool that bounds handshake crypto.
type TLS struct {
	opts   Options
	base   *tls.Config // handed to every tls.Server; its session ticket keys rotate themselves
	cur    atomic.Pointer[loaded]
	mu     sync.Mutex // serializes Reload
	crypto chan struct{}
}

// loaded is one reading of the files.
type loaded struct {
	cfg *tls.Config
	sum [sha256.Size]byte // of every file's bytes: a reload that changes nothing does nothing
}

// ClientAuthModes are --tls-client-auth's values.
var ClientAuthModes = map[string]tls.ClientAuthType{
	"none":     tls.NoClientCert,
	"optional": tls.VerifyClientCertIfGiven,
	"required": tls.RequireAndVerifyClientCert,
}

// New reads the files; an error names the file at fault.
func New(o Options) (*TLS, error) {
	if len(o.Pairs) == 0 {
		return nil, errors.New("tls: no certificate")
	}
	if o.ClientAuth == "" {
		o.ClientAuth = "none"
	}
	if _, ok := ClientAuthModes[o.ClientAuth]; !ok {
		return nil, fmt.Errorf("tls client auth %q: want none, optional or required", o.ClientAuth)
	}
	if o.ClientAuth != "none" && o.ClientCA == "" {
		return nil, fmt.Errorf("tls client auth %s needs a client CA file", o.ClientAuth)
	}
	if o.MinVersion == 0 {
		o.MinVersion = tls.VersionTLS12
	}
	if o.CryptoWorkers <= 0 {
		o.CryptoWorkers = runtime.NumCPU()
	}
	t := &TLS{opts: o, crypto: make(chan struct{}, o.CryptoWorkers)}
	t.base = &tls.Config{
		MinVersion: o.MinVersion,
		NextProtos: []string{"http/1.1"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return t.cur.Load().cfg, nil
		},
	}
	l, err := t.load()
	if err != nil {
		return nil, err
	}
	t.cur.Store(l)
	return t, nil
}

// Files lists every file read, for --watch.
func (t *TLS) Files() []string {
	var out []string
	for _, p := range t.opts.Pairs {
		out = append(out, p.Cert, p.Key)
	}
	if t.opts.ClientCA != "" {
		out = append(out, t.opts.ClientCA)
	}
	return out
}

// Reload reads the files again; new handshakes use them, open connections
// go on. On any error the old ones stay. changed is false when the files
// hold what is already loaded.
func (t *TLS) Reload() (changed bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, err := t.load()
	if err != nil {
		return false, err
	}
	if l.sum == t.cur.Load().sum {
		return false, nil
	}
	t.cur.Store(l)
	return true, nil
}

func (t *TLS) load() (*loaded, error) {
	h := sha256.New()
	read := func(path string) ([]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err // names the file
		}
		h.Write(b)
		h.Write([]byte{0})
		return b, nil
	}
	cfg := &tls.Config{
		MinVersion: t.opts.MinVersion,
		NextProtos: []string{"http/1.1"},
		ClientAuth: ClientAuthModes[t.opts.ClientAuth],
	}
	for _, p := range t.opts.Pairs {
		certPEM, err := read(p.Cert)
		if err != nil {
			return nil, err
		}
		keyPEM, err := read(p.Key)
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("certificate %s with key %s: %w", p.Cert, p.Key, err)
		}
		cfg.Certificates = append(cfg.Certificates, pair)
	}
	if t.opts.ClientCA != "" {
		b, err := read(t.opts.ClientCA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("client CA %s: no PEM certificate in it", t.opts.ClientCA)
		}
		cfg.ClientCAs = pool
	}
	l := &loaded{cfg: cfg}
	h.Sum(l.sum[:0])
	return l, nil
}

// Leaf is the default certificate's leaf, for logs and tests.
func (t *TLS) Leaf() *x509.Certificate {
	certs := t.cur.Load().cfg.Certificates
	if len(certs) == 0 {
		return nil
	}
	return certs[0].Leaf
}
