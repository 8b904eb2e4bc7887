// Package sandbox keeps one Lua handler from hurting the server: the
// handler guard (guard.go) interrupts a handler that runs too long or while
// the heap is over its cap, and Install bounds what a single library call
// may build. The guard stops Lua code, but not a Go library function
// that runs for minutes or allocates gigabytes in one call, so the library functions that can do
// that from small inputs are replaced with bounded versions:
//
//   - string.rep, string.format and table.concat refuse a result over
//     --max-string (64 MiB) before allocating it;
//   - string.gsub and string.gmatch of gopher-lua find every match up front
//     (about 100 bytes each) and gsub rebuilds the whole string once per
//     replacement (100,000 replacements took 19 s and 20 GB of garbage).
//     The versions here match in batches, build the result once, stop at
//     --max-string and check the guard between batches;
//   - loadstring, load, loadfile and dofile refuse code nested deeper than
//     --max-syntax-depth: the compiler recurses once per level and a few MB
//     of "{{{{..." overflowed the Go stack, which kills the process;
//   - coroutine.create and coroutine.wrap give the new coroutine the
//     guard's context (see guardContext in guard.go).
//
// Nothing here knows connections or sockets; the engine makes one state
// with NewState, installs the limits and runs every handler between
// Guard.Enter and Guard.Exit.
package sandbox
