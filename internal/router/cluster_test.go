package router_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// On a three-node cluster with replicated streams and buckets the whole lifecycle
// works, and keeps working when one node goes away.
func TestThreeNodeCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	servers := natstest.RunCluster(t)
	e := startOn(t, natstest.ClusterURLs(servers[:2]), router.Config{Replicas: 3})

	lifecycle := func(worker, job, queue string) {
		e.register(worker, []string{queue}, nil)
		e.createJob(job, queue)
		o := e.offerFor(worker, job)
		asg, err := e.client.Accept(ctx(t), o)
		require.NoError(t, err)
		require.NoError(t, e.client.Complete(ctx(t), job, asg, ""))
		require.NoError(t, e.client.Close(ctx(t), job, asg, patchbay.CloseOptions{DispositionCode: "Resolved"}))
		require.Equal(t, "Resolved", e.jobEvent(events.TypeJobClosed, job).DispositionCode)
	}
	lifecycle("alice", "j1", "support")

	// Lose the third node: the replicated state keeps its quorum.
	servers[2].Shutdown()
	servers[2].WaitForShutdown()
	lifecycle("bob", "j2", "sales")
}
