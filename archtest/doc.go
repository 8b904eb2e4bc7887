// Package archtest has no code: its test reads the import graph with
// go list and fails on an import that breaks the rules docs/ARCHITECTURE.md
// states, so the layout stays the documented one as the code grows.
package archtest
