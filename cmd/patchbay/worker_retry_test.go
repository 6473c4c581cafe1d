package main

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// runRouter starts a router on url and returns it; it is stopped when the test ends.
func runRouter(t *testing.T, url string) *router.Router {
	t.Helper()
	return natstest.StartRouter(t, natstest.Connect(t, url), router.Config{})
}

// The demo worker holds an assigned job while the router goes away; it keeps
// resending its complete, longer than --timeout, until a router is back, and then
// closes the job: a router restart does not strand it.
func TestWorkerRunFinishesItsJobThroughARouterRestart(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	url := ns.ClientURL()
	first := runRouter(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	// --work leaves the test the time to stop the router before the complete.
	wout, done, stopWorker := runWorker(ctx, t, "--nats-url", url, "--id", "alice", "--queue", "support",
		"--work", "3s", "--wrap-up", "0", "--timeout", "1s")
	defer stopWorker()
	mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice", "--id", "job-1")
	wout.waitFor(ctx, t, "accepted offer")

	// The router goes away while alice works on job-1.
	require.NoError(t, first.Stop(ctx))
	require.NotContains(t, wout.String(), "completed job", "the router was stopped too late for this test")
	watcher := natstest.Connect(t, url)
	completes := make(chan *nats.Msg, 16)
	sub, err := watcher.ChanSubscribe(events.WorkerReqSubject(events.TypeJobComplete, "alice"), completes)
	require.NoError(t, err)
	require.NoError(t, watcher.Flush())
	// Each attempt waits 2s for an answer (the watcher listens and says nothing): a
	// second attempt is a resend past --timeout.
	for i := 0; i < 2; i++ {
		select {
		case <-completes:
		case <-ctx.Done():
			t.Fatalf("the worker did not resend its complete:\n%s", wout.String())
		}
	}
	require.NoError(t, sub.Unsubscribe())
	runRouter(t, url)

	j := jobOf(t, waitEvent(ctx, t, url, events.JobSubject("support", "job-1", events.TypeJobClosed), nil))
	assert.Equal(t, "Resolved", j.DispositionCode)
	wout.waitFor(ctx, t, "closed job job-1")
	stopWorker()
	waitStopped(ctx, t, wout, done)
	assert.Contains(t, wout.String(), "deregistered; 1 jobs closed")
}

// A worker stopped (Ctrl-C) while the router is down cuts its work short and still
// completes and closes its job once a router is back, within --timeout.
func TestWorkerRunStoppedWhileTheRouterIsDown(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	url := ns.ClientURL()
	first := runRouter(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	wout, done, stopWorker := runWorker(ctx, t, "--nats-url", url, "--id", "alice", "--queue", "support",
		"--work", "1h", "--wrap-up", "0", "--timeout", testTimeout.String())
	defer stopWorker()
	mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice", "--id", "job-1")
	wout.waitFor(ctx, t, "accepted offer")

	require.NoError(t, first.Stop(ctx))
	watcher := natstest.Connect(t, url)
	completes := make(chan *nats.Msg, 16)
	sub, err := watcher.ChanSubscribe(events.WorkerReqSubject(events.TypeJobComplete, "alice"), completes)
	require.NoError(t, err)
	require.NoError(t, watcher.Flush())

	stopWorker() // Ctrl-C: the work is cut short, the job is completed and closed
	select {
	case <-completes:
	case <-ctx.Done():
		t.Fatalf("the worker sent no complete:\n%s", wout.String())
	}
	require.NoError(t, sub.Unsubscribe())
	runRouter(t, url)

	j := jobOf(t, waitEvent(ctx, t, url, events.JobSubject("support", "job-1", events.TypeJobClosed), nil))
	assert.Equal(t, "Resolved", j.DispositionCode)
	waitStopped(ctx, t, wout, done)
	assert.Contains(t, wout.String(), "deregistered; 1 jobs closed")
}

// waitStopped waits until a worker run (runWorker) has returned, without an error.
func waitStopped(ctx context.Context, t *testing.T, wout *syncBuffer, done chan error) {
	t.Helper()
	select {
	case err := <-done:
		require.NoError(t, err, wout.String())
	case <-ctx.Done():
		t.Fatalf("worker run did not stop:\n%s", wout.String())
	}
}

// runWorker runs `patchbay worker run` with args until stop, and waits until it has
// registered; done gets its result.
func runWorker(ctx context.Context, t *testing.T, args ...string) (out *syncBuffer, done chan error, stop context.CancelFunc) {
	t.Helper()
	wctx, stop := context.WithCancel(ctx)
	out, done = newSyncBuffer(), make(chan error, 1)
	go func() { done <- run(wctx, out, append([]string{"worker", "run"}, args...)...) }()
	out.waitFor(ctx, t, "registered")
	return out, done, stop
}
