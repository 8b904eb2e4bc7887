package engine

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchDebounce coalesces an editor's burst of writes into one reload.
const watchDebounce = 25 * time.Millisecond

// watcher reloads the server when a .lua file changes in a folder of the
// main script, of a -I path, or of a loaded project module. It watches
// folders, not files, so editors that replace a file by rename are seen.
type watcher struct {
	srv  *Server
	fw   *fsnotify.Watcher
	dirs map[string]bool // touched only on the loop goroutine
	done chan struct{}
}

func (s *Server) startWatcher() error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	w := &watcher{srv: s, fw: fw, dirs: make(map[string]bool), done: make(chan struct{})}
	s.watcher = w
	if err := w.update(); err != nil {
		fw.Close()
		return err
	}
	go w.run()
	return nil
}

// update adds the folders of every file the current version loaded.
func (w *watcher) update() error {
	dirs := append([]string(nil), w.srv.cfg.LuaPath...)
	for _, f := range w.srv.WatchedFiles() {
		dirs = append(dirs, filepath.Dir(f))
	}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil || w.dirs[abs] {
			continue
		}
		if err := w.fw.Add(abs); err != nil {
			return err
		}
		w.dirs[abs] = true
	}
	return nil
}

func (w *watcher) run() {
	defer close(w.done)
	var fire <-chan time.Time
	var timer *time.Timer
	for {
		select {
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			if !strings.HasSuffix(ev.Name, ".lua") || !ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename) {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(watchDebounce)
			} else {
				timer.Reset(watchDebounce)
			}
			fire = timer.C
		case <-fire:
			fire = nil
			w.srv.loop.Post(func() {
				if w.srv.reload("watch") == nil {
					if err := w.update(); err != nil {
						w.srv.log.Warn("watch: cannot watch a module folder", "err", err)
					}
				}
			})
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			w.srv.log.Warn("watch", "err", err)
		}
	}
}

func (w *watcher) close() {
	w.fw.Close()
	<-w.done
}
