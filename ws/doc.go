// Package ws is pocketlua's RFC 6455 WebSocket framing core, server side:
// pure Go, with no sockets, no goroutines and no Lua. The engine feeds it
// bytes and writes what it returns.
//
// # Handshake
//
// Given a request head parsed by package httphead, [CheckUpgrade] validates
// it as a WebSocket opening handshake, [Protocols] and [Extensions] list
// the offers, and [HandshakeResponse] builds the 101 answer (using
// [AcceptKey]). Failures are *httphead.HTTPError values whose Response is
// the complete reply to send before closing.
//
// # Reading frames
//
// A [Decoder] turns the client's stream into [Event] values (messages,
// pings, pongs, close) whatever the TCP segmentation. It enforces RFC 6455
// §5 strictly: masking, reserved bits and opcodes, control frame rules,
// fragmentation order, length encoding, close codes, UTF-8 of text messages
// (checked incrementally, failing on the first bad byte) and the
// [Decoder.MaxFrame] and [Decoder.MaxMessage] limits, judged from the
// header before any payload is buffered. A violation is a *[CloseError]
// carrying the close code and reason to send; the Err* variables are the
// complete set, so decoding never allocates an error.
//
// # Writing frames
//
// [AppendFrame], [AppendHeader] (with [HeaderSize], for writev) and
// [AppendClose] append unmasked server frames to a caller's buffer.
// [Mask] is the XOR masking of §5.3; [UTF8Validator] and [ValidUTF8] the
// incremental UTF-8 check.
//
// # Buffer ownership
//
// The read buffer passed to [Decoder.Decode] stays the caller's, but Decode
// unmasks payload bytes in place in it. An event's Payload is a sub-slice
// of that buffer when an unfragmented frame arrived whole (no copy), or of
// the Decoder's own message buffer when the message was fragmented or its
// frame was split across reads; either way it is valid only until the next
// Decode call, so copy what must outlive it. Partial control payloads live
// in a fixed 125-byte array and partial headers in a 14-byte array inside
// the Decoder. The message buffer is reused while it stays at most 64 KiB
// and released after delivering a larger message, so an idle connection
// does not keep a big buffer. The Append functions only append to dst and
// never allocate when dst has room.
package ws
