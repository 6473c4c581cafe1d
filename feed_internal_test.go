package patchbay

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// The feed's memory is bounded: an offer whose end event was lost with the connection
// is forgotten at the resync after the reconnect, which no longer lists it.
func TestFollowOffersForgetsOffersThatEndedWhileAway(t *testing.T) {
	t.Parallel()
	const wait = 60 * time.Second
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns.ClientURL())
	r, err := router.New(nc, router.Config{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, r.Start(ctx))
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	producer, err := New(nc)
	require.NoError(t, err)

	proxy := natstest.StartProxy(t, ns.Addr().String())
	down := make(chan struct{}, 16)
	wnc := natstest.Connect(t, proxy.URL(), nats.ReconnectWait(20*time.Millisecond), nats.IgnoreDiscoveredServers(),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { down <- struct{}{} }))
	worker, err := New(wnc)
	require.NoError(t, err)
	notices := make(chan OfferNotice, 16)
	resyncs := make(chan *WorkerInfo, 16)
	f, err := worker.FollowOffers("alice", func(n OfferNotice) { notices <- n }, FollowOptions{
		OnResync: func(info *WorkerInfo) { resyncs <- info }})
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Stop() })
	one := 1
	_, err = worker.RegisterWorker(ctx, WorkerSpec{WorkerID: "alice", Queues: []string{"q"}, TotalCapacity: &one,
		Channels: []ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}}})
	require.NoError(t, err)
	_, err = producer.CreateJob(ctx, JobSpec{JobID: "j1", QueueID: "q", ChannelID: "voice"})
	require.NoError(t, err)
	var n OfferNotice
	select {
	case n = <-notices:
	case <-time.After(wait):
		t.Fatal("no offer")
	}
	// Every resync before the cut is over once one lists the offer (they run one at a
	// time): the next answer is the one after the reconnect.
	f.Resync()
	for listed := false; !listed; {
		select {
		case info := <-resyncs:
			listed = len(info.Offers) == 1
		case <-time.After(wait):
			t.Fatal("no resync")
		}
	}
	for len(resyncs) > 0 {
		<-resyncs
	}
	f.mu.Lock()
	require.Contains(t, f.seen, n.Offer.OfferID)
	f.mu.Unlock()

	// Away, alice misses the revocation of her offer.
	revoked, err := nc.SubscribeSync(events.OfferTypeAll("alice", events.TypeOfferRevoked))
	require.NoError(t, err)
	require.NoError(t, nc.Flush())
	proxy.Cut()
	select {
	case <-down:
	case <-time.After(wait):
		t.Fatal("the cut was not noticed")
	}
	require.NoError(t, producer.Cancel(ctx, "j1", "", ""))
	_, err = revoked.NextMsg(wait)
	require.NoError(t, err)
	proxy.Restore()
	select {
	case info := <-resyncs:
		require.Empty(t, info.Offers)
		f.mu.Lock()
		defer f.mu.Unlock()
		require.Empty(t, f.seen, "the ended offer is forgotten")
		require.Empty(t, notices, "and never handed over again")
	case <-time.After(wait):
		t.Fatal("no resync after the reconnect")
	}
}
