// Command gws is an echo server on github.com/lxzan/gws. With -cert and
// -key it serves wss through gws's own RunTLS instead of net/http.
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
	certFile := flag.String("cert", "", "TLS certificate (PEM); with -key, serve wss via RunTLS")
	keyFile := flag.String("key", "", "TLS private key (PEM)")
	flag.Parse()
	if *certFile != "" {
		srv := gws.NewServer(echo{}, &gws.ServerOption{ReadMaxPayloadSize: 64 << 20, CheckUtf8Enabled: true})
		log.Printf("gws wss echo listening on %s", *addr)
		log.Fatal(srv.RunTLS(*addr, *certFile, *keyFile))
	}
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
