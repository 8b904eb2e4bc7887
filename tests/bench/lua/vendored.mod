module pocketlua/tests/bench/lua

go 1.26.8

require (
	github.com/yuin/gopher-lua v1.1.2
	pocketlua v0.0.0
)

replace pocketlua => ../../..

// The project's runtime instead of stock v1.1.2 (go test -modfile=vendored.mod).
replace github.com/yuin/gopher-lua => ../../../third_party/gopher-lua
