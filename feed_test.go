package patchbay_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// feedEnv is a server, a router, a client, and what a feed handed over.
type feedEnv struct {
	t       *testing.T
	nc      *nats.Conn
	c       *patchbay.Client
	notices chan patchbay.OfferNotice
	resyncs chan *patchbay.WorkerInfo
	errs    chan error
}

func startFeedEnv(t *testing.T) *feedEnv {
	t.Helper()
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns.ClientURL())
	natstest.StartRouter(t, nc, router.Config{})
	c, err := patchbay.New(nc, patchbay.WithRetryDeadline(retryWait))
	require.NoError(t, err)
	return &feedEnv{t: t, nc: nc, c: c, notices: make(chan patchbay.OfferNotice, 64),
		resyncs: make(chan *patchbay.WorkerInfo, 64), errs: make(chan error, 64)}
}

func (e *feedEnv) follow(workerID string) *patchbay.OfferFeed {
	e.t.Helper()
	f, err := e.c.FollowOffers(workerID, func(n patchbay.OfferNotice) { e.notices <- n }, patchbay.FollowOptions{
		OnResync: func(info *patchbay.WorkerInfo) { e.resyncs <- info },
		OnError:  func(err error) { e.errs <- err },
	})
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = f.Stop() })
	return f
}

func (e *feedEnv) register(workerID string, capacity int) {
	e.t.Helper()
	_, err := e.c.RegisterWorker(e.ctx(), patchbay.WorkerSpec{WorkerID: workerID, Queues: []string{"q"}, TotalCapacity: &capacity,
		Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}}})
	require.NoError(e.t, err)
}

func (e *feedEnv) create(jobID string) {
	e.t.Helper()
	_, err := e.c.CreateJob(e.ctx(), patchbay.JobSpec{JobID: jobID, QueueID: "q", ChannelID: "voice"})
	require.NoError(e.t, err)
}

func (e *feedEnv) ctx() context.Context {
	c, cancel := context.WithTimeout(context.Background(), retryWait)
	e.t.Cleanup(cancel)
	return c
}

func (e *feedEnv) notice() patchbay.OfferNotice {
	e.t.Helper()
	select {
	case n := <-e.notices:
		return n
	case err := <-e.errs:
		e.t.Fatalf("resync failed: %v", err)
	case <-time.After(retryWait):
		e.t.Fatal("no notice")
	}
	return patchbay.OfferNotice{}
}

// resynced waits for the next resync whose answer satisfies ok.
func (e *feedEnv) resynced(ok func(*patchbay.WorkerInfo) bool) *patchbay.WorkerInfo {
	e.t.Helper()
	for {
		select {
		case info := <-e.resyncs:
			if ok(info) {
				return info
			}
		case err := <-e.errs:
			e.t.Fatalf("resync failed: %v", err)
		case <-time.After(retryWait):
			e.t.Fatal("no resync")
		}
	}
}

// A worker that starts (or restarts) while offers are out for it gets them at once,
// oldest first, marked Recovered; asking again hands nothing over twice.
func TestFollowOffersRecoversOffersIssuedBeforeItStarted(t *testing.T) {
	t.Parallel()
	e := startFeedEnv(t)
	e.register("alice", 3)
	e.create("j1")
	e.create("j2")
	info, err := e.c.WorkerInfo(e.ctx(), "alice")
	require.NoError(t, err)
	require.Len(t, info.Offers, 2)

	f := e.follow("alice")
	for _, want := range info.Offers {
		n := e.notice()
		require.Equal(t, events.TypeOfferIssued, n.Type)
		require.True(t, n.Recovered)
		require.Equal(t, want.OfferID, n.Offer.OfferID)
		require.Equal(t, want.JobID, n.Offer.Job.JobID)
	}
	got := e.resynced(func(*patchbay.WorkerInfo) bool { return true })
	require.Len(t, got.Offers, 2)

	// A third job comes as its event; a resync after it hands nothing over again.
	e.create("j3")
	n := e.notice()
	require.False(t, n.Recovered)
	require.Equal(t, "j3", n.Offer.JobID)
	f.Resync()
	e.resynced(func(i *patchbay.WorkerInfo) bool { return len(i.Offers) == 3 })
	require.Empty(t, e.notices, "each offer is handed over once")

	// Ended offers come as their events.
	require.NoError(t, e.c.Decline(e.ctx(), n.Offer, nil))
	n = e.notice()
	require.Equal(t, events.TypeOfferDeclined, n.Type)
	require.Equal(t, "j3", n.Offer.JobID)

	// Stopped, the feed hands over nothing more.
	require.NoError(t, f.Stop())
	require.NoError(t, f.Stop(), "stopping twice is fine")
	watch, err := e.nc.SubscribeSync(events.OfferTypeAll("alice", events.TypeOfferIssued))
	require.NoError(t, err)
	require.NoError(t, e.nc.Flush())
	e.create("j4")
	_, err = watch.NextMsg(retryWait)
	require.NoError(t, err)
	f.Resync() // does nothing once stopped
	// Answered after anything the feed could still have asked.
	info, err = e.c.WorkerInfo(e.ctx(), "alice")
	require.NoError(t, err)
	require.Len(t, info.Offers, 3)
	require.Empty(t, e.notices)
}

// A feed for a worker not registered yet is no error: the first resync finds nothing
// (unknown_worker is not reported), and offers come once it registers.
func TestFollowOffersBeforeTheWorkerRegisters(t *testing.T) {
	t.Parallel()
	e := startFeedEnv(t)
	f := e.follow("bob")
	e.register("bob", 1)
	e.create("j1")
	n := e.notice()
	require.Equal(t, "j1", n.Offer.JobID)
	f.Resync()
	info := e.resynced(func(i *patchbay.WorkerInfo) bool { return len(i.Offers) == 1 }) // not the first resync's
	require.Equal(t, "bob", info.Worker.WorkerID)
	require.Empty(t, e.notices)
	require.Empty(t, e.errs, "unknown_worker before the registration is not an error")
}

func TestFollowOffersArguments(t *testing.T) {
	t.Parallel()
	e := startFeedEnv(t)
	_, err := e.c.FollowOffers("a b", func(patchbay.OfferNotice) {}, patchbay.FollowOptions{})
	require.ErrorIs(t, err, patchbay.ErrInvalidData)
	_, err = e.c.FollowOffers("alice", nil, patchbay.FollowOptions{})
	require.Error(t, err)
	nc := natstest.Connect(t, e.nc.ConnectedUrl())
	c, err := patchbay.New(nc)
	require.NoError(t, err)
	nc.Close()
	_, err = c.FollowOffers("alice", func(patchbay.OfferNotice) {}, patchbay.FollowOptions{})
	require.ErrorIs(t, err, nats.ErrConnectionClosed)
}
