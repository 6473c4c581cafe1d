package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
)

func TestPolicyApplyAndDelete(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	file := filepath.Join(t.TempDir(), "p.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
distributionPolicies:
  - id: fast
    offerExpiresAfterSeconds: 10
    mode: {kind: roundRobin}
queues:
  - id: support
    distributionPolicyId: fast
`), 0o644))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, "policy", "apply", file, "--nats-url", url))
	require.Equal(t, "distributionPolicy fast: revision 1\nqueue support: revision 1\n", out.String())
	out.Reset()
	require.NoError(t, run(ctx, &out, "policy", "apply", file, "--nats-url", url))
	require.Contains(t, out.String(), "queue support: unchanged at revision 1")

	out.Reset()
	err := run(ctx, &out, "policy", "delete", "distributionPolicy", "fast", "--nats-url", url)
	require.ErrorContains(t, err, `used by queue "support"`)
	err = run(ctx, &out, "policy", "delete", "queue", "support", "--revision", "7", "--nats-url", url)
	require.ErrorContains(t, err, "revision 1, not 7")
	require.NoError(t, run(ctx, &out, "policy", "delete", "queue", "support", "--nats-url", url))
	require.Contains(t, out.String(), "queue support: deleted at revision 2")

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("queues: [{id: q, order: sideways}]"), 0o644))
	err = run(ctx, &out, "policy", "apply", bad, "--nats-url", url)
	require.ErrorContains(t, err, "spec/order")
}

// serve --policies applies the file at start and again when it changes; a file that
// does not parse stops serve from starting.
func TestServePoliciesFile(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	file := filepath.Join(t.TempDir(), "p.yaml")
	require.NoError(t, os.WriteFile(file, []byte("queues: [{id: support, order: lifo}]"), 0o644))

	err := run(context.Background(), &bytes.Buffer{}, "serve", "--http", "127.0.0.1:0", "--nats-url", ns.ClientURL(), "--policies", filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorContains(t, err, "--policies")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, &bytes.Buffer{}, "serve", "--http", "127.0.0.1:0", "--nats-url", ns.ClientURL(), "--policies", file, "--log-level", "warn", "--log-format", "json")
	}()
	t.Cleanup(func() { cancel(); <-done })
	c := connect(t, strings.TrimPrefix(ns.ClientURL(), "nats://"))
	register(t, c, "w", "other", 1) // waits for the router
	h := follow(t, c)
	h.waitFor(t, "queue policy applied", func(ev events.Event) bool {
		return ev.Type() == string(events.TypePolicyUpdated) && strings.Contains(string(ev.Data()), `"order":"lifo"`)
	})
	require.NoError(t, os.WriteFile(file, []byte("queues: [{id: support, order: fifo}]"), 0o644))
	h.waitFor(t, "queue policy changed", func(ev events.Event) bool {
		return ev.Type() == string(events.TypePolicyUpdated) && strings.Contains(string(ev.Data()), `"order":"fifo"`)
	})
}
