package transport

import "errors"

// Record layer constants (RFC 8446 5.1).
const (
	recordHeader     = 5
	recordHandshake  = 0x16
	maxRecordPayload = 16384 + 2048 // TLSCiphertext's limit; a ClientHello record is far below
	handshakeHeader  = 4
	typeClientHello  = 1
	// MaxClientHello bounds what the loop buffers before a handshake
	// starts, so a stalled client costs at most this: one full record.
	// Browsers' ClientHellos, post-quantum key shares included, are a
	// few KiB.
	MaxClientHello = 16 << 10
)

// ErrNotClientHello: the bytes are a TLS record but not a ClientHello that
// may be served (bad record type, length or handshake type).
var ErrNotClientHello = errors.New("tls: malformed ClientHello")

// LooksLikeTLS reports whether a stream's first bytes begin a TLS
// handshake record (0x16 0x03); more is nil while too few bytes are in.
func LooksLikeTLS(p []byte) (tls, more bool) {
	switch {
	case len(p) == 0:
		return false, true
	case p[0] != recordHandshake:
		return false, false
	case len(p) == 1:
		return false, true
	}
	return p[1] == 0x03, false
}

// ClientHelloComplete reports whether p holds a whole ClientHello: one
// handshake message of type 1, possibly spread over several handshake
// records. Only the record and handshake lengths are read; crypto/tls
// parses the rest.
func ClientHelloComplete(p []byte) (bool, error) {
	var body []byte // handshake bytes gathered so far, at most the header
	need := -1      // the handshake message's total size once its header is in
	got := 0
	for len(p) > 0 {
		if len(p) < recordHeader {
			return false, nil
		}
		if p[0] != recordHandshake || p[1] != 0x03 {
			return false, ErrNotClientHello
		}
		n := int(p[3])<<8 | int(p[4])
		if n == 0 || n > maxRecordPayload {
			return false, ErrNotClientHello
		}
		payload := p[recordHeader:]
		if len(payload) > n {
			payload = payload[:n]
		}
		if len(body) < handshakeHeader {
			k := min(handshakeHeader-len(body), len(payload))
			body = append(body, payload[:k]...)
			if len(body) == handshakeHeader {
				if body[0] != typeClientHello {
					return false, ErrNotClientHello
				}
				need = handshakeHeader + (int(body[1])<<16 | int(body[2])<<8 | int(body[3]))
				if need > MaxClientHello {
					return false, ErrNotClientHello
				}
			}
		}
		got += len(payload)
		if need >= 0 && got >= need {
			return true, nil
		}
		if len(payload) < n {
			return false, nil // the record is still arriving
		}
		p = p[recordHeader+n:]
	}
	return false, nil
}
