package main

import (
	"io"
	"testing"
)

// TestBrokerNoneIsNoBroker: --broker none, the default the help names,
// means the workers of this process only, as no flag does.
func TestBrokerNoneIsNoBroker(t *testing.T) {
	for _, args := range [][]string{nil, {"--broker", "none"}} {
		_, o, err := parseFlags(args, io.Discard)
		if err != nil || o.brokerURL != "" {
			t.Errorf("%v: broker %q, err %v; want none", args, o.brokerURL, err)
		}
	}
	if _, o, err := parseFlags([]string{"--broker", "nats://127.0.0.1:4222"}, io.Discard); err != nil || o.brokerURL != "nats://127.0.0.1:4222" {
		t.Errorf("a NATS URL: broker %q, err %v", o.brokerURL, err)
	}
}
