package matcher

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

func wHeartbeat(s int) func(*events.WorkerRegister) {
	return func(d *events.WorkerRegister) { d.HeartbeatSeconds = &s }
}

// The presence timeout of a 3 s heartbeat.
const hbTimeout = 10 * time.Second

// A tracked worker that stops heartbeating is marked lost after exactly its timeout:
// its offer is revoked (worker_disconnected) and the job goes to the next worker at
// once; it is offered nothing while lost; its next heartbeat makes it online and
// eligible again, with its declines still counted.
func TestPresenceLostAndBack(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice", wHeartbeat(3)))
	h.advance(time.Second)
	requireOK(t, h.register("bob")) // not tracked: alice has been idle longer
	require.Equal(t, events.PresenceOnline, h.worker("alice").Presence)
	require.Empty(t, h.worker("bob").Presence)

	requireOK(t, h.create("j1", "q1"))
	require.Equal(t, "alice", h.offeredTo("j1"))

	// Heartbeats push the deadline back: nothing happens at the first timeout.
	h.record(h.e.Heartbeat("alice", h.advance(5*time.Second)))
	out := h.tick(t0.Add(hbTimeout))
	require.Nil(t, out.Result, "a heartbeat 5 s ago keeps alice online")
	at, ok := h.e.NextDeadline()
	require.True(t, ok)
	require.Equal(t, t0.Add(6*time.Second+hbTimeout), at, "the timer was armed again from the heartbeat")

	// Just before the timeout, still online; at it, lost.
	require.Nil(t, h.tick(at.Add(-time.Millisecond)).Result)
	out = h.tick(at)
	require.Equal(t, []events.Type{events.TypeOfferRevoked, events.TypeWorkerDisconnected, events.TypeOfferIssued}, out.types())
	require.Equal(t, events.RevokedWorkerDisconnected, out.ofType(events.TypeOfferRevoked)[0].Offer.Reason)
	require.Equal(t, "bob", h.offeredTo("j1"), "the job goes to the next worker at once")
	a := h.worker("alice")
	require.Equal(t, events.PresenceLost, a.Presence)
	require.Equal(t, at, *a.PresenceChangedAt)
	require.True(t, a.AvailableForOffers, "its own availability is unchanged")
	require.Empty(t, a.OfferIDs)
	checkInvariants(t, h.e)
	requireKVMatches(t, h.kv, h.e)

	// While lost: offered nothing, even when it is the only one with room.
	h.assign("j1", "bob")
	requireOK(t, h.create("j2", "q1"))
	require.Empty(t, h.issuedTo("j2"))
	requireSameEngine(t, h.e, h.reload().e)

	// Its heartbeat brings it back and it gets j2 at once.
	out = h.record(h.e.Heartbeat("alice", h.advance(time.Minute)))
	require.Equal(t, []events.Type{events.TypeWorkerReconnected, events.TypeOfferIssued}, out.types())
	require.Equal(t, "alice", h.offeredTo("j2"))
	require.Equal(t, events.PresenceOnline, h.worker("alice").Presence)
	checkInvariants(t, h.e)
	requireKVMatches(t, h.kv, h.e)
}

// Heartbeats of online, unknown and untracked workers change nothing stored.
func TestHeartbeatStoresNothingWhenOnline(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice", wHeartbeat(3)))
	requireOK(t, h.register("bob"))
	require.Nil(t, h.e.Heartbeat("alice", h.advance(time.Second)))
	require.Nil(t, h.e.Heartbeat("bob", h.now))
	require.Nil(t, h.e.Heartbeat("nobody", h.now))
	require.Empty(t, h.worker("bob").Presence)
}

// A worker that is not available, or not tracked any more, is never marked lost; one
// that registers again while lost is online at once.
func TestPresenceOnlyForTrackedAvailableWorkers(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice", wHeartbeat(3)))
	requireOK(t, h.register("bob", wHeartbeat(3)))
	requireOK(t, h.deregister("alice"))
	zero := 0
	requireOK(t, h.update(events.WorkerRegister{WorkerID: "bob", HeartbeatSeconds: &zero}))
	require.Empty(t, h.worker("bob").Presence)
	require.Nil(t, h.tick(t0.Add(time.Hour)).Result)
	at, ok := h.e.NextDeadline()
	require.True(t, !ok || at.After(t0.Add(time.Hour)), "no presence timer is left (only alice's forgetting)")
	require.Equal(t, events.PresenceOnline, h.worker("alice").Presence)

	requireOK(t, h.register("carol", wHeartbeat(1), wQueues("q2")))
	out := h.tick(h.now.Add(4 * time.Second))
	require.Equal(t, []events.Type{events.TypeWorkerDisconnected}, out.types())
	h.advance(4 * time.Second)
	requireOK(t, h.register("carol", wHeartbeat(1), wQueues("q2")))
	require.Equal(t, events.PresenceOnline, h.worker("carol").Presence)
	requireOK(t, h.create("j1", "q2"))
	require.Equal(t, "carol", h.offeredTo("j1"))
}

// After Load (a restart, a takeover), every tracked online worker gets a full timeout
// from the engine's first use: a restart never marks live workers lost, and a worker
// that died while the router was down is lost one timeout after the restart. A lost
// worker stays lost.
func TestPresenceAfterLoad(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice", wHeartbeat(3)))
	requireOK(t, h.register("bob", wHeartbeat(3)))
	h.record(h.e.Heartbeat("alice", h.advance(8*time.Second)))
	require.Equal(t, []events.Type{events.TypeWorkerDisconnected}, h.tick(t0.Add(hbTimeout)).types())
	require.Equal(t, events.PresenceLost, h.worker("bob").Presence)

	h2 := h.reload()
	restart := t0.Add(time.Hour) // the router was down for an hour
	h2.now = restart
	require.Nil(t, h2.record(h2.e.Resume(restart)).Result, "nobody is lost at the restart")
	require.Equal(t, events.PresenceOnline, h2.worker("alice").Presence)
	at, ok := h2.e.NextDeadline()
	require.True(t, ok)
	require.Equal(t, restart.Add(hbTimeout), at)
	out := h2.tick(at)
	require.Equal(t, []events.Type{events.TypeWorkerDisconnected}, out.types())
	require.Equal(t, "alice", out.Evs[0].Worker.WorkerID)
	require.Equal(t, events.PresenceLost, h2.worker("bob").Presence)
}

func TestHeartbeatSecondsBounds(t *testing.T) {
	h := newHarness(t, Config{})
	for _, s := range []int{-1, events.MaxHeartbeatSeconds + 1} {
		out := h.register("alice", wHeartbeat(s))
		require.Error(t, out.Err)
		require.Equal(t, "heartbeatSeconds", events.AsError(out.Err).Field)
	}
	requireOK(t, h.register("alice", wHeartbeat(events.MaxHeartbeatSeconds)))
}

// With expiredOfferMakesWorkerUnavailable, an offer that expires makes its worker
// unavailable (Azure Job Router's behaviour): its other offers are revoked, the job
// moves on, and it takes no offer until it makes itself available again. Without it
// the worker stays available.
func TestExpiredOfferMakesWorkerUnavailable(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: 30 * time.Second})
	requireOK(t, h.putPolicy(events.KindDistributionPolicy, "absent", nil, `{"mode":{"kind":"longestIdle"},"expiredOfferMakesWorkerUnavailable":true}`))
	requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"distributionPolicyId":"absent"}`))
	requireOK(t, h.putPolicy(events.KindQueue, "q2", nil, `{}`))
	requireOK(t, h.register("alice", wQueues("q1", "q2"), wCapacity(2, events.ChannelConfig{ChannelID: "voice", CapacityCostPerJob: 1})))
	requireOK(t, h.create("j2", "q2"))
	require.Equal(t, "alice", h.offeredTo("j2"))
	h.advance(time.Second)
	requireOK(t, h.create("j1", "q1"))
	require.Equal(t, "alice", h.offeredTo("j1"))
	h.advance(time.Second)
	requireOK(t, h.register("bob", wQueues("q1"))) // nothing waits for him yet

	// j2's offer (queue q2: no such rule) expires first: alice stays available.
	out := h.tick(t0.Add(30 * time.Second))
	require.Equal(t, events.TypeOfferExpired, out.types()[0])
	require.True(t, h.worker("alice").AvailableForOffers)

	// j1's offer (queue q1) expires: alice is made unavailable, j1 goes to bob.
	out = h.tick(t0.Add(31 * time.Second))
	require.Contains(t, out.types(), events.TypeWorkerDeregistered)
	a := h.worker("alice")
	require.False(t, a.AvailableForOffers)
	require.Empty(t, a.OfferIDs)
	require.Equal(t, "bob", h.offeredTo("j1"))
	checkInvariants(t, h.e)
	requireKVMatches(t, h.kv, h.e)
	requireSameEngine(t, h.e, h.reload().e)

	// It comes back when it says so.
	requireOK(t, h.update(events.WorkerRegister{WorkerID: "alice", AvailableForOffers: new(true)}))
	require.True(t, h.worker("alice").AvailableForOffers)
}

// A command sent on a worker's subject acts for that worker only (Command.Worker).
func TestCommandOnWorkerSubject(t *testing.T) {
	h := newHarness(t, Config{})
	as := func(worker string, typ events.Type, data any) outcome {
		h.cmdN++
		cmd := mkCommand(h.t, fmt.Sprintf("cmd%d", h.cmdN), typ, data, h.now)
		cmd.Worker = worker
		return h.record(h.e.Apply(cmd, h.now))
	}
	requireOK(t, as("alice", events.TypeWorkerRegister, workerData("alice")))
	requireRefused(t, as("alice", events.TypeWorkerRegister, workerData("bob")), events.ErrForbidden)
	requireOK(t, h.register("bob"))
	requireOK(t, h.create("j1", "q1"))
	o := h.offerFor("j1")
	require.Equal(t, "alice", o.WorkerID)
	requireRefused(t, as("bob", events.TypeOfferAccept, &events.OfferAccept{JobID: "j1", OfferID: o.OfferID, WorkerID: "alice"}), events.ErrForbidden)
	requireRefused(t, as("bob", events.TypeWorkerDeregister, &events.WorkerDeregister{WorkerID: "alice"}), events.ErrForbidden)
	requireRefused(t, as("bob", events.TypeJobCancel, &events.JobCancel{JobID: "j1"}), events.ErrForbidden)
	out := as("alice", events.TypeOfferAccept, &events.OfferAccept{JobID: "j1", OfferID: o.OfferID, WorkerID: "alice"})
	requireOK(t, out)
	asg := out.Reply.AssignmentID
	requireRefused(t, as("bob", events.TypeJobComplete, &events.JobComplete{JobID: "j1", AssignmentID: asg}), events.ErrForbidden)
	requireRefused(t, as("bob", events.TypeJobClose, &events.JobClose{JobID: "j1", AssignmentID: asg}), events.ErrForbidden)
	requireOK(t, as("alice", events.TypeJobComplete, &events.JobComplete{JobID: "j1", AssignmentID: asg}))
	// an unknown job is the command's own refusal, whoever sends it
	requireRefused(t, as("bob", events.TypeJobComplete, &events.JobComplete{JobID: "nope", AssignmentID: asg}), events.ErrUnknownJob)
}
