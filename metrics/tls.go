package metrics

import "github.com/prometheus/client_golang/prometheus"

// The TLS series, apart from the others so they read as one block.
var (
	descTLSHandshakes = newDesc("tls_handshakes_total", "TLS handshakes on the --listen ports, by result.", "result")
	descTLSDropped    = newDesc("tls_handshakes_dropped_total", "ClientHellos refused at once over --tls-max-startups.")
	descTLSPlaintext  = newDesc("tls_plaintext_refused_total", "Plaintext connections refused under --tls-required.")
	descTLSInFlight   = newDesc("tls_handshakes_in_flight", "TLS handshakes running now (each holds a goroutine).")
	descProxyRefused  = newDesc("proxy_refused_total", "Connections refused under --proxy-protocol, by reason.", "reason")
)

func describeTLS(ch chan<- *prometheus.Desc) {
	ch <- descTLSHandshakes
	ch <- descTLSDropped
	ch <- descTLSPlaintext
	ch <- descTLSInFlight
	ch <- descProxyRefused
}

func collectTLS(ch chan<- prometheus.Metric, s *Sample, worker string) {
	counts(ch, descTLSHandshakes, s.TLSHandshakes, worker)
	ch <- counter(descTLSDropped, float64(s.TLSDropped), worker)
	ch <- counter(descTLSPlaintext, float64(s.TLSPlaintextRefused), worker)
	ch <- gauge(descTLSInFlight, float64(s.TLSInFlight), worker)
	counts(ch, descProxyRefused, s.ProxyRefused, worker)
}
