package sshd

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
)

// Key is a client's public key offered for authentication.
type Key struct{ key ssh.PublicKey }

// Type is the key's algorithm name, such as "ssh-ed25519".
func (k *Key) Type() string { return k.key.Type() }

// Fingerprint is the SHA256 fingerprint as ssh-keygen -l prints it.
func (k *Key) Fingerprint() string { return ssh.FingerprintSHA256(k.key) }

// maxAuthorizedKeys bounds the authorized_keys file read on the loop.
const maxAuthorizedKeys = 1 << 20

// AuthorizedBy reports whether an authorized_keys file lists the key.
// Lines with options are matched on the key alone (options are not
// enforced, so a restricted line does not authorize).
func (k *Key) AuthorizedBy(file string) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	if st.Size() > maxAuthorizedKeys {
		return false, fmt.Errorf("%s: larger than %d bytes", file, maxAuthorizedKeys)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return false, err
	}
	want := k.key.Marshal()
	for len(data) > 0 {
		pub, _, options, rest, err := ssh.ParseAuthorizedKey(data)
		if err != nil {
			return false, nil // no further valid line
		}
		if len(options) == 0 && bytes.Equal(pub.Marshal(), want) {
			return true, nil
		}
		data = rest
	}
	return false, nil
}

// LoadHostKeys reads private host keys (OpenSSH or PEM format, no passphrase).
func LoadHostKeys(files []string) ([]ssh.Signer, error) {
	var out []ssh.Signer
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("host key: %w", err)
		}
		s, err := ssh.ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("host key %s: %w", f, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// DefaultHostKeyPath is where the generated host key lives:
// $XDG_STATE_HOME/pocketlua/ssh_host_ed25519_key, or
// ~/.local/state/pocketlua/ssh_host_ed25519_key.
func DefaultHostKeyPath() (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("host key: no $XDG_STATE_HOME and no home folder: %w", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "pocketlua", "ssh_host_ed25519_key"), nil
}

// EnsureHostKey returns the key at path, generating an ed25519 key there
// first if there is none. The file is written whole under a temporary
// name (mode 0600) and linked into place, which fails if another process
// got there first: then that process's key is used, so every worker and
// every restart serves one key.
func EnsureHostKey(path string) (ssh.Signer, error) {
	if s, err := LoadHostKeys([]string{path}); err == nil {
		return s[0], nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "pocketlua host key")
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ssh_host_key-*")
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.Write(pem.EncodeToMemory(block))
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("host key: %w", err)
		}
	} else {
		tmp.Close()
		return nil, fmt.Errorf("host key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("host key: %w", err)
	}
	// Ours, or the one another worker linked first: either is complete.
	s, err := LoadHostKeys([]string{path})
	if err != nil {
		return nil, err
	}
	return s[0], nil
}
