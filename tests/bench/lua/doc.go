// Package lua benchmarks table-heavy Lua on two runtimes with one source:
// go.mod builds it on stock gopher-lua v1.1.2, vendored.mod (go test
// -modfile=vendored.mod) on the project's copy in third_party/gopher-lua.
// docs/PERFORMANCE.md has the command and the figures.
package lua
