package router_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// startStandby starts a router on url in the background, as a second router on a
// deployment; Start's result arrives on started. It is stopped when the test ends.
func startStandby(t *testing.T, url string, cfg router.Config) (standby *router.Router, started <-chan error) {
	t.Helper()
	standby, err := router.New(natstest.Connect(t, url), cfg)
	require.NoError(t, err)
	result := make(chan error, 1)
	go func() { result <- standby.Start(context.Background()) }()
	t.Cleanup(func() { _ = standby.Stop(context.Background()) })
	return standby, result
}

// tookOver waits until the standby's Start returns, and requires it to succeed.
func tookOver(t *testing.T, started <-chan error) {
	t.Helper()
	select {
	case err := <-started:
		require.NoError(t, err)
	case <-time.After(waitFor):
		t.Fatal("the standby did not take over")
	}
}

// Two routers on one deployment: the second stands by (applies nothing) while the
// first holds the lease, and takes over with the whole state when the first stops.
func TestStandbyRouterTakesOver(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	cfg := router.Config{LeaseTTL: time.Second}
	e := startOn(t, ns.ClientURL(), cfg)

	_, started := startStandby(t, ns.ClientURL(), cfg)

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
	tookOver(t, started)
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

// A router that finds its lease ran out (it was paused, or could not renew) renews it
// and goes on when no other router took over; it does not stop for nothing.
func TestLeaseRunOutWithoutRivalIsRenewed(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	e := start(t, router.Config{LeaseTTL: time.Second, Now: now})
	e.register("alice", []string{"q"}, nil)
	offset.Store(int64(time.Hour)) // as if paused for an hour
	e.createJob("j1", "q")
	e.offerFor("alice", "j1")
	require.NoError(t, e.router.Err())
}

// A router whose lease was taken by another stops applying commands, on one server
// and on a cluster (where a lost compare-and-set may carry error code 10164 instead
// of 10071).
func TestLeaseTakenByAnotherStopsTheRouter(t *testing.T) {
	t.Parallel()
	t.Run("one server", func(t *testing.T) {
		t.Parallel()
		leaseTakenByAnother(t, natstest.RunServer(t).ClientURL(), 0)
	})
	t.Run("three-node cluster", func(t *testing.T) {
		if testing.Short() {
			t.Skip("starts a three-node cluster")
		}
		t.Parallel()
		leaseTakenByAnother(t, natstest.ClusterURLs(natstest.RunCluster(t)), 3)
	})
}

func leaseTakenByAnother(t *testing.T, url string, replicas int) {
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	e := startOn(t, url, router.Config{LeaseTTL: time.Second, Now: now, Replicas: replicas})
	e.register("alice", []string{"q"}, nil)

	// A second router whose clock runs an hour ahead sees the lease as expired and
	// takes it.
	rival, err := router.New(natstest.Connect(t, url), router.Config{LeaseTTL: time.Second, Replicas: replicas,
		Now: func() time.Time { return time.Now().Add(time.Hour) }})
	require.NoError(t, err)
	require.NoError(t, rival.Start(ctx(t)))
	t.Cleanup(func() { _ = rival.Stop(context.Background()) })
	select {
	case <-e.router.Failed():
		require.ErrorContains(t, e.router.Err(), "another router took the lease")
		st := e.router.Status()
		require.Equal(t, router.StateFailed, st.State)
		require.Contains(t, st.Error, "another router took the lease")
		require.False(t, st.Ready(), "a failed router is not ready")
	case <-time.After(waitFor):
		t.Fatal("the first router did not notice it lost the lease")
	}
	// The rival routes from here on.
	e.createJob("j1", "q")
	e.offerFor("alice", "j1")
}

// A standby that loses the broker while it waits goes on waiting: it reads the lease
// again once the connection is back, and takes over when the holder stops.
func TestStandbyRidesOutALostConnection(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	cfg := router.Config{LeaseTTL: time.Second}
	e := startOn(t, ns.ClientURL(), cfg)

	proxy := natstest.StartProxy(t, ns.Addr().String())
	log := newLogBuffer()
	l := zerolog.New(log)
	scfg := cfg
	scfg.Logger = &l
	_, started := startStandby(t, proxy.URL(), scfg)
	log.waitFor(t, "standing by")

	proxy.Cut()
	log.waitFor(t, "could not read the lease")
	select {
	case err := <-started:
		t.Fatalf("the standby gave up when it lost the broker: %v", err)
	default:
	}
	proxy.Restore()

	require.NoError(t, e.router.Stop(ctx(t)))
	tookOver(t, started)
	e.register("alice", []string{"q"}, nil)
	e.createJob("j1", "q")
	e.offerFor("alice", "j1")
}

// A renewal whose ack is lost (the connection drops, a stream leader changes) may
// still have been written: the lease then names this router at a revision it never
// learnt, and its next compare-and-set on the old revision fails. That is no rival:
// the router reads the lease, finds its own name, and renews on that revision.
func TestLeaseRenewalWhoseAckWasLostIsNoRival(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	e := startOn(t, ns.ClientURL(), router.Config{LeaseTTL: time.Second})
	kv := bucket(t, e.nc, events.BucketRouter)
	w, err := kv.Watch(ctx(t), "leader", jetstream.UpdatesOnly())
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Stop() })

	// Write what the router's next renewal would have written, as if its ack had
	// been lost: same holder, a revision the router does not know.
	cur, err := kv.Get(ctx(t), "leader")
	require.NoError(t, err)
	lost, err := kv.Put(ctx(t), "leader", cur.Value())
	require.NoError(t, err)
	for renewed := false; !renewed; {
		select {
		case u := <-w.Updates():
			renewed = u.Revision() > lost
		case <-e.router.Failed():
			t.Fatalf("the router took its own lost renewal for a rival: %v", e.router.Err())
		case <-time.After(waitFor):
			t.Fatal("the router did not renew its lease")
		}
	}
	e.register("alice", []string{"q"}, nil)
	e.createJob("j1", "q")
	e.offerFor("alice", "j1")
	require.NoError(t, e.router.Err())
}

// Stop ends a Start that is still standing by: it does not wait for the lease.
func TestStopEndsAStandbysStart(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	startOn(t, ns.ClientURL(), router.Config{})
	log := newLogBuffer()
	l := zerolog.New(log)
	standby, started := startStandby(t, ns.ClientURL(), router.Config{Logger: &l})
	log.waitFor(t, "standing by")

	stopped := make(chan error, 1)
	go func() { stopped <- standby.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(waitFor):
		t.Fatal("Stop waited for the standby's Start")
	}
	require.ErrorIs(t, <-started, context.Canceled)
	require.Equal(t, router.StateStopped, standby.Status().State)
}
