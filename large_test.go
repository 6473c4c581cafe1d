package patchbay_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/limitstest"
)

// The router's messages may be larger than a command may be (an offer embeds its
// whole job; a worker's answer holds all its offers): the client reads them all. It
// used to read them with the commands' 64 KiB limit, so the largest jobs' offers
// and the worker query, list and watch answers about them were dropped or refused.
func TestClientReadsTheRoutersLargestMessages(t *testing.T) {
	t.Parallel()
	e := startFeedEnv(t)
	offers, err := e.c.Offers("big")
	require.NoError(t, err)
	t.Cleanup(func() { _ = offers.Stop() })
	watch, err := e.c.Watch(e.ctx(), patchbay.WatchOptions{Subjects: []string{events.OfferTypeAll("big", events.TypeOfferIssued)}})
	require.NoError(t, err)
	t.Cleanup(watch.Stop)

	const n = 3
	_, err = e.c.RegisterWorker(e.ctx(), *limitstest.LargestWorkerRegister("big", "q", n))
	require.NoError(t, err)
	for i := range n {
		_, err := e.c.CreateJob(e.ctx(), *limitstest.LargestJobCreated(fmt.Sprintf("j%d", i), "q"))
		require.NoError(t, err)
	}
	for range n {
		o, err := offers.Next(e.ctx())
		require.NoError(t, err)
		require.NotNil(t, o.Job)
		_, subject, err := watch.Next()
		require.NoError(t, err)
		require.Contains(t, subject, ".big.")
	}

	info, err := e.c.WorkerInfo(e.ctx(), "big")
	require.NoError(t, err, "a worker answer over 64 KiB")
	require.Len(t, info.Offers, n)
	list, err := e.c.ListJobs(e.ctx(), patchbay.ListJobsOptions{QueueID: "q"})
	require.NoError(t, err, "a list answer over 64 KiB")
	require.Len(t, list.Jobs, n)
}
