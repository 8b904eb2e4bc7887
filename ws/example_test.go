package ws_test

import (
	"fmt"

	"pocketlua/ws"
)

// The engine's read loop: feed each read to Decode until it is used up.
func ExampleDecoder_Decode() {
	// Two reads from a client: a masked "Hello" text frame (RFC 6455 §5.7)
	// cut in the middle, then a ping and a close frame.
	reads := [][]byte{
		{0x81, 0x85, 0x37, 0xfa, 0x21},
		{0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
			0x89, 0x80, 0, 0, 0, 0,
			0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8},
	}
	var d ws.Decoder
	var out []byte
	for _, p := range reads {
		for len(p) > 0 {
			n, ev, err := d.Decode(p)
			p = p[n:]
			if err != nil {
				ce := err.(*ws.CloseError)
				out = ws.AppendClose(out, ce.Code, ce.Reason)
				return
			}
			switch ev.Kind {
			case ws.EventMessage:
				fmt.Printf("%v message %q\n", ev.Opcode, ev.Payload)
			case ws.EventPing:
				out = ws.AppendFrame(out, true, ws.OpPong, ev.Payload)
				fmt.Println("ping")
			case ws.EventClose:
				out = ws.AppendClose(out, ev.Code, "")
				fmt.Println("close", ev.Code)
			}
		}
	}
	fmt.Printf("reply % x\n", out)
	// Output:
	// text message "Hello"
	// ping
	// close 1000
	// reply 8a 00 88 02 03 e8
}
