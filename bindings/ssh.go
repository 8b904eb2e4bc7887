package bindings

import (
	lua "github.com/yuin/gopher-lua"
)

const (
	sshChannelType = "pocketlua.ssh_channel"
	sshKeyType     = "pocketlua.ssh_key"
)

// SSHChannel is one session channel of an SSH connection (conn:upgrade
// "ssh"). Output is queued and never blocks the loop.
type SSHChannel interface {
	ID() int64
	// Send queues output (stderr: the extended data stream); false above
	// the high-water mark, and then drain follows.
	Send(data string, stderr bool) bool
	Buffered() int
	// Exit sends the exit status after the queued output and closes.
	Exit(status int)
	Close()
	// ServeSFTP hands the channel to the SFTP server, confined to dir.
	ServeSFTP(dir string, write bool) error
}

// SSHKey is a public key a client offers.
type SSHKey interface {
	Type() string
	Fingerprint() string
	AuthorizedBy(file string) (bool, error)
}

var sshChannelMethods = map[string]lua.LGFunction{
	"send": func(L *lua.LState) int {
		L.Push(lua.LBool(checkSSHChannel(L).Send(L.CheckString(2), false)))
		return 1
	},
	"send_stderr": func(L *lua.LState) int {
		L.Push(lua.LBool(checkSSHChannel(L).Send(L.CheckString(2), true)))
		return 1
	},
	"buffered": func(L *lua.LState) int {
		L.Push(lua.LNumber(checkSSHChannel(L).Buffered()))
		return 1
	},
	"exit": func(L *lua.LState) int {
		ch := checkSSHChannel(L)
		status := L.OptInt(2, 0)
		if status < 0 || status > 255 {
			L.ArgError(2, "exit status must be 0-255")
		}
		ch.Exit(status)
		return 0
	},
	"close": func(L *lua.LState) int { checkSSHChannel(L).Close(); return 0 },
	"sftp": func(L *lua.LState) int {
		ch := checkSSHChannel(L)
		if err := ch.ServeSFTP(L.CheckString(2), L.ToBool(3)); err != nil {
			L.Push(lua.LNil)
			L.Push(lua.LString(err.Error()))
			return 2
		}
		L.Push(lua.LTrue)
		return 1
	},
}

// NewSSHChannel wraps ch in a channel userdata.
func NewSSHChannel(L *lua.LState, ch SSHChannel) *lua.LUserData {
	mt, ok := L.GetTypeMetatable(sshChannelType).(*lua.LTable)
	if !ok {
		mt = L.NewTypeMetatable(sshChannelType)
		methods := L.SetFuncs(L.NewTable(), sshChannelMethods)
		L.SetField(mt, "__index", L.NewFunction(func(L *lua.LState) int {
			ch := checkSSHChannel(L)
			key := L.CheckString(2)
			if key == "id" {
				L.Push(lua.LNumber(ch.ID()))
				return 1
			}
			L.Push(methods.RawGetString(key))
			return 1
		}))
	}
	ud := L.NewUserData()
	ud.Value = ch
	ud.Metatable = mt
	return ud
}

func checkSSHChannel(L *lua.LState) SSHChannel {
	if ch, ok := L.CheckUserData(1).Value.(SSHChannel); ok {
		return ch
	}
	L.ArgError(1, "ssh channel expected")
	return nil
}

// NewSSHKey wraps k in a key userdata: key.type, key.fingerprint,
// key:authorized_by(file).
func NewSSHKey(L *lua.LState, k SSHKey) *lua.LUserData {
	mt, ok := L.GetTypeMetatable(sshKeyType).(*lua.LTable)
	if !ok {
		mt = L.NewTypeMetatable(sshKeyType)
		authorizedBy := L.NewFunction(func(L *lua.LState) int {
			k, ok := L.CheckUserData(1).Value.(SSHKey)
			if !ok {
				L.ArgError(1, "ssh key expected")
			}
			yes, err := k.AuthorizedBy(L.CheckString(2))
			if err != nil {
				L.Push(lua.LFalse)
				L.Push(lua.LString(err.Error()))
				return 2
			}
			L.Push(lua.LBool(yes))
			return 1
		})
		L.SetField(mt, "__index", L.NewFunction(func(L *lua.LState) int {
			k, ok := L.CheckUserData(1).Value.(SSHKey)
			if !ok {
				L.ArgError(1, "ssh key expected")
			}
			switch L.CheckString(2) {
			case "type":
				L.Push(lua.LString(k.Type()))
			case "fingerprint":
				L.Push(lua.LString(k.Fingerprint()))
			case "authorized_by":
				L.Push(authorizedBy)
			default:
				L.Push(lua.LNil)
			}
			return 1
		}))
		L.SetField(mt, "__tostring", L.NewFunction(func(L *lua.LState) int {
			k := L.CheckUserData(1).Value.(SSHKey)
			L.Push(lua.LString(k.Type() + " " + k.Fingerprint()))
			return 1
		}))
	}
	ud := L.NewUserData()
	ud.Value = k
	ud.Metatable = mt
	return ud
}
