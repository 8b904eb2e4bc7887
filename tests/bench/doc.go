// Package bench holds the peer echo servers that tests/bench/compare runs
// beside pocketlua (gws also over TLS for tls_compare.sh, beside nginx/),
// and the Centrifuge node of tests/bench/fanout.sh. It is
// its own module so the product's go.mod does not depend on them.
package bench
