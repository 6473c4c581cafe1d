package router_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

func TestExplore(t *testing.T) {
	servers := natstest.RunCluster(t)
	mode := os.Getenv("MODE")
	if mode == "startdown" {
		servers[2].Shutdown()
		servers[2].WaitForShutdown()
	}
	l := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger().Level(zerolog.InfoLevel)
	e := startOn(t, natstest.ClusterURLs(servers), router.Config{Replicas: 3, Logger: &l})
	js, err := jetstream.New(e.nc)
	require.NoError(t, err)
	var leader string
	switch mode {
	case "consumer":
		c, err := js.Consumer(ctx(t), events.StreamIn, events.ConsumerMatcher)
		require.NoError(t, err)
		leader = c.CachedInfo().Cluster.Leader
	case "meta":
		for _, ns := range servers {
			if ns.JetStreamIsLeader() {
				leader = ns.Name()
			}
		}
	}
	t.Logf("mode %s: kill %s; router connected to %s", mode, leader, e.nc.ConnectedServerName())
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
	closed := map[string]bool{}
	for range n {
		o := e.next(events.TypeOfferIssued, nil).offer()
		asg, err := e.client.Accept(ctx(t), o)
		require.NoError(t, err)
		require.NoError(t, e.client.Complete(ctx(t), o.JobID, asg, ""))
		require.NoError(t, e.client.Close(ctx(t), o.JobID, asg, patchbay.CloseOptions{DispositionCode: "Resolved"}))
		closed[o.JobID] = true
	}
	require.Len(t, closed, n)
	require.NoError(t, e.router.Err())
}
