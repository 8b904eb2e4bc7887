// Package broker is pub/sub for the engine: topic names and their NATS
// style patterns (topic.go), the message every worker shares with its
// frames encoded once (message.go), and the in-process Hub that carries
// publishes between the workers of one process (hub.go). A Remote broker
// (NATS, Redis) joins hubs of several processes; deliveries enter each
// worker's loop as one posted batch, never a goroutine per message.
package broker
