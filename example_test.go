package patchbay_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/natsserver"
	"github.com/patchbay/patchbay/internal/router"
	"github.com/patchbay/patchbay/matcher"
)

// runRouter starts an embedded NATS server and a router for an example, the way
// `patchbay serve` does, and returns a connection and a function that stops both.
func runRouter(cfg router.Config) (*nats.Conn, func()) {
	dir, _ := os.MkdirTemp("", "patchbay-example")
	ns, err := natsserver.Start(natsserver.Config{Listen: "127.0.0.1:-1", StoreDir: dir})
	if err != nil {
		panic(err)
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		panic(err)
	}
	r, err := router.New(nc, cfg)
	if err != nil {
		panic(err)
	}
	if err := r.Start(context.Background()); err != nil {
		panic(err)
	}
	return nc, func() {
		_ = r.Stop(context.Background())
		nc.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
		_ = os.RemoveAll(dir)
	}
}

// A producer creates a job; a worker receives the offer, accepts it, completes the
// job and closes it with a disposition code.
func Example() {
	nc, stop := runRouter(router.Config{})
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _ := patchbay.New(nc)

	// The worker subscribes to its offers, then registers.
	offers, _ := c.Offers("alice")
	defer offers.Stop()
	capacity := 1
	_, err := c.RegisterWorker(ctx, patchbay.WorkerSpec{
		WorkerID: "alice", Queues: []string{"support"}, TotalCapacity: &capacity,
		Labels:   patchbay.Labels{"language": "en"},
		Channels: []patchbay.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}},
	})
	if err != nil {
		panic(err)
	}

	// A producer creates a job for an English speaker.
	res, err := c.CreateJob(ctx, patchbay.JobSpec{
		JobID: "call-4711", QueueID: "support", ChannelID: "voice",
		WorkerSelectors: []patchbay.WorkerSelector{{Key: "language", Operator: "equal", Value: "en"}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("created", res.JobID, res.Status)

	offer, _ := offers.Next(ctx)
	fmt.Println("offer for", offer.JobID, "to", offer.WorkerID)
	assignment, _ := c.Accept(ctx, offer)
	fmt.Println("accepted:", assignment != "")
	fmt.Println("complete:", c.Complete(ctx, offer.JobID, assignment, "call ended"))
	fmt.Println("close:", c.Close(ctx, offer.JobID, assignment, patchbay.CloseOptions{DispositionCode: "Resolved"}))
	// Output:
	// created call-4711 queued
	// offer for call-4711 to alice
	// accepted: true
	// complete: <nil>
	// close: <nil>
}

// Refusals are typed errors: an offer that timed out cannot be accepted any more.
func ExampleClient_Accept_expired() {
	nc, stop := runRouter(router.Config{Engine: matcher.Config{OfferExpiry: 200 * time.Millisecond}})
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _ := patchbay.New(nc)

	expired := make(chan patchbay.Offer, 1)
	offers := make(chan patchbay.Offer, 1)
	sub, _ := c.OnOffer("bob", func(n patchbay.OfferNotice) {
		ch := offers
		if n.Type == "io.patchbay.offer.expired" {
			ch = expired
		}
		select { // the first of each is enough here
		case ch <- n.Offer:
		default:
		}
	})
	defer sub.Unsubscribe()
	capacity := 1
	_, _ = c.RegisterWorker(ctx, patchbay.WorkerSpec{WorkerID: "bob", Queues: []string{"sales"}, TotalCapacity: &capacity,
		Channels: []patchbay.ChannelConfig{{ChannelID: "chat", CapacityCostPerJob: 1}}})
	_, _ = c.CreateJob(ctx, patchbay.JobSpec{JobID: "lead-1", QueueID: "sales", ChannelID: "chat"})

	o := <-offers
	<-expired // bob did not answer in time
	_, err := c.Accept(ctx, o)
	fmt.Println(errors.Is(err, patchbay.ErrOfferExpired))
	// Output:
	// true
}

// A worker restarted while an offer was out for it, and in the middle of a job, finds
// both again: FollowOffers hands over the offer it missed, and OnResync the job it
// holds.
func ExampleClient_FollowOffers() {
	nc, stop := runRouter(router.Config{})
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _ := patchbay.New(nc)

	// Before the restart: carol took call-1, then call-2 was offered to her.
	offers, _ := c.Offers("carol")
	capacity := 2
	_, _ = c.RegisterWorker(ctx, patchbay.WorkerSpec{WorkerID: "carol", Queues: []string{"support"}, TotalCapacity: &capacity,
		Channels: []patchbay.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}}})
	_, _ = c.CreateJob(ctx, patchbay.JobSpec{JobID: "call-1", QueueID: "support", ChannelID: "voice"})
	first, _ := offers.Next(ctx)
	_, _ = c.Accept(ctx, first)
	_, _ = c.CreateJob(ctx, patchbay.JobSpec{JobID: "call-2", QueueID: "support", ChannelID: "voice"})
	_, _ = offers.Next(ctx)
	_ = offers.Stop()

	// After the restart.
	missed := make(chan patchbay.OfferNotice, 1)
	held := make(chan []patchbay.Job, 1)
	feed, _ := c.FollowOffers("carol", func(n patchbay.OfferNotice) { missed <- n }, patchbay.FollowOptions{
		OnResync: func(info *patchbay.WorkerInfo) { held <- info.Jobs },
	})
	defer feed.Stop()
	n := <-missed
	fmt.Println("missed offer for", n.Offer.JobID, "recovered:", n.Recovered)
	jobs := <-held
	fmt.Println("holds", jobs[0].JobID, jobs[0].Status)
	// Output:
	// missed offer for call-2 recovered: true
	// holds call-1 assigned
}
