package router_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/router"
)

func (s seen) worker() events.Worker {
	var w events.Worker
	_ = json.Unmarshal(s.Data, &w)
	return w
}

// A worker whose heartbeats stop (a kill -9, a cut cable) is marked lost within its
// presence timeout: its offer is revoked with the reason, the job goes to the next
// worker at once, and nothing more is offered to it; when its heartbeats come back it
// is online again and takes the next job.
func TestWorkerWithoutHeartbeatIsLostAndComesBack(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	one, hb := 1, 1 // lost after 4 s
	spec := func(id string, heartbeat *int) patchbay.WorkerSpec {
		return patchbay.WorkerSpec{WorkerID: id, Queues: []string{"q"}, TotalCapacity: &one, HeartbeatSeconds: heartbeat,
			Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1, MaxNumberOfJobs: 1}}}
	}
	alive, die := context.WithCancel(context.Background())
	require.NoError(t, e.client.KeepPresent(alive, "alice", 200*time.Millisecond))
	_, err := e.client.RegisterWorker(ctx(t), spec("alice", &hb))
	require.NoError(t, err)
	_, err = e.client.RegisterWorker(ctx(t), spec("bob", nil)) // not tracked
	require.NoError(t, err)

	e.createJob("j1", "q")
	e.offerFor("alice", "j1") // idle longest
	die()                     // alice's process is gone: no more heartbeats

	rev := e.next(events.TypeOfferRevoked, func(s seen) bool { return s.offer().JobID == "j1" }).offer()
	require.Equal(t, "alice", rev.WorkerID)
	require.Equal(t, events.RevokedWorkerDisconnected, rev.Reason)
	lost := e.next(events.TypeWorkerDisconnected, nil)
	require.Equal(t, "alice", lost.worker().WorkerID)
	require.Equal(t, events.PresenceLost, lost.worker().Presence)
	require.Equal(t, "patchbay.events.worker.alice.disconnected", lost.Subject)
	o := e.offerFor("bob", "j1")
	_, err = e.client.Accept(ctx(t), o)
	require.NoError(t, err)

	// Lost, alice is offered nothing: j2 waits though she has room.
	e.createJob("j2", "q")
	q, err := e.client.QueueInfo(ctx(t), "q")
	require.NoError(t, err)
	require.Equal(t, 1, q.Length)

	// Her heartbeat comes back: online again, and j2 is hers.
	require.NoError(t, e.client.Heartbeat("alice"))
	back := e.next(events.TypeWorkerReconnected, nil)
	require.Equal(t, events.PresenceOnline, back.worker().Presence)
	e.offerFor("alice", "j2")
}

// Heartbeats on subjects that name no valid worker, and for workers that are unknown
// or not tracked, change nothing and never stop the router.
func TestHostileHeartbeatsChangeNothing(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	e.register("bob", []string{"q"}, nil)
	for _, subject := range []string{
		events.PresenceSubject("nobody"), events.PresenceSubject("bob"),
		events.PresenceSubject(strings.Repeat("x", events.MaxIDBytes+1)),
	} {
		require.NoError(t, e.nc.Publish(subject, []byte("garbage")))
	}
	require.NoError(t, e.nc.Flush())
	e.createJob("j1", "q")
	e.offerFor("bob", "j1")
	for _, s := range e.drainEvents() {
		require.NotEqual(t, events.TypeWorkerDisconnected, s.Type)
		require.NotEqual(t, events.TypeWorkerReconnected, s.Type)
	}
	require.NoError(t, e.router.Err())
}
