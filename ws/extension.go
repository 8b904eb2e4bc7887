package ws

import (
	"net/http"
	"strings"

	"pocketlua/httphead"
)

// Extension is one element of a Sec-WebSocket-Extensions list (RFC 6455
// §9.1): a name and its parameters, in the order the client sent them.
type Extension struct {
	Name   string
	Params []ExtensionParam
	// Malformed is set when the element broke the grammar (a parameter
	// that is not a token, a quoted value that is not a token after
	// unescaping, stray characters). Its Name and Params hold what was
	// read before the fault; a negotiator must decline it.
	Malformed bool
}

// ExtensionParam is one extension parameter: `name` or `name=value`
// (the value unquoted when it was a quoted-string).
type ExtensionParam struct {
	Name     string
	Value    string
	HasValue bool
}

// Extensions parses every Sec-WebSocket-Extensions header of req, in
// order, as one list.
func Extensions(req *http.Request) []Extension {
	return ParseExtensions(req.Header.Values("Sec-Websocket-Extensions")...)
}

// ParseExtensions parses Sec-WebSocket-Extensions header values, in
// order, as one comma-separated list of extension offers:
//
//	extension       = extension-token *( ";" extension-param )
//	extension-param = token [ "=" ( token / quoted-string ) ]
//
// with optional whitespace around the separators. Empty list elements are
// skipped (RFC 7230 §7). An element that breaks the grammar is returned
// with Malformed set, and parsing resumes at the next comma outside a
// quoted string, so one bad offer does not hide the others.
func ParseExtensions(values ...string) []Extension {
	var out []Extension
	for _, v := range values {
		p := extParser{s: v}
		for {
			p.skipSpace()
			if p.eof() {
				break
			}
			if p.peek() == ',' {
				p.i++ // an empty element
				continue
			}
			out = append(out, p.element())
		}
	}
	return out
}

// extParser is a cursor over one header value.
type extParser struct {
	s string
	i int
}

func (p *extParser) eof() bool  { return p.i >= len(p.s) }
func (p *extParser) peek() byte { return p.s[p.i] }

func (p *extParser) skipSpace() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *extParser) token() string {
	start := p.i
	for !p.eof() && httphead.IsTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// element reads one extension up to and including the comma that ends it.
func (p *extParser) element() Extension {
	var e Extension
	if e.Name = p.token(); e.Name == "" {
		return p.malformed(e)
	}
	for {
		p.skipSpace()
		if p.eof() {
			return e
		}
		switch p.peek() {
		case ',':
			p.i++
			return e
		case ';':
			p.i++
		default:
			return p.malformed(e)
		}
		p.skipSpace()
		var prm ExtensionParam
		if prm.Name = p.token(); prm.Name == "" {
			return p.malformed(e)
		}
		p.skipSpace()
		if !p.eof() && p.peek() == '=' {
			p.i++
			p.skipSpace()
			prm.HasValue = true
			if !p.eof() && p.peek() == '"' {
				v, ok := p.quoted()
				if !ok || v == "" || !httphead.IsToken(v) {
					return p.malformed(e)
				}
				prm.Value = v
			} else if prm.Value = p.token(); prm.Value == "" {
				return p.malformed(e)
			}
		}
		e.Params = append(e.Params, prm)
	}
}

// quoted reads a quoted-string starting at the opening quote and returns
// its unescaped content; ok is false when it is not closed.
func (p *extParser) quoted() (string, bool) {
	p.i++ // the opening quote
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b.String(), true
		case '\\':
			if p.eof() {
				return "", false
			}
			c = p.s[p.i]
			p.i++
		}
		b.WriteByte(c)
	}
	return "", false
}

// malformed marks e and skips to just past the next comma that is not
// inside a quoted string (or to the end).
func (p *extParser) malformed(e Extension) Extension {
	e.Malformed = true
	inQuote := false
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch {
		case inQuote && c == '\\':
			if !p.eof() {
				p.i++
			}
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			return e
		}
	}
	return e
}

// PermessageDeflate is the extension token of RFC 7692 §7.
const PermessageDeflate = "permessage-deflate"

// DeflateOptions is the server's policy for permessage-deflate.
type DeflateOptions struct {
	// ServerContextTakeover keeps the server's compression context from
	// one message to the next (better ratio on small, similar messages;
	// a compressor of its own per connection, see Deflater). When false
	// the server always answers server_no_context_takeover and
	// compresses with a shared compressor.
	ServerContextTakeover bool
	// ClientContextTakeover lets the client keep its context across
	// messages (the server then keeps up to 2^ClientMaxWindowBits bytes
	// of history per connection). When false the server answers
	// client_no_context_takeover.
	ClientContextTakeover bool
	// ClientMaxWindowBits (8-15, 0 means 15) caps the client's window,
	// and so the history the server keeps, when the client's offer allows
	// it (its offer has client_max_window_bits).
	ClientMaxWindowBits int
}

// DeflateParams are the agreed parameters of a permessage-deflate
// negotiation, as the server answered them.
type DeflateParams struct {
	ServerNoContextTakeover bool
	ClientNoContextTakeover bool
	// ServerMaxWindowBits is 15 unless the client asked for less with
	// server_max_window_bits; it is answered iff the client sent it.
	ServerMaxWindowBits int
	// ClientMaxWindowBits is the window the server told the client to
	// stay within, or 15 when the answer does not limit it.
	ClientMaxWindowBits int

	// What goes into the response: the RFC forbids answering
	// server_max_window_bits or client_max_window_bits that the offer
	// did not name.
	answerServerBits bool
	answerClientBits bool
}

// String is the Sec-WebSocket-Extensions value that accepts the offer.
func (p DeflateParams) String() string {
	s := PermessageDeflate
	if p.ServerNoContextTakeover {
		s += "; server_no_context_takeover"
	}
	if p.ClientNoContextTakeover {
		s += "; client_no_context_takeover"
	}
	if p.answerServerBits {
		s += "; server_max_window_bits=" + itoa(p.ServerMaxWindowBits)
	}
	if p.answerClientBits {
		s += "; client_max_window_bits=" + itoa(p.ClientMaxWindowBits)
	}
	return s
}

func itoa(n int) string {
	if n >= 10 {
		return string([]byte{byte('0' + n/10), byte('0' + n%10)})
	}
	return string([]byte{byte('0' + n)})
}

// NegotiateDeflate picks the first permessage-deflate offer in offers
// (the client's order of preference) that the server can accept, and
// returns the agreed parameters; ok is false when there is none, and the
// handshake then goes on without compression.
//
// An offer is declined (RFC 7692 §5.1, §7.1) when it is malformed, has a
// parameter other than the four of §7.1, names a parameter twice, gives
// server_no_context_takeover or client_no_context_takeover a value, or
// gives server_max_window_bits (value required) or client_max_window_bits
// (value optional) anything but a decimal 8 to 15 without leading zeros.
// Other extensions are ignored.
//
// The answer names a parameter only as §7.1 allows:
//
//   - server_no_context_takeover when the client asked for it, and also,
//     unasked (§7.1.1.1), when the server keeps no context: the option is
//     off, or the client asked for a window smaller than 15 bits.
//   - client_no_context_takeover when the client offered it (so its hint
//     becomes binding and the server needs no history) or when
//     ClientContextTakeover is off (§7.1.1.2 lets the server add it).
//   - server_max_window_bits=N exactly when the client sent it, with its
//     value: see below for how N < 15 is honoured.
//   - client_max_window_bits=M only when the offer has the parameter, the
//     client keeps context, and M < 15, where M is ClientMaxWindowBits
//     lowered to the client's own value if it gave one.
//
// Honouring server_max_window_bits=N < 15: Go's compress/flate always
// compresses with a 32 KiB (15-bit) window, and a stream whose matches
// reach back further than 2^N bytes cannot be inflated by a peer with a
// 2^N-byte window. Two things together keep every match within 2^N: the
// server takes no context from one message to the next (so matches stay
// inside the message), and it compresses only messages of at most 2^N
// bytes (a match cannot reach further back than the message's own start);
// longer messages go out uncompressed, which RFC 7692 allows per message.
// Such a client gets compression for its small messages instead of a
// declined offer.
func NegotiateDeflate(offers []Extension, opt DeflateOptions) (DeflateParams, bool) {
	for _, e := range offers {
		if !strings.EqualFold(e.Name, PermessageDeflate) {
			continue
		}
		if p, ok := acceptDeflate(e, opt); ok {
			return p, true
		}
	}
	return DeflateParams{}, false
}

// acceptDeflate answers one permessage-deflate offer, or declines it.
func acceptDeflate(e Extension, opt DeflateOptions) (DeflateParams, bool) {
	if e.Malformed {
		return DeflateParams{}, false
	}
	var (
		snct, cnct       bool
		sBits, cBits     int // 0: not offered
		sSeen, cBitsSeen bool
	)
	for _, prm := range e.Params {
		switch strings.ToLower(prm.Name) {
		case "server_no_context_takeover":
			if snct || prm.HasValue {
				return DeflateParams{}, false
			}
			snct = true
		case "client_no_context_takeover":
			if cnct || prm.HasValue {
				return DeflateParams{}, false
			}
			cnct = true
		case "server_max_window_bits":
			if sSeen || !prm.HasValue {
				return DeflateParams{}, false
			}
			sSeen = true
			if sBits = windowBits(prm.Value); sBits == 0 {
				return DeflateParams{}, false
			}
		case "client_max_window_bits":
			if cBitsSeen {
				return DeflateParams{}, false
			}
			cBitsSeen = true
			if prm.HasValue {
				if cBits = windowBits(prm.Value); cBits == 0 {
					return DeflateParams{}, false
				}
			}
		default:
			return DeflateParams{}, false
		}
	}
	p := DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
	if sSeen {
		p.ServerMaxWindowBits = sBits
		p.answerServerBits = true
	}
	p.ServerNoContextTakeover = snct || !opt.ServerContextTakeover || p.ServerMaxWindowBits < 15
	p.ClientNoContextTakeover = cnct || !opt.ClientContextTakeover
	if cBitsSeen && !p.ClientNoContextTakeover {
		m := opt.ClientMaxWindowBits
		if m < 8 || m > 15 {
			m = 15
		}
		if cBits != 0 && cBits < m {
			m = cBits
		}
		if m < 15 {
			p.ClientMaxWindowBits = m
			p.answerClientBits = true
		}
	}
	return p, true
}

// windowBits parses a window-bits value, "8" to "15" without leading
// zeros; it returns 0 for anything else.
func windowBits(v string) int {
	switch {
	case len(v) == 1 && v[0] >= '8' && v[0] <= '9':
		return int(v[0] - '0')
	case len(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5':
		return 10 + int(v[1]-'0')
	}
	return 0
}
