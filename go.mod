module pocketlua

go 1.26.8

require (
	github.com/gorilla/websocket v1.5.3
	github.com/spf13/pflag v1.1.0
	github.com/yuin/gopher-lua v1.1.2
	golang.org/x/sys v0.50.0
)

require github.com/fsnotify/fsnotify v1.10.1 // indirect
