package engine

import (
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchDebounce coalesces an editor's burst of writes into one reload.
const watchDebounce = 25 * time.Millisecond

// watcher reloads the server when one of the files the current version
// loaded changes: the main script, the modules it required from disk and
// the files it registered with server.watch. It watches their folders, not
// the files, so editors that replace a file by rename are seen; other
// files in those folders (scratch files, backups) are ignored.
type watcher struct {
	srv   *Server
	fw    *fsnotify.Watcher
	dirs  map[string]bool                   // touched only on the loop goroutine
	files atomic.Pointer[map[string]string] // absolute path -> the name to log
	done  chan struct{}
}

func (s *Server) startWatcher() error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	w := &watcher{srv: s, fw: fw, dirs: make(map[string]bool), done: make(chan struct{})}
	s.watcher = w
	if err := w.update(nil); err != nil {
		fw.Close()
		return err
	}
	go w.run()
	return nil
}

// update watches the files the current version loaded, plus extra (the
// files a failed reload read, so fixing one of them reloads again).
func (w *watcher) update(extra []string) error {
	files := make(map[string]string)
	for _, f := range append(append(w.srv.WatchedFiles(), extra...), w.srv.tlsFiles()...) {
		abs, err := filepath.Abs(f)
		if err != nil {
			continue
		}
		files[abs] = f
		dir := filepath.Dir(abs)
		if w.dirs[dir] {
			continue
		}
		if err := w.fw.Add(dir); err != nil {
			return err
		}
		w.dirs[dir] = true
	}
	w.files.Store(&files)
	return nil
}

func (w *watcher) run() {
	defer close(w.done)
	var fire <-chan time.Time
	var timer *time.Timer
	changed := map[string]bool{}
	for {
		select {
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			name, watched := (*w.files.Load())[ev.Name]
			if !watched || !ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename) {
				continue
			}
			changed[name] = true
			if timer == nil {
				timer = time.NewTimer(watchDebounce)
			} else {
				timer.Reset(watchDebounce)
			}
			fire = timer.C
		case <-fire:
			fire = nil
			names := make([]string, 0, len(changed))
			for n := range changed {
				names = append(names, n)
			}
			sort.Strings(names)
			clear(changed)
			w.srv.loop.Post(func() {
				w.srv.log.Info("watch: changed", "files", strings.Join(names, ","))
				if w.srv.onlyTLSFiles(names) {
					w.srv.reloadTLS("watch") // certificates: the script stays
					return
				}
				w.srv.reload("watch")
			})
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			w.srv.log.Warn("watch", "err", err)
		}
	}
}

// refreshWatch points --watch at what the latest load read; tried are
// files of a failed attempt, watched as well.
func (s *Server) refreshWatch(tried []string) {
	if s.watcher == nil {
		return
	}
	if err := s.watcher.update(slices.Clip(tried)); err != nil {
		s.log.Warn("watch: cannot watch a folder", "err", err)
	}
}

func (w *watcher) close() {
	w.fw.Close()
	<-w.done
}
