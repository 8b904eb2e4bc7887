package metrics

import "github.com/prometheus/client_golang/prometheus"

// PubSub is the process's topic and broker counters, read at scrape time
// (docs/METRICS.md). The workers' own topic counters are in Sample.
type PubSub struct {
	Dropped        int64  // deliveries dropped for a worker too far behind, by a full inbound broker queue, or for one subscriber
	BrokerState    string // "none" (no --broker), "connecting", "up" or "down"
	BrokerSent     int64  // messages the broker took
	BrokerReceived int64  // messages from other processes
	BrokerDropped  int64  // publishes dropped: queue full or broker down
}

// BrokerStates are the values of pocketlua_broker_state's state label.
var BrokerStates = []string{"none", "connecting", "up", "down"}

type pubsubCollector struct {
	read                                          func() PubSub
	dropped, state, sent, received, brokerDropped *prometheus.Desc
}

func newPubSubCollector(read func() PubSub) *pubsubCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("pocketlua_"+name, help, labels, nil)
	}
	return &pubsubCollector{
		read:          read,
		dropped:       d("pubsub_dropped_total", "Topic deliveries dropped for a worker too far behind, by a full inbound broker queue, or for a subscriber that could not take them (process)."),
		state:         d("broker_state", "1 for the broker's current state, 0 for the others.", "state"),
		sent:          d("broker_sent_total", "Messages the broker took from this process."),
		received:      d("broker_received_total", "Messages received from other processes through the broker."),
		brokerDropped: d("broker_dropped_total", "Publishes dropped because the broker queue was full or the broker down."),
	}
}

func (c *pubsubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.dropped, c.state, c.sent, c.received, c.brokerDropped} {
		ch <- d
	}
}

func (c *pubsubCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.read()
	ch <- counter(c.dropped, float64(p.Dropped))
	for _, s := range BrokerStates {
		v := 0.0
		if s == p.BrokerState {
			v = 1
		}
		ch <- gauge(c.state, v, s)
	}
	ch <- counter(c.sent, float64(p.BrokerSent))
	ch <- counter(c.received, float64(p.BrokerReceived))
	ch <- counter(c.brokerDropped, float64(p.BrokerDropped))
}
