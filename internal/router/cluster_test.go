package router_test

import (
	"fmt"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// On a three-node cluster with replicated streams and buckets the whole lifecycle
// works, and keeps working when the node leading the router's bucket (where the
// write-ahead record lives) goes away in the middle of a stream of jobs: every job
// is offered, assigned and closed once, and the router does not stop.
func TestThreeNodeCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	servers := natstest.RunCluster(t)
	e := startOn(t, natstest.ClusterURLs(servers), router.Config{Replicas: 3})
	js, err := jetstream.New(e.nc)
	require.NoError(t, err)
	s, err := js.Stream(ctx(t), "KV_"+events.BucketRouter)
	require.NoError(t, err)
	leader := s.CachedInfo().Cluster.Leader

	const n = 40
	for i := range n {
		if i == n/2 {
			for _, ns := range servers {
				if ns.Name() == leader {
					ns.Shutdown()
					ns.WaitForShutdown()
				}
			}
		}
		e.createJob(fmt.Sprintf("j%d", i), "support")
	}
	e.register("alice", []string{"support"}, nil)
	e.workThrough(n)
	require.NoError(t, e.router.Err())
}

// A router starts on a cluster whose JetStream meta leader has just gone away: while
// the others elect a new one, an API request can go unanswered, and the start tries
// it again rather than waiting out its whole deadline on it.
func TestStartWhileTheMetaLeaderIsGone(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	servers := natstest.RunCluster(t)
	var rest []*server.Server
	for _, ns := range servers {
		if ns.JetStreamIsLeader() {
			ns.Shutdown()
			ns.WaitForShutdown()
		} else {
			rest = append(rest, ns)
		}
	}
	require.Len(t, rest, 2)
	e := startOn(t, natstest.ClusterURLs(rest), router.Config{Replicas: 3})
	e.register("alice", []string{"support"}, nil)
	e.createJob("j1", "support")
	o := e.offerFor("alice", "j1")
	_, err := e.client.Accept(ctx(t), o)
	require.NoError(t, err)
}
