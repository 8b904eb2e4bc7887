package sandbox

import (
	"errors"

	lua "github.com/yuin/gopher-lua"
)

// NewState opens the standard libraries with sizes chosen for many
// small handler calls: a modest call stack (deep recursion fails with a Lua
// error), a data stack that grows on demand up to a bound.
func NewState() *lua.LState {
	return lua.NewState(lua.Options{
		CallStackSize:       200,
		RegistrySize:        1024 * 4,
		RegistryMaxSize:     1024 * 256,
		RegistryGrowStep:    1024,
		MinimizeStackMemory: true,
	})
}

// ErrorText splits a Lua error into its message (with file:line) and traceback.
func ErrorText(err error) (msg, trace string) {
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		return ae.Object.String(), ae.StackTrace
	}
	return err.Error(), ""
}
