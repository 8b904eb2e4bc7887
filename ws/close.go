package ws

import "strconv"

// Close status codes (RFC 6455 §7.4.1 and the IANA registry).
// 1005 and 1006 are never sent: they stand for "no code received" and
// "connection dropped without a close frame".
const (
	CloseNormal             = 1000
	CloseGoingAway          = 1001
	CloseProtocolError      = 1002
	CloseUnsupportedData    = 1003
	CloseNoStatus           = 1005
	CloseAbnormal           = 1006
	CloseInvalidPayload     = 1007
	ClosePolicyViolation    = 1008
	CloseTooBig             = 1009
	CloseMandatoryExtension = 1010
	CloseInternalError      = 1011
	CloseServiceRestart     = 1012
	CloseTryAgainLater      = 1013
	CloseBadGateway         = 1014
)

// ValidCloseCode reports whether code may appear in a close frame received
// from a peer: the defined codes 1000-1003 and 1007-1014, and the ranges
// 3000-3999 (registered) and 4000-4999 (private). 1004-1006 and 1015 are
// reserved or local-only, and everything else is unassigned.
func ValidCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// CloseError is a protocol failure found in the peer's bytes. The engine
// answers it with a close frame carrying Code and Reason, then closes the
// connection.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	return "ws: close " + strconv.Itoa(e.Code) + ": " + e.Reason
}

// The failures the Decoder reports. They are shared values so that decoding
// never allocates an error; compare with == or errors.Is.
var (
	ErrUnmasked               = &CloseError{CloseProtocolError, "unmasked client frame"}
	ErrReservedBits           = &CloseError{CloseProtocolError, "reserved bits set"}
	ErrBadOpcode              = &CloseError{CloseProtocolError, "reserved opcode"}
	ErrControlTooLong         = &CloseError{CloseProtocolError, "control frame longer than 125 bytes"}
	ErrFragmentedControl      = &CloseError{CloseProtocolError, "fragmented control frame"}
	ErrUnexpectedContinuation = &CloseError{CloseProtocolError, "continuation frame outside a message"}
	ErrExpectedContinuation   = &CloseError{CloseProtocolError, "new message before the previous one ended"}
	ErrLengthMSB              = &CloseError{CloseProtocolError, "frame length has its most significant bit set"}
	ErrBadCloseCode           = &CloseError{CloseProtocolError, "invalid close code"}
	ErrBadClosePayload        = &CloseError{CloseProtocolError, "close payload of one byte"}
	ErrInvalidUTF8            = &CloseError{CloseInvalidPayload, "invalid UTF-8 in text message"}
	ErrBadCloseReason         = &CloseError{CloseInvalidPayload, "invalid UTF-8 in close reason"}
	ErrFrameTooBig            = &CloseError{CloseTooBig, "frame too big"}
	ErrMessageTooBig          = &CloseError{CloseTooBig, "message too big"}
)
