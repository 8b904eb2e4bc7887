package bindings

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	lua "github.com/yuin/gopher-lua"
)

// fsLoader: the `fs` module, what Lua's io and os lack for serving files:
// stat, lstat, list, realpath, mkdir, create, remove. Each is one system call (or a
// few) on the loop's thread, like io.open. Failures return nil, the error
// text and a short errno name ("ENOENT", "EACCES", ...), like io.open.
func fsLoader(L *lua.LState) int {
	L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"stat":     func(L *lua.LState) int { return fsStat(L, os.Stat) },
		"lstat":    func(L *lua.LState) int { return fsStat(L, os.Lstat) },
		"list":     fsList,
		"realpath": fsRealpath,
		"mkdir":    fsMkdir,
		"create":   fsCreate,
		"remove":   fsRemove,
	}))
	return 1
}

// fsStat: fs.stat(path) follows symlinks, fs.lstat(path) does not. The
// table has size, mtime (Unix seconds), mode (permission bits), perm
// ("rwxr-xr-x"), is_dir, is_file (regular), is_link.
func fsStat(L *lua.LState, stat func(string) (fs.FileInfo, error)) int {
	fi, err := stat(L.CheckString(1))
	if err != nil {
		return pushFSError(L, err)
	}
	t := L.CreateTable(0, 7)
	t.RawSetString("size", lua.LNumber(fi.Size()))
	t.RawSetString("mtime", lua.LNumber(fi.ModTime().Unix()))
	t.RawSetString("mode", lua.LNumber(fi.Mode().Perm()))
	t.RawSetString("perm", lua.LString(fi.Mode().Perm().String()[1:]))
	t.RawSetString("is_dir", lua.LBool(fi.IsDir()))
	t.RawSetString("is_file", lua.LBool(fi.Mode().IsRegular()))
	t.RawSetString("is_link", lua.LBool(fi.Mode()&fs.ModeSymlink != 0))
	L.Push(t)
	return 1
}

// fsList: fs.list(dir) returns the names in dir, sorted, without . and ..
func fsList(L *lua.LState) int {
	f, err := os.Open(L.CheckString(1))
	if err != nil {
		return pushFSError(L, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return pushFSError(L, err)
	}
	slices.Sort(names)
	t := L.CreateTable(len(names), 0)
	for _, n := range names {
		t.Append(lua.LString(n))
	}
	L.Push(t)
	return 1
}

// fsRealpath: fs.realpath(path) is the absolute path with every symlink,
// "." and ".." resolved, like realpath(3): ".." applies to where a symlink
// led, not to the text before it. The path must exist.
func fsRealpath(L *lua.LState) int {
	p := L.CheckString(1)
	var err error
	if !filepath.IsAbs(p) { // not filepath.Abs: it would clean "link/.." away unresolved
		var wd string
		if wd, err = os.Getwd(); err == nil {
			p = wd + string(filepath.Separator) + p
		}
	}
	if err == nil {
		p, err = filepath.EvalSymlinks(p)
	}
	if err != nil {
		return pushFSError(L, err)
	}
	L.Push(lua.LString(p))
	return 1
}

// fsMkdir: fs.mkdir(path[, mode]) makes one folder (mode 0755 by default,
// less the umask); true on success.
func fsMkdir(L *lua.LState) int {
	mode := L.OptInt(2, 0o755)
	if err := os.Mkdir(L.CheckString(1), fs.FileMode(mode)&fs.ModePerm); err != nil {
		return pushFSError(L, err)
	}
	L.Push(lua.LTrue)
	return 1
}

// fsCreate: fs.create(path[, mode]) makes an empty file that must not
// exist yet (mode 0644 by default, less the umask: io.open would make it
// 0600); true on success, nil, err, "EEXIST" if it is there.
func fsCreate(L *lua.LState) int {
	mode := L.OptInt(2, 0o644)
	f, err := os.OpenFile(L.CheckString(1), os.O_WRONLY|os.O_CREATE|os.O_EXCL, fs.FileMode(mode)&fs.ModePerm)
	if err != nil {
		return pushFSError(L, err)
	}
	f.Close()
	L.Push(lua.LTrue)
	return 1
}

// fsRemove: fs.remove(path) removes a file or an empty folder; true on success.
func fsRemove(L *lua.LState) int {
	if err := os.Remove(L.CheckString(1)); err != nil {
		return pushFSError(L, err)
	}
	L.Push(lua.LTrue)
	return 1
}

// pushFSError returns nil, the error text and the errno's name.
func pushFSError(L *lua.LState, err error) int {
	L.Push(lua.LNil)
	L.Push(lua.LString(err.Error()))
	L.Push(lua.LString(errnoName(err)))
	return 3
}

var errnoNames = map[syscall.Errno]string{
	syscall.ENOENT:       "ENOENT",
	syscall.EACCES:       "EACCES",
	syscall.EPERM:        "EPERM",
	syscall.EEXIST:       "EEXIST",
	syscall.ENOTDIR:      "ENOTDIR",
	syscall.EISDIR:       "EISDIR",
	syscall.ENOTEMPTY:    "ENOTEMPTY",
	syscall.ELOOP:        "ELOOP",
	syscall.ENAMETOOLONG: "ENAMETOOLONG",
	syscall.ENOSPC:       "ENOSPC",
	syscall.EROFS:        "EROFS",
	syscall.EINVAL:       "EINVAL",
}

func errnoName(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if n, ok := errnoNames[errno]; ok {
			return n
		}
		return "EIO"
	}
	return "EIO"
}
