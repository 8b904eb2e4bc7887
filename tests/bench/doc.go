// Package bench holds the peer echo servers that tests/bench/compare runs
// beside pocketlua. It is its own module so the product's go.mod does not
// depend on them.
package bench
