// Package transport is what lies below the protocols: TLS terminated with
// the stock crypto/tls, driven by the event loop without a goroutine per
// connection. The loop buffers a whole ClientHello (ClientHello), a
// handshake goroutine then runs crypto/tls over an in-memory connection the
// loop feeds (Session), and once the handshake is over the loop decrypts in
// place: Session.Read reports "no bytes yet" as a temporary net.Error,
// which crypto/tls treats as retryable, and is handed one record at a time
// so the library's buffers stay record-sized. Certificates are
// process-wide and reloadable (Certs). No Lua, no sockets.
//
// Goroutines: one per handshake in flight, ending with the handshake; none
// per established connection.
package transport
