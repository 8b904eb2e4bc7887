package engine

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"pocketlua/bindings"
)

// server.connect's ca, cert and key files are read off the loop (a slow
// disk must not stall it) and kept while every file keeps its size and
// modification time: each connect checks them on a goroutine, and
// connects that ask while a check runs share it.

// clientFilesKey names one set of server.connect's files.
type clientFilesKey struct{ ca, cert, key string }

// clientFiles is one reading of them.
type clientFiles struct {
	roots  *x509.CertPool
	certs  []tls.Certificate
	stamps []fileStamp // of ca, cert, key as given
	err    error       // names the file at fault
}

type fileStamp struct {
	size    int64
	modTime time.Time
}

// clientFilesEntry is the loop's view of one key: the last reading and
// the connections waiting for the check in flight.
type clientFilesEntry struct {
	last     *clientFiles
	checking bool
	waiting  []*tlsConn
}

// awaitClientFiles has t's handshake wait for a fresh check of its files.
func (s *Server) awaitClientFiles(k clientFilesKey, t *tlsConn) {
	if s.tls.clientFiles == nil {
		s.tls.clientFiles = make(map[clientFilesKey]*clientFilesEntry)
	}
	e := s.tls.clientFiles[k]
	if e == nil {
		e = &clientFilesEntry{}
		s.tls.clientFiles[k] = e
	}
	t.awaitingFiles = true
	e.waiting = append(e.waiting, t)
	if e.checking {
		return
	}
	e.checking = true
	last := e.last
	go func() {
		f := loadClientFiles(k, last)
		s.loop.Post(func() {
			e.last, e.checking = f, false
			waiting := e.waiting
			e.waiting = nil
			for _, w := range waiting {
				w.clientFilesLoaded(f)
			}
		})
	}()
}

// loadClientFiles reads k's files, or returns last when none changed.
func loadClientFiles(k clientFilesKey, last *clientFiles) *clientFiles {
	names := []string{k.ca, k.cert, k.key}
	f := &clientFiles{stamps: make([]fileStamp, len(names))}
	for i, name := range names {
		if name == "" {
			continue
		}
		fi, err := os.Stat(name)
		if err != nil {
			return &clientFiles{err: fileError([]string{"ca", "cert", "key"}[i], err)}
		}
		f.stamps[i] = fileStamp{fi.Size(), fi.ModTime()}
	}
	if last != nil && last.err == nil && sameStamps(last.stamps, f.stamps) {
		return last
	}
	if k.ca != "" {
		b, err := os.ReadFile(k.ca)
		if err != nil {
			return &clientFiles{err: fileError("ca", err)}
		}
		f.roots = x509.NewCertPool()
		if !f.roots.AppendCertsFromPEM(b) {
			return &clientFiles{err: fmt.Errorf("ca %s: no PEM certificate in it", k.ca)}
		}
	}
	if k.cert != "" {
		pair, err := tls.LoadX509KeyPair(k.cert, k.key)
		if err != nil {
			return &clientFiles{err: fmt.Errorf("certificate %s with key %s: %w", k.cert, k.key, err)}
		}
		f.certs = []tls.Certificate{pair}
	}
	return f
}

// fileError is "ca /path: no such file or directory": the option, the
// file and what went wrong, without the system call's name.
func fileError(option string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %w", option, pe.Path, pe.Err)
	}
	return fmt.Errorf("%s: %w", option, err)
}

func sameStamps(a, b []fileStamp) bool {
	for i := range a {
		if a[i].size != b[i].size || !a[i].modTime.Equal(b[i].modTime) {
			return false
		}
	}
	return len(a) == len(b)
}

// clientFilesLoaded: the files are in (or could not be read); the
// handshake starts once the TCP connection is up too.
func (t *tlsConn) clientFilesLoaded(f *clientFiles) {
	c := t.c
	if c.ended() || c.srv.tls.byConn[c] != t || !t.awaitingFiles {
		return
	}
	t.awaitingFiles = false
	if f.err != nil {
		t.fail(-1, "tls: "+f.err.Error(), bindings.CloseProtocolError)
		return
	}
	t.client.RootCAs, t.client.Certificates = f.roots, f.certs
	if t.tcpUp {
		t.clientHandshake()
	}
}
