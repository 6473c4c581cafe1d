package main

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
)

// The active router is paused (SIGSTOP) under load, past its lease; a standby takes
// over and works; then the paused one resumes. It must stop without writing: every
// job is received, assigned and closed exactly once, and the resumed router exits.
func TestSIGSTOPPastTheLease(t *testing.T) {
	if testing.Short() {
		t.Skip("starts router processes")
	}
	t.Parallel()
	ns := natstest.RunServer(t)
	args := fmt.Sprintf("serve --http 127.0.0.1:0 --nats-url %s --log-format json --lease-ttl 1s --offer-expiry 5s", ns.ClientURL())
	started := time.Now()
	defer func() { t.Logf("took %s", time.Since(started)) }()
	first := startServe(t, args)
	second := spawnServe(t, args) // stands by
	addr := ns.Addr().String()
	// A request the paused router's subscription takes gets no answer: the workers'
	// client sends it again (same id) soon, and the other router answers.
	wnc := natstest.Connect(t, ns.ClientURL())
	c, err := patchbay.New(wnc, patchbay.WithAttemptTimeout(300*time.Millisecond), patchbay.WithRetryDeadline(durabilityWait))
	require.NoError(t, err)
	h := follow(t, connect(t, addr))
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("w%d", i)
		sub, err := c.OnOffer(id, func(n patchbay.OfferNotice) {
			if n.Type == events.TypeOfferIssued {
				go work(c, n.Offer)
			}
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = sub.Unsubscribe() })
		register(t, c, id, "load", 2)
	}

	const jobs = 90
	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			id := fmt.Sprintf("job%03d", i)
			ev, err := events.New(events.TypeJobCreated, "ce-"+id, "/test", id, time.Now(),
				&events.JobCreated{JobID: id, QueueID: "load", ChannelID: "voice"})
			require.NoError(t, err)
			body, err := events.Structured(ev)
			require.NoError(t, err)
			_, err = js.Publish(testCtx(t), events.InSubject(events.TypeJobCreated), body)
			require.NoError(t, err)
		}
	}
	produce(0, jobs/3)
	h.waitFor(t, "a job assigned", isType(events.TypeJobAssigned, "job005"))
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGSTOP))
	produce(jobs/3, 2*jobs/3)
	second.waitReady(t) // the standby took the lease
	t.Logf("takeover after %s", time.Since(started))
	h.waitFor(t, "work after the takeover", isType(events.TypeJobClosed, fmt.Sprintf("job%03d", 2*jobs/3-1)))

	t.Logf("work after takeover at %s", time.Since(started))
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGCONT))
	produce(2*jobs/3, jobs)
	select {
	case <-first.exited:
	case <-time.After(durabilityWait):
		t.Fatalf("the resumed router did not stop:\n%s", first.output())
	}
	for i := 0; i < jobs; i++ {
		id := fmt.Sprintf("job%03d", i)
		h.waitFor(t, id+" closed", isType(events.TypeJobClosed, id))
	}
	for i := 0; i < jobs; i++ {
		id := fmt.Sprintf("job%03d", i)
		require.Equal(t, 1, h.count(events.TypeJobReceived, id), "%s received once", id)
		require.Equal(t, 1, h.count(events.TypeJobAssigned, id), "%s assigned once", id)
		require.Equal(t, 1, h.count(events.TypeJobClosed, id), "%s closed once", id)
	}
	select {
	case <-second.exited:
		t.Fatalf("the successor stopped:\n%s", second.output())
	default:
	}
}
