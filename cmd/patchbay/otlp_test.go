package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

func TestOTLPOptions(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, c := range []struct {
		endpoint string
		env      map[string]string
		on       bool
		wantErr  string
	}{
		{endpoint: "", on: false},
		{endpoint: "", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, on: true},
		{endpoint: "", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, on: true},
		{endpoint: "localhost:4318", on: true},
		{endpoint: "http://collector:4318", on: true},
		{endpoint: "https://collector.example:443/otlp/v1/traces", on: true},
		{endpoint: "collector", wantErr: "missing port"},
		{endpoint: "collector:0", wantErr: "the port must be 1 to 65535"},
		{endpoint: ":4318", wantErr: "after a host"},
		{endpoint: "grpc://collector:4317", wantErr: "the scheme must be http or https"},
		{endpoint: "http://", wantErr: "no host"},
	} {
		getenv := noEnv
		if c.env != nil {
			getenv = func(k string) string { return c.env[k] }
		}
		_, on, err := otlpOptions(c.endpoint, getenv)
		if c.wantErr != "" {
			require.ErrorContains(t, err, c.wantErr, c.endpoint)
			require.ErrorContains(t, err, "--otlp-endpoint", c.endpoint)
			continue
		}
		require.NoError(t, err, c.endpoint)
		require.Equal(t, c.on, on, "%s %v", c.endpoint, c.env)
	}
	// serve refuses a bad endpoint before it starts anything.
	err := run(context.Background(), &bytes.Buffer{}, "serve", "--otlp-endpoint", "collector")
	require.ErrorContains(t, err, `--otlp-endpoint "collector"`)
}

// collector is an OTLP/HTTP endpoint that keeps the bodies it receives.
type collector struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	if r.URL.Path == "/v1/traces" && r.Method == http.MethodPost {
		c.bodies = append(c.bodies, b)
	}
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func (c *collector) all() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Join(c.bodies, nil)
}

// A router with the exporter serve makes sends its spans to the collector over
// OTLP/HTTP.
func TestOTLPExport(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tp, err := newTracerProvider(ctx, strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	require.NotNil(t, tp)
	defer func() { _ = tp.Shutdown(context.Background()) }()

	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns.ClientURL())
	natstest.StartRouter(t, nc, router.Config{TracerProvider: tp})
	c, err := patchbay.New(nc, patchbay.WithTimeout(30*time.Second))
	require.NoError(t, err)
	_, err = c.CreateJob(ctx, patchbay.JobSpec{JobID: "j1", QueueID: "q", ChannelID: "voice"})
	require.NoError(t, err)
	require.NoError(t, tp.ForceFlush(ctx))
	body := col.all()
	for _, name := range []string{"patchbay.receive", "patchbay.apply", "patchbay.persist", "patchbay.publish", "service.name", "patchbay"} {
		require.True(t, bytes.Contains(body, []byte(name)), "the export has no %s", name)
	}
}
