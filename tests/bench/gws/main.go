// Command gws is an echo server on github.com/lxzan/gws.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/lxzan/gws"
)

type echo struct{ gws.BuiltinEventHandler }

func (echo) OnMessage(socket *gws.Conn, message *gws.Message) {
	defer message.Close()
	socket.WriteMessage(message.Opcode, message.Bytes())
}

func main() {
	addr := flag.String("l", "127.0.0.1:9002", "listen address")
	flag.Parse()
	up := gws.NewUpgrader(echo{}, &gws.ServerOption{ReadMaxPayloadSize: 64 << 20, CheckUtf8Enabled: true})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		socket, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		go socket.ReadLoop()
	})
	log.Printf("gws echo listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
