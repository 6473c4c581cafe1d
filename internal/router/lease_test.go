package router_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// Two routers on one deployment: the second stands by (applies nothing) while the
// first holds the lease, and takes over with the whole state when the first stops.
func TestStandbyRouterTakesOver(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	cfg := router.Config{LeaseTTL: time.Second}
	e := startOn(t, ns.ClientURL(), cfg)

	standby, err := router.New(natstest.Connect(t, ns.ClientURL()), cfg)
	require.NoError(t, err)
	started := make(chan error, 1)
	sctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { started <- standby.Start(sctx) }()
	t.Cleanup(func() { _ = standby.Stop(context.Background()) })

	e.register("alice", []string{"q"}, nil)
	e.createJob("j1", "q")
	o := e.offerFor("alice", "j1")
	asg, err := e.client.Accept(ctx(t), o)
	require.NoError(t, err)
	select {
	case err := <-started:
		t.Fatalf("the standby started while the first router held the lease: %v", err)
	default:
	}

	require.NoError(t, e.router.Stop(ctx(t)))
	select {
	case err := <-started:
		require.NoError(t, err)
	case <-time.After(waitFor):
		t.Fatal("the standby did not take over")
	}
	// The standby has the state: the assignment is there, the worker is busy.
	again, err := e.client.Accept(ctx(t), o)
	require.NoError(t, err)
	require.Equal(t, asg, again)
	require.NoError(t, e.client.Complete(ctx(t), "j1", asg, ""))
	e.createJob("j2", "q")
	e.jobEvent(events.TypeJobQueued, "j2")
	require.NoError(t, e.client.Close(ctx(t), "j1", asg, patchbayClose("Resolved")))
	e.offerFor("alice", "j2")
}
