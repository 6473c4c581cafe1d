package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
)

// The demo worker's network drops while a job is offered to it: the offer's event
// never reaches it. When the network is back it reconnects, finds the offer it missed,
// and takes the job to the end.
func TestWorkerRunTakesTheOfferItMissedWhileCutOff(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	url := ns.ClientURL()
	runRouter(t, url)
	proxy := natstest.StartProxy(t, ns.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	defer cancel()

	wout, done, stopWorker := runWorker(ctx, t, "--nats-url", proxy.URL(), "--id", "alice", "--queue", "support",
		"--work", "0", "--wrap-up", "0")
	defer stopWorker()
	proxy.Cut()
	mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice", "--id", "job-1")
	issued := waitEvent(ctx, t, url, events.OfferTypeAll("alice", events.TypeOfferIssued), nil)
	require.NotContains(t, wout.String(), "job-1", "the offer reached the worker through the cut")
	proxy.Restore()

	var o patchbay.Offer
	require.NoError(t, issued.DataAs(&o))
	wout.waitFor(ctx, t, "found offer "+o.OfferID+" for job job-1, missed while away")
	j := jobOf(t, waitEvent(ctx, t, url, events.JobSubject("support", "job-1", events.TypeJobClosed), nil))
	assert.Equal(t, "alice", j.Assignment.WorkerID)
	wout.waitFor(ctx, t, "closed job job-1")
	stopWorker()
	waitStopped(ctx, t, wout, done)
	assert.Contains(t, wout.String(), "deregistered; 1 jobs closed")
}

// A worker restarted mid-job picks its work up where it left it: the job it had
// accepted is completed and closed, the one it had completed is closed, and the offer
// made to it while it was gone is taken.
func TestWorkerRunRestartedResumesItsWork(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	defer cancel()

	// Its earlier run: it took job-a, completed job-b, and then died.
	c, offers := offersOf(t, url, "alice")
	three := 3
	_, err := c.RegisterWorker(ctx, patchbay.WorkerSpec{WorkerID: "alice", Queues: []string{"support"}, TotalCapacity: &three,
		Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1, MaxNumberOfJobs: 3}}})
	require.NoError(t, err)
	accept := func(id string) string {
		t.Helper()
		mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice", "--id", id)
		o, err := offers.Next(ctx)
		require.NoError(t, err)
		require.Equal(t, id, o.JobID)
		aid, err := c.Accept(ctx, o)
		require.NoError(t, err)
		return aid
	}
	accept("job-a")
	require.NoError(t, c.Complete(ctx, "job-b", accept("job-b"), ""))
	mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice", "--id", "job-c")
	o, err := offers.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, "job-c", o.JobID)

	// It starts again.
	wout, done, stopWorker := runWorker(ctx, t, "--nats-url", url, "--id", "alice", "--queue", "support",
		"--capacity", "3", "--channel", "voice:1:3", "--work", "0", "--wrap-up", "0")
	defer stopWorker()
	for _, id := range []string{"job-a", "job-b", "job-c"} {
		j := jobOf(t, waitEvent(ctx, t, url, events.JobSubject("support", id, events.TypeJobClosed), nil))
		assert.Equal(t, "Resolved", j.DispositionCode, id)
		wout.waitFor(ctx, t, "closed job "+id)
	}
	out := wout.String()
	assert.Contains(t, out, "resuming job job-a (assigned)")
	assert.Contains(t, out, "resuming job job-b (completed)")
	assert.Contains(t, out, "found offer "+o.OfferID+" for job job-c")
	stopWorker()
	waitStopped(ctx, t, wout, done)
	assert.Contains(t, wout.String(), "deregistered; 3 jobs closed")
	assert.NotContains(t, wout.String(), "complete job", "no job was completed twice")
	assert.NotContains(t, wout.String(), "close job", "no job was closed twice")
}
