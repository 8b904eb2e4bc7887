package bindings

import (
	"time"

	lua "github.com/yuin/gopher-lua"
)

// TLS handshake outcomes, the result label of
// pocketlua_tls_handshakes_total.
const (
	TLSOK        = iota
	TLSFailed    // crypto/tls refused it (version, cipher, certificate, an alert, a bad record)
	TLSTimedOut  // not done within --tls-handshake-timeout
	TLSMalformed // the loop could not gather a ClientHello from it
	NumTLSResults
)

// TLSResultNames are the result label values, in order.
var TLSResultNames = [NumTLSResults]string{"ok", "failed", "timeout", "malformed"}

// TLSCounters are one worker's TLS counters.
type TLSCounters struct {
	Handshakes       [NumTLSResults]int64
	Dropped          int64 // ClientHellos refused over --tls-max-startups
	PlaintextRefused int64 // plaintext connections refused under --tls-required
	InFlight         int   // handshakes running now
}

// Why a --proxy-protocol connection was refused, the reason label of
// pocketlua_proxy_refused_total.
const (
	ProxySource    = iota // not from --proxy-from
	ProxyMalformed        // no valid PROXY header
	ProxyTimeout          // no whole header within --proxy-header-timeout
	NumProxyRefusals
)

// ProxyRefusalNames are the reason label values, in order.
var ProxyRefusalNames = [NumProxyRefusals]string{"source", "malformed", "timeout"}

// ProxyCounters are one worker's PROXY protocol counters.
type ProxyCounters struct {
	Refused [NumProxyRefusals]int64
}

// TLSInfo is what conn.tls shows of a TLS connection.
type TLSInfo struct {
	Version    string // "TLS 1.3"
	Cipher     string // "TLS_AES_128_GCM_SHA256"
	ServerName string // SNI, "" when the client sent none
	ALPN       string // "" when none was agreed
	Resumed    bool   // the handshake resumed an earlier session
	Peer       *TLSPeer
}

// TLSPeer is the client certificate's leaf, when one was given.
type TLSPeer struct {
	Subject, Issuer   string
	NotAfter          int64 // Unix seconds
	FingerprintSHA256 string
}

// TLSConn is implemented by connections that may speak TLS; TLS is nil on
// plaintext. A Conn without it is plaintext.
type TLSConn interface {
	TLS() *TLSInfo
	// StartTLS makes the next input a ClientHello: the connection becomes
	// TLS in place.
	StartTLS(o StartTLSOptions) error
}

// StartTLSOptions are conn:start_tls's.
type StartTLSOptions struct {
	Leftover string // input already read that belongs to the handshake
	// RequireResumption refuses a handshake that does not resume a
	// session this server issued (FTPS data connections).
	RequireResumption bool
}

// TLSServer is implemented by servers that may hold a certificate.
type TLSServer interface {
	// HasTLS reports whether conn:start_tls can work (--tls-cert given).
	HasTLS() bool
}

// ClientTLS are server.connect's TLS options.
type ClientTLS struct {
	ServerName string // verified name and SNI; default: host
	CA         string // PEM bundle to verify against instead of the system roots
	Cert, Key  string // a client certificate
	Insecure   bool   // skip verification (tests only)
}

// TLSBinder is implemented by servers that can serve TLS on a script's
// listener (socket_bind's tls option).
type TLSBinder interface {
	SocketBindTLS(host string, port int, class *lua.LTable) (Listener, error)
}

// TLSConnector is implemented by servers that can connect out over TLS.
type TLSConnector interface {
	ConnectTLS(host string, port int, class *lua.LTable, timeout time.Duration, opts *ClientTLS) (*lua.LTable, error)
}

// clientTLSOptions reads server.connect's tls options; nil when tls is
// not asked for.
func clientTLSOptions(L *lua.LState, opts *lua.LTable) *ClientTLS {
	if opts == nil || !lua.LVAsBool(opts.RawGetString("tls")) {
		return nil
	}
	o := &ClientTLS{}
	str := func(name string, dst *string) {
		switch v := opts.RawGetString(name).(type) {
		case lua.LString:
			*dst = string(v)
		case *lua.LNilType:
		default:
			L.RaiseError("connect: %s must be a string, got %s", name, v.Type())
		}
	}
	str("server_name", &o.ServerName)
	str("ca", &o.CA)
	str("cert", &o.Cert)
	str("key", &o.Key)
	o.Insecure = lua.LVAsBool(opts.RawGetString("insecure"))
	if (o.Cert == "") != (o.Key == "") {
		L.RaiseError("connect: cert and key go together")
	}
	return o
}

// connStartTLS is conn:start_tls([opts]).
func connStartTLS(L *lua.LState) int {
	c := checkConn(L)
	var o StartTLSOptions
	if opts := L.OptTable(2, nil); opts != nil {
		switch v := opts.RawGetString("leftover").(type) {
		case lua.LString:
			o.Leftover = string(v)
		case *lua.LNilType:
		default:
			L.ArgError(2, "leftover must be a string")
		}
		switch v := opts.RawGetString("require_resumption").(type) {
		case lua.LBool:
			o.RequireResumption = bool(v)
		case *lua.LNilType:
		default:
			L.ArgError(2, "require_resumption must be a boolean")
		}
	}
	tc, ok := c.(TLSConn)
	if !ok {
		L.RaiseError("start_tls: this connection cannot speak TLS")
	}
	if err := tc.StartTLS(o); err != nil {
		L.RaiseError("start_tls: %s", err.Error())
	}
	return 0
}

// tlsTable is conn.tls: nil on plaintext.
func tlsTable(L *lua.LState, c Conn) lua.LValue {
	tc, ok := c.(TLSConn)
	if !ok {
		return lua.LNil
	}
	info := tc.TLS()
	if info == nil {
		return lua.LNil
	}
	t := L.CreateTable(0, 5)
	t.RawSetString("version", lua.LString(info.Version))
	t.RawSetString("cipher", lua.LString(info.Cipher))
	t.RawSetString("server_name", lua.LString(info.ServerName))
	t.RawSetString("resumed", lua.LBool(info.Resumed))
	t.RawSetString("alpn", lua.LString(info.ALPN))
	if p := info.Peer; p != nil {
		pt := L.CreateTable(0, 4)
		pt.RawSetString("subject", lua.LString(p.Subject))
		pt.RawSetString("issuer", lua.LString(p.Issuer))
		pt.RawSetString("not_after", lua.LNumber(p.NotAfter))
		pt.RawSetString("fingerprint_sha256", lua.LString(p.FingerprintSHA256))
		t.RawSetString("peer", pt)
	}
	return t
}
