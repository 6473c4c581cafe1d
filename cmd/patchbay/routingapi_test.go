package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/internal/natstest"
)

func TestRoutingAPIFlagErrors(t *testing.T) {
	token := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(token, []byte("  \n"), 0o600))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--routing-api-token-file", token}, "--routing-api-token-file needs --routing-api"},
		{[]string{"--routing-api", "--http", ""}, `--routing-api needs the HTTP listener`},
		{[]string{"--routing-api", "--routing-api-token-file", token}, "the file is empty"},
		{[]string{"--routing-api", "--routing-api-token-file", token + ".missing"}, "--routing-api-token-file: open"},
	} {
		err := run(context.Background(), &bytes.Buffer{}, append([]string{"serve"}, c.args...)...)
		require.ErrorContains(t, err, c.want, c.args)
	}
}

// serve --routing-api mounts the API next to /healthz, behind the token.
func TestServeRoutingAPI(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	token := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(token, []byte("s3cret\n"), 0o600))
	httpAddr := freeAddr(t)
	stop := serveInBackground(t, "--http", httpAddr, "--nats-url", ns.ClientURL(), "--log-format", "json",
		"--log-level", "warn", "--routing-api", "--routing-api-token-file", token)
	get := func(path, auth string) (int, string) {
		req, err := http.NewRequest("GET", "http://"+httpAddr+path, nil)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	// the listener is up before the router answers its first command
	c := connect(t, strings.TrimPrefix(ns.ClientURL(), "nats://"))
	register(t, c, "alice", "q", 1)
	code, _ := get("/healthz", "")
	require.Equal(t, http.StatusOK, code)
	code, body := get("/routing/workers/nobody?api-version=2023-11-01", "")
	require.Equal(t, http.StatusUnauthorized, code, body)
	code, body = get("/routing/workers/nobody?api-version=2023-11-01", "Bearer s3cret")
	require.Equal(t, http.StatusNotFound, code, body)
	require.Contains(t, body, `"code":"NotFound"`)
	code, body = get("/routing/workers/alice?api-version=2023-11-01", "Bearer s3cret")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"id":"alice"`)
	stop()
}
