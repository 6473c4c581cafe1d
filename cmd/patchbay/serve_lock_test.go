package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
)

// serveOnce runs `patchbay serve` with args in a child process that is expected to
// stop by itself, and returns its output and exit code.
func serveOnce(t *testing.T, args string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), durabilityWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestServeProcess$")
	cmd.Env = append(os.Environ(), "PATCHBAY_SERVE_ARGS="+args)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run patchbay serve %s: %v\n%s", args, err, out)
	}
	require.NoError(t, ctx.Err(), "patchbay serve %s did not stop by itself:\n%s", args, out)
	return string(out), cmd.ProcessState.ExitCode()
}

// A second serve on a data directory in use stops at once, naming the directory and
// the running router's pid, and leaves the running router alone. When the running one
// is killed, the next one starts on the directory at once: the lock went with the
// process, and owning the directory it takes the dead router's lease over without
// waiting for it to run out.
func TestSecondServeOnADataDirInUse(t *testing.T) {
	if testing.Short() {
		t.Skip("starts router processes")
	}
	t.Parallel()
	addr, dir := freeAddr(t), t.TempDir()
	args := fmt.Sprintf("serve --http 127.0.0.1:0 --data-dir %s --nats-listen %s --log-format json --lease-ttl 1m", dir, addr)
	p := startServe(t, args)
	c := connect(t, addr)
	register(t, c, "alice", "q", 1)

	began := time.Now()
	out, code := serveOnce(t, fmt.Sprintf("serve --http 127.0.0.1:0 --data-dir %s --nats-listen %s --log-format json", dir, freeAddr(t)))
	require.Equal(t, 1, code, out)
	require.Contains(t, out, fmt.Sprintf("data directory %s is in use by another process (pid %d)", dir, p.cmd.Process.Pid))
	require.Contains(t, out, "another --data-dir")
	require.NotContains(t, out, "embedded NATS server started", "it stopped before starting a server")
	t.Logf("the second serve stopped after %s", time.Since(began))

	// The running router is untouched.
	createJob(t, c, "j1", "q")
	h := follow(t, c)
	h.waitFor(t, "j1 offered to alice", isType(events.TypeOfferIssued, "j1"))

	// Killed, it leaves no lock, and its lease (a minute long) is taken over at once.
	p.kill(t)
	began = time.Now()
	p = startServe(t, args)
	require.Less(t, time.Since(began), 30*time.Second, "the new router did not wait for the lease to run out")
	require.Contains(t, p.output(), "took over the lease of a router that died")
	createJob(t, c, "j2", "q")
}

// Start-up errors of the embedded server come at once, in words.
func TestServeStartErrors(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { busy.Close() })
	for _, c := range []struct{ args, want string }{
		{"--nats-listen " + busy.Addr().String(), "nats listen address " + busy.Addr().String() + " is already in use"},
		{"--nats-listen 127.0.0.1:70000", "port 70000 is out of range"},
		{"--nats-listen localhost", `nats listen address "localhost": want host:port`},
		{"--data-dir " + filepath.Join(file, "data"), "data directory " + filepath.Join(file, "data") + " cannot be created"},
		{"--retention 0s", "--retention 0s: must be positive"},
		{"--http " + busy.Addr().String(), "--http: listen tcp " + busy.Addr().String()},
	} {
		args := append([]string{"serve", "--http", "127.0.0.1:0", "--log-level", "error", "--log-format", "json",
			"--nats-listen", "127.0.0.1:-1", "--data-dir", t.TempDir()}, strings.Fields(c.args)...)
		began := time.Now()
		err := run(context.Background(), &bytes.Buffer{}, args...)
		require.ErrorContains(t, err, c.want, c.args)
		require.Less(t, time.Since(began), 5*time.Second, c.args)
	}
}

// SIGTERM to a router standing by for the lease stops it cleanly: exit code 0, as for
// an active router, so a supervisor does not count it a failure.
func TestStandbyStopsCleanlyOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts router processes")
	}
	t.Parallel()
	ns := natstest.RunServer(t)
	args := fmt.Sprintf("serve --http 127.0.0.1:0 --nats-url %s --log-format json", ns.ClientURL())
	startServe(t, args)
	standby := spawnServe(t, args)
	standby.waitLog(t, "standing by")
	require.NoError(t, standby.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-standby.exited:
	case <-time.After(durabilityWait):
		t.Fatalf("the standby did not stop:\n%s", standby.output())
	}
	require.Equal(t, 0, standby.cmd.ProcessState.ExitCode(), standby.output())
	require.Contains(t, standby.output(), "stopped before it held the lease")
}
