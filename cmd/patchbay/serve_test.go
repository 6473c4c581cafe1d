package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The logger writes JSON when asked (and when not on a terminal), readable lines on a
// terminal or when asked for console.
func TestLoggerFormats(t *testing.T) {
	for _, c := range []struct {
		format   string
		terminal bool
		json     bool
	}{
		{"json", true, true}, {"auto", false, true}, {"auto", true, false}, {"console", false, false},
	} {
		var out bytes.Buffer
		log, err := newLogger(&out, c.terminal, "info", c.format)
		require.NoError(t, err)
		log.Info().Str("k", "v").Msg("hello")
		var m map[string]any
		isJSON := json.Unmarshal(out.Bytes(), &m) == nil
		require.Equal(t, c.json, isJSON, "format %s on terminal=%v: %q", c.format, c.terminal, out.String())
		require.Contains(t, out.String(), "hello")
	}
	var out bytes.Buffer
	log, err := newLogger(&out, false, "warn", "json")
	require.NoError(t, err)
	log.Info().Msg("quiet")
	require.Empty(t, out.String(), "below the level")
}

// Bad serve flags are refused with a message naming the flag, before anything starts.
func TestServeFlagErrors(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{"--log-level loud", `--log-level "loud"`},
		{"--log-format xml", `--log-format "xml"`},
		{"--queue-offer-expiry sales", `--queue-offer-expiry "sales": want queue=duration`},
		{"--queue-offer-expiry sales=soon", `--queue-offer-expiry "sales=soon"`},
		{"--queue-offer-expiry sa.les=1s", `"sa.les" is not a valid queue id`},
		{"--offer-expiry -1s", "offer expiry must not be negative"},
		{"--replicas 9", "replicas must be between 1 and 5"},
		{"--retention -1h", "--retention -1h0m0s: must be positive"},
		{"--nats-url nats://127.0.0.1:1 --tls-cert c.pem", "--tls-cert and --tls-key go together"},
	} {
		err := run(context.Background(), &bytes.Buffer{}, append([]string{"serve"}, strings.Fields(c.args)...)...)
		require.ErrorContains(t, err, c.want, c.args)
	}
}

// --pprof puts Go's profiles in front of the listener's own routes, which still answer.
func TestPprofInFrontOfTheListener(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "inner "+r.URL.Path) })
	srv := httptest.NewServer(withPprof(inner))
	defer srv.Close()
	get := func(path string) (int, string) { return httpGet(t, srv.URL+path) }
	code, body := get("/debug/pprof/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "goroutine")
	code, body = get("/debug/pprof/goroutine?debug=1")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "TestPprofInFrontOfTheListener")
	_, body = get("/healthz")
	require.Equal(t, "inner /healthz", body)

	cmd := newRootCmd()
	serve, _, err := cmd.Find([]string{"serve"})
	require.NoError(t, err)
	require.Equal(t, "false", serve.Flags().Lookup("pprof").DefValue, "off unless asked for")
}
