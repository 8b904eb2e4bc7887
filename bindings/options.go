package bindings

import (
	"errors"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"

	"pocketlua/ws"
)

// UpgradeOptions are conn:upgrade's options, decoded from the script's table.
type UpgradeOptions struct {
	MaxMessage   int64         // message limit; 0 or above the server's --max-message: the flag
	MaxFrame     int64         // frame limit; 0 or above the server's --max-frame: the flag
	PingInterval time.Duration // how often to ping; 0: never
	IdleTimeout  time.Duration // close a peer silent this long (1001); 0: never
	Deflate      *Deflate      // permessage-deflate as agreed; nil: no compression
	SSH          *SSHOptions   // conn:upgrade("ssh", ...) only
}

// SSHOptions are conn:upgrade("ssh", opts)'s: what ssh.lua passes from
// its class fields. Zero numbers take the engine's defaults.
type SSHOptions struct {
	HostKeys         []string // host key files; none: the generated ed25519 key
	MaxAuthTries     int
	MaxSessions      int
	AuthFailureDelay float64 // seconds
}

// decodeSSHOptions reads host_keys (a list of file names), max_auth_tries,
// max_sessions and auth_failure_delay (numbers >= 0).
func decodeSSHOptions(t *lua.LTable) (*UpgradeOptions, error) {
	o := &SSHOptions{}
	if t == nil {
		return &UpgradeOptions{SSH: o}, nil
	}
	var err error
	if keys, ok := t.RawGetString("host_keys").(*lua.LTable); ok {
		keys.ForEach(func(_, v lua.LValue) {
			if str, ok := v.(lua.LString); ok {
				o.HostKeys = append(o.HostKeys, string(str))
			} else if err == nil {
				err = errors.New("option host_keys must be a list of file names")
			}
		})
	}
	num := func(name string) float64 {
		v := t.RawGetString(name)
		if v == lua.LNil {
			return 0
		}
		n, ok := v.(lua.LNumber)
		if !ok || n < 0 {
			if err == nil {
				err = fmt.Errorf("option %s must be a number >= 0", name)
			}
			return 0
		}
		return float64(n)
	}
	o.MaxAuthTries = int(num("max_auth_tries"))
	o.MaxSessions = int(num("max_sessions"))
	o.AuthFailureDelay = num("auth_failure_delay")
	if err != nil {
		return nil, err
	}
	return &UpgradeOptions{SSH: o}, nil
}

// Deflate is the deflate option: the parameters ws.negotiate_deflate agreed
// and the server's own choices.
type Deflate struct {
	Params  ws.DeflateParams
	Level   int // compression level 1-9; 0: the library's default
	MinSize int // shorter messages are sent uncompressed
}

// DefaultCompressMinSize is deflate.min_size when the option is absent:
// shorter messages gain little (and may grow) when compressed.
const DefaultCompressMinSize = 64

// decodeUpgradeOptions reads max_message, max_frame, ping_interval,
// idle_timeout (positive numbers; the times in seconds) and deflate. The
// first bad option is the error.
func decodeUpgradeOptions(t *lua.LTable) (*UpgradeOptions, error) {
	if t == nil {
		return nil, nil
	}
	var err error
	positive := func(name string) float64 {
		v := t.RawGetString(name)
		if v == lua.LNil || err != nil {
			return 0
		}
		n, ok := v.(lua.LNumber)
		if !ok || n <= 0 {
			err = fmt.Errorf("option %s must be a positive number", name)
			return 0
		}
		return float64(n)
	}
	o := &UpgradeOptions{
		MaxMessage:   int64(min(positive("max_message"), 1<<62)),
		MaxFrame:     int64(min(positive("max_frame"), 1<<62)),
		PingInterval: seconds(positive("ping_interval")),
		IdleTimeout:  seconds(positive("idle_timeout")),
	}
	if err != nil {
		return nil, err
	}
	if o.Deflate, err = decodeDeflate(t.RawGetString("deflate")); err != nil {
		return nil, err
	}
	return o, nil
}

// seconds converts without overflowing: longer than a century is a century.
func seconds(s float64) time.Duration {
	return time.Duration(min(s, 100*365*24*3600) * float64(time.Second))
}

// decodeDeflate reads the deflate option: nil, or a table with the agreed
// parameters (server_no_context_takeover, client_no_context_takeover,
// server_max_window_bits, client_max_window_bits) and the server's choices
// (level, min_size).
func decodeDeflate(v lua.LValue) (*Deflate, error) {
	if v == lua.LNil {
		return nil, nil
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("option deflate must be a table (the parameters ws.negotiate_deflate returned)")
	}
	var err error
	flag := func(name string) bool {
		switch x := t.RawGetString(name).(type) {
		case lua.LBool:
			return bool(x)
		case *lua.LNilType:
		default:
			if err == nil {
				err = fmt.Errorf("option deflate.%s must be a boolean", name)
			}
		}
		return false
	}
	integer := func(name string, lo, hi, def int) int {
		x := t.RawGetString(name)
		if x == lua.LNil {
			return def
		}
		n, ok := x.(lua.LNumber)
		if !ok || float64(n) != float64(int(n)) || int(n) < lo || int(n) > hi {
			if err == nil {
				err = fmt.Errorf("option deflate.%s must be an integer from %d to %d", name, lo, hi)
			}
			return def
		}
		return int(n)
	}
	d := &Deflate{
		Params: ws.DeflateParams{
			ServerNoContextTakeover: flag("server_no_context_takeover"),
			ClientNoContextTakeover: flag("client_no_context_takeover"),
			ServerMaxWindowBits:     integer("server_max_window_bits", 8, 15, 15),
			ClientMaxWindowBits:     integer("client_max_window_bits", 8, 15, 15),
		},
		Level:   integer("level", 1, 9, 0),
		MinSize: integer("min_size", 0, 1<<31-1, DefaultCompressMinSize),
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}
