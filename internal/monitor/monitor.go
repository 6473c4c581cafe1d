// Package monitor is patchbay serve's HTTP listener for operators: liveness
// (/healthz), readiness (/readyz), Prometheus metrics (/metrics) and, with
// WithDashboard, the live dashboard at / (package internal/dashboard).
package monitor

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/patchbay/patchbay/internal/router"
)

// AddrDefault is where patchbay serve listens for health checks and scrapes.
const AddrDefault = "127.0.0.1:8080"

// Router is what the listener reads of a router.
type Router interface {
	prometheus.Collector
	Status() router.Status
}

// Option adds to the listener.
type Option func(*http.ServeMux)

// WithDashboard serves h at / and every path the listener does not serve itself
// (/healthz, /readyz and /metrics keep their handlers).
func WithDashboard(h http.Handler) Option {
	return func(mux *http.ServeMux) { mux.Handle("/", h) }
}

// Handler serves /healthz, /readyz and /metrics for r. The metrics registry holds
// r's metrics and the Go runtime's and process's.
func Handler(r Router, opts ...Option) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(r, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { ready(w, r.Status()) })
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	for _, o := range opts {
		o(mux)
	}
	return mux
}

// Readiness is the body of /readyz.
type Readiness struct {
	router.Status
	// Reason says why the router is not ready (on 503 only).
	Reason string `json:"reason,omitempty"`
}

// ready answers 200 while the router would answer a command (active, or a standby
// ready to take over, connected to the broker), 503 with the reason otherwise.
func ready(w http.ResponseWriter, s router.Status) {
	body := Readiness{Status: s}
	code := http.StatusOK
	if !s.Ready() {
		code = http.StatusServiceUnavailable
		switch {
		case s.Broker != "connected":
			body.Reason = "the broker connection is " + s.Broker
		case s.State == router.StateFailed:
			body.Reason = "the router failed: " + s.Error
		default:
			body.Reason = "the router is " + string(s.State)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}
