package natsserver_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/internal/natsserver"
)

// startFailsFast bounds how long a failed start may take: it must not wait for the
// server to become ready.
const startFailsFast = 5 * time.Second

// Each usual start-up failure is reported at once, in words.
func TestStartErrors(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { busy.Close() })
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))

	for _, c := range []struct {
		name, listen, dir, want string
	}{
		{"port in use", busy.Addr().String(), t.TempDir(), "nats listen address " + busy.Addr().String() + " is already in use"},
		{"no port", "127.0.0.1", t.TempDir(), `nats listen address "127.0.0.1": want host:port`},
		{"port not a number", "127.0.0.1:http2", t.TempDir(), `port "http2" is not a number`},
		{"port out of range", "127.0.0.1:70000", t.TempDir(), "port 70000 is out of range"},
		{"host not here", "192.0.2.1:4222", t.TempDir(), "nats listen address 192.0.2.1:4222 cannot be listened on"},
		{"store dir under a file", "127.0.0.1:-1", filepath.Join(file, "store"), "nats store dir " + filepath.Join(file, "store") + " cannot be created"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			ns, err := natsserver.Start(natsserver.Config{Listen: c.listen, StoreDir: c.dir, ReadyTimeout: time.Minute})
			if ns != nil {
				ns.Shutdown()
			}
			require.ErrorContains(t, err, c.want)
			require.Less(t, time.Since(began), startFailsFast)
		})
	}
}

// Port 0 picks a free port like -1 (for nats-server 0 would mean 4222).
func TestStartPortZeroPicksAFreePort(t *testing.T) {
	t.Parallel()
	ns, err := natsserver.Start(natsserver.Config{Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	_, port, err := net.SplitHostPort(ns.Addr().String())
	require.NoError(t, err)
	require.NotEqual(t, "4222", port)
	require.NotEqual(t, "0", port)
}
