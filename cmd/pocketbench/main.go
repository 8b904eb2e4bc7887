// Command pocketbench is pocketlua's load generator: echo throughput and
// latency, idle-connection memory, and connection setup rate, against any
// RFC 6455 or raw TCP echo server on loopback, and pub/sub fan-out
// (pocketlua or Centrifuge). See README.md.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
