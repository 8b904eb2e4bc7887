// Package bench holds the peer echo servers that tests/bench/compare runs
// beside pocketlua, and the Centrifuge node of tests/bench/fanout.sh. It is
// its own module so the product's go.mod does not depend on them.
package bench
