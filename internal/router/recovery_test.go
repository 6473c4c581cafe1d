package router_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// A worker's network drops while an offer is issued to it: the offer's event is lost
// on the way (core NATS). When its connection comes back, FollowOffers asks the router
// for its outstanding offers and hands over the one it missed; the worker accepts it.
// The application's own reconnect handler still runs: the feed does not replace it.
func TestWorkerAcceptsAnOfferIssuedWhileItsConnectionWasDown(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	e := startOn(t, ns.ClientURL(), router.Config{})
	proxy := natstest.StartProxy(t, ns.Addr().String())
	disconnected, reconnected := make(chan struct{}, 16), make(chan struct{}, 16)
	wnc := natstest.Connect(t, proxy.URL(), nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1),
		nats.IgnoreDiscoveredServers(),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { disconnected <- struct{}{} }),
		nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }))
	worker, err := patchbay.New(wnc, patchbay.WithRetryDeadline(waitFor))
	require.NoError(t, err)

	notices := make(chan patchbay.OfferNotice, 16)
	resyncs := make(chan *patchbay.WorkerInfo, 16)
	feed, err := worker.FollowOffers("alice", func(n patchbay.OfferNotice) { notices <- n }, patchbay.FollowOptions{
		OnResync: func(info *patchbay.WorkerInfo) { resyncs <- info },
		OnError:  func(err error) { t.Logf("resync: %v", err) },
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = feed.Stop() })
	one := 1
	_, err = worker.RegisterWorker(ctx(t), patchbay.WorkerSpec{WorkerID: "alice", Queues: []string{"q"}, TotalCapacity: &one,
		Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}}})
	require.NoError(t, err)

	// The network goes; while it is gone, a job comes and is offered to alice.
	proxy.Cut()
	select {
	case <-disconnected:
	case <-time.After(waitFor):
		t.Fatal("the worker's connection did not notice the cut")
	}
	e.createJob("j1", "q")
	issued := e.offerFor("alice", "j1") // seen on another connection: issued while alice was away
	require.Empty(t, notices, "nothing reached alice while she was cut off")

	// The network comes back: alice gets the offer she missed, and takes it.
	proxy.Restore()
	var n patchbay.OfferNotice
	select {
	case n = <-notices:
	case <-time.After(waitFor):
		t.Fatal("the missed offer was not delivered after the reconnect")
	}
	require.Equal(t, events.TypeOfferIssued, n.Type)
	require.True(t, n.Recovered, "found by asking the router, not by its event")
	require.Equal(t, issued.OfferID, n.Offer.OfferID)
	require.NotNil(t, n.Offer.Job)
	require.Equal(t, "j1", n.Offer.Job.JobID)
	aid, err := worker.Accept(ctx(t), n.Offer)
	require.NoError(t, err)
	j := e.jobEvent(events.TypeJobAssigned, "j1")
	require.Equal(t, "alice", j.Assignment.WorkerID)
	require.Equal(t, aid, j.Assignment.AssignmentID)
	select {
	case <-reconnected:
	case <-time.After(waitFor):
		t.Fatal("the application's reconnect handler did not run")
	}

	// The offer is delivered once: its accepted event follows, no second issued.
	select {
	case n = <-notices:
		require.Equal(t, events.TypeOfferAccepted, n.Type)
		require.Equal(t, issued.OfferID, n.Offer.OfferID)
	case <-time.After(waitFor):
		t.Fatal("no accepted notice")
	}
	// A resync now lists the job alice holds and hands over nothing again.
	feed.Resync()
	for {
		select {
		case info := <-resyncs:
			if len(info.Jobs) == 0 {
				continue // an earlier resync's answer
			}
			require.Equal(t, "j1", info.Jobs[0].JobID)
			require.Empty(t, info.Offers)
			require.Empty(t, notices, "every resync hands its offers over before OnResync")
			return
		case <-time.After(waitFor):
			t.Fatal("no resync after Resync")
		}
	}
}

// The matcher's consumer deleted under the running router (an operator's `nats
// consumer rm`): the router, still holding the lease, makes it again and goes on;
// every job is offered, and none twice.
func TestConsumerDeletedUnderTheRouterIsMadeAgain(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	js, err := jetstream.New(e.nc)
	require.NoError(t, err)
	const n = 10
	for i := range n {
		if i == n/2 {
			require.NoError(t, js.DeleteConsumer(ctx(t), events.StreamIn, events.ConsumerMatcher))
		}
		e.createJob(fmt.Sprintf("j%d", i), "q")
	}
	e.register("alice", []string{"q"}, nil)
	e.workThrough(n)
	require.NoError(t, e.router.Err())
}

// A stream deleted under the running router (an operator's `nats stream rm`, say to
// drop the event history) is made again: the router goes on routing, and the stream
// is there again.
func TestStreamDeletedUnderTheRouterIsMadeAgain(t *testing.T) {
	t.Parallel()
	for _, stream := range []string{events.StreamIn, events.StreamEvents} {
		t.Run(stream, func(t *testing.T) {
			t.Parallel()
			e := start(t, router.Config{})
			e.register("alice", []string{"q"}, nil)
			js, err := jetstream.New(e.nc)
			require.NoError(t, err)
			require.NoError(t, js.DeleteStream(ctx(t), stream))
			e.createJob("j1", "q")
			e.offerFor("alice", "j1")
			_, err = js.Stream(ctx(t), stream)
			require.NoError(t, err)
			require.NoError(t, e.router.Err())
		})
	}
}
