// Package metrics serves Prometheus metrics and health checks on their own
// listener: GET /metrics (the text exposition format, client_golang's
// registry with the process and Go collectors), GET /healthz and GET
// /readyz. It reads counters the loops already keep: each scrape asks
// every worker for a Sample on its own loop, so nothing on the data path
// takes a lock. Scripts' own metrics live in a Registry shared by every
// worker. It imports nothing of the project; the command hands it the
// workers (docs/METRICS.md).
package metrics
