package sshd

import (
	"errors"
	"io"
	"os"
	"path"
	"strings"

	"github.com/pkg/sftp"
)

// sftpRoot is where an SFTP session may go: an os.Root, so "..",
// absolute paths and symlinks cannot lead out of it.
type sftpRoot struct {
	dir   string
	write bool
}

// ServeSFTP serves the sftp subsystem on this channel from dir; call it
// from the loop while answering the subsystem request. Read-only unless
// write.
func (ch *Channel) ServeSFTP(dir string, write bool) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return errors.New(dir + " is not a folder")
	}
	ch.mu.Lock()
	ch.sftp = &sftpRoot{dir: dir, write: write}
	ch.mu.Unlock()
	return nil
}

func (ch *Channel) serveSFTP(r *sftpRoot) {
	status := 0
	root, err := os.OpenRoot(r.dir)
	if err != nil {
		status = 1
	} else {
		fs := &rootFS{root: root, write: r.write}
		srv := sftp.NewRequestServer(ch.ch, sftp.Handlers{FileGet: fs, FilePut: fs, FileCmd: fs, FileList: fs})
		if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
			status = 1
		}
		root.Close()
	}
	ch.finish(status)
}

// rootFS implements pkg/sftp's handlers over an os.Root.
type rootFS struct {
	root  *os.Root
	write bool
}

// rel turns the client's path (absolute within the session) into a name
// relative to the root.
func rel(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

func (f *rootFS) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	return f.root.Open(rel(r.Filepath))
}

func (f *rootFS) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	if !f.write {
		return nil, sftp.ErrSSHFxPermissionDenied
	}
	flags := os.O_WRONLY
	pf := r.Pflags()
	if pf.Creat {
		flags |= os.O_CREATE
	}
	if pf.Trunc {
		flags |= os.O_TRUNC
	}
	if pf.Excl {
		flags |= os.O_EXCL
	}
	if pf.Append {
		flags |= os.O_APPEND
	}
	return f.root.OpenFile(rel(r.Filepath), flags, 0o644)
}

func (f *rootFS) Filecmd(r *sftp.Request) error {
	if !f.write {
		return sftp.ErrSSHFxPermissionDenied
	}
	name := rel(r.Filepath)
	switch r.Method {
	case "Setstat":
		return f.setstat(name, r)
	case "Rename", "PosixRename":
		return f.root.Rename(name, rel(r.Target))
	case "Rmdir", "Remove":
		return f.root.Remove(name)
	case "Mkdir":
		return f.root.Mkdir(name, 0o755)
	}
	// Symlink and Link: refused; a link is a way to name what lies outside.
	return sftp.ErrSSHFxOpUnsupported
}

func (f *rootFS) setstat(name string, r *sftp.Request) error {
	attrs := r.Attributes()
	flags := r.AttrFlags()
	if flags.Size {
		file, err := f.root.OpenFile(name, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		err = file.Truncate(int64(attrs.Size))
		file.Close()
		if err != nil {
			return err
		}
	}
	if flags.Permissions {
		if err := f.root.Chmod(name, attrs.FileMode()&os.ModePerm); err != nil {
			return err
		}
	}
	if flags.Acmodtime {
		if err := f.root.Chtimes(name, attrs.AccessTime(), attrs.ModTime()); err != nil {
			return err
		}
	}
	return nil
}

func (f *rootFS) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	name := rel(r.Filepath)
	switch r.Method {
	case "List":
		dir, err := f.root.Open(name)
		if err != nil {
			return nil, err
		}
		defer dir.Close()
		infos, err := dir.Readdir(-1)
		if err != nil {
			return nil, err
		}
		return listerAt(infos), nil
	case "Stat":
		st, err := f.root.Stat(name)
		if err != nil {
			return nil, err
		}
		return listerAt{st}, nil
	case "Readlink":
		return nil, sftp.ErrSSHFxOpUnsupported
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

// Lstat: the entry itself, not what a symlink names.
func (f *rootFS) Lstat(r *sftp.Request) (sftp.ListerAt, error) {
	st, err := f.root.Lstat(rel(r.Filepath))
	if err != nil {
		return nil, err
	}
	return listerAt{st}, nil
}

// RealPath keeps paths virtual: "/" is the root.
func (f *rootFS) RealPath(p string) (string, error) { return path.Clean("/" + p), nil }

type listerAt []os.FileInfo

func (l listerAt) ListAt(out []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if off+int64(n) >= int64(len(l)) {
		return n, io.EOF
	}
	return n, nil
}
