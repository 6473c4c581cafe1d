package matcher

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

// One job, one worker that lacks one condition of eligibility: no offer.
func TestEligibility(t *testing.T) {
	tests := []struct {
		name   string
		worker []func(*events.WorkerRegister)
		job    []func(*events.JobCreated)
		// setup runs after the worker registered and before the job is created
		setup func(h *harness)
		want  bool
	}{
		{name: "eligible", want: true},
		{name: "not available", worker: fns(wAvailable(false))},
		{name: "deregistered", setup: func(h *harness) { requireOK(h.t, h.deregister("w")) }},
		{name: "not in the queue", worker: fns(wQueues("q2", "q3"))},
		{name: "in the queue among others", worker: fns(wQueues("q0", "q1", "q2")), want: true},
		{name: "no such channel", job: fns(jChannel("chat"))},
		{name: "cost above total capacity", worker: fns(wCapacity(2, ch("voice", 3, 0)))},
		{name: "cost equal to total capacity", worker: fns(wCapacity(3, ch("voice", 3, 0))), want: true},
		{name: "capacity taken by a held job", worker: fns(wCapacity(2, ch("voice", 2, 0), ch("chat", 1, 0))), setup: holdChat},
		{name: "room left after a held job", worker: fns(wCapacity(3, ch("voice", 2, 0), ch("chat", 1, 0))), setup: holdChat, want: true},
		{name: "channel max reached", worker: fns(wCapacity(10, ch("voice", 1, 1))), setup: holdVoice},
		{name: "channel max not reached", worker: fns(wCapacity(10, ch("voice", 1, 2))), setup: holdVoice, want: true},
		{name: "other channel's max does not matter", worker: fns(wCapacity(10, ch("voice", 1, 0), ch("chat", 1, 1))), setup: holdChat, want: true},
		{name: "outstanding offer takes capacity", worker: fns(wCapacity(2, ch("voice", 2, 0), ch("chat", 1, 0))), setup: offerChat},
		{name: "outstanding offer counts on the channel", worker: fns(wCapacity(10, ch("voice", 1, 1))), setup: offerVoice},
		{name: "selector satisfied", worker: fns(wLabels(events.Labels{"skill": float64(4)})), job: fns(jSelectors(sel("skill", events.OpGreaterThan, float64(3)))), want: true},
		{name: "selector not satisfied", worker: fns(wLabels(events.Labels{"skill": float64(3)})), job: fns(jSelectors(sel("skill", events.OpGreaterThan, float64(3))))},
		{name: "selector on missing label", job: fns(jSelectors(sel("skill", events.OpNotEqual, float64(3))))},
		{name: "one of two selectors fails", worker: fns(wLabels(events.Labels{"skill": float64(4), "lang": "en"})), job: fns(jSelectors(sel("skill", events.OpGreaterThan, float64(3)), sel("lang", events.OpEqual, "fr")))},
		{name: "implicit id", job: fns(jSelectors(sel("id", events.OpEqual, "w"))), want: true},
		{name: "implicit id of another worker", job: fns(jSelectors(sel("id", events.OpEqual, "x")))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			requireOK(t, h.register("w", tt.worker...))
			if tt.setup != nil {
				tt.setup(h)
			}
			requireOK(t, h.create("job", "q1", tt.job...))
			if tt.want {
				require.Equal(t, "w", h.offeredTo("job"))
			} else {
				require.Equal(t, "", h.offeredTo("job"))
			}
			// the engine's own predicate agrees
			h.e.now = h.now
			_, ok := h.e.eligible(h.e.jobs["job"], h.e.workers["w"], nil, false)
			if tt.want {
				require.False(t, ok, "not eligible twice: the worker already has the offer")
			} else {
				require.False(t, ok)
			}
			checkInvariants(t, h.e)
		})
	}
}

func fns[T any](f ...func(T)) []func(T) { return f }

// hold* and offer* give worker "w" a held job or an outstanding offer on a channel.
func holdChat(h *harness)  { hold(h, "chat", true) }
func holdVoice(h *harness) { hold(h, "voice", true) }
func offerChat(h *harness) { hold(h, "chat", false) }
func offerVoice(h *harness) {
	hold(h, "voice", false)
}

func hold(h *harness, channel string, accept bool) {
	h.t.Helper()
	requireOK(h.t, h.create("held", "q1", jChannel(channel)))
	require.Equal(h.t, "w", h.offeredTo("held"))
	if accept {
		h.assign("held", "w")
	}
}

// Outstanding offers count against capacity; the channel cap counts them too.
func TestCapacityAndChannelCaps(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("w", wCapacity(4, ch("chat", 1, 3), ch("voice", 3, 1))))
	for _, id := range []string{"c1", "c2", "c3", "c4"} {
		requireOK(t, h.create(id, "q1", jChannel("chat")))
	}
	require.Equal(t, "w", h.offeredTo("c1"))
	require.Equal(t, "w", h.offeredTo("c2"))
	require.Equal(t, "w", h.offeredTo("c3"))
	require.Equal(t, "", h.offeredTo("c4"), "chat max 3")
	require.Equal(t, 3, h.worker("w").UsedCapacity)
	requireOK(t, h.create("v1", "q1"))
	require.Equal(t, "", h.offeredTo("v1"), "3 used + 3 > 4")

	// declining one chat frees room: voice (cost 3) still does not fit, c4 does
	out := h.decline("c1", h.offerFor("c1").OfferID, "w", nil)
	require.Equal(t, []string{"c4"}, jobIDs(out.issued()))
	a2, a3 := h.assign("c2", "w"), h.assign("c3", "w")
	h.assign("c4", "w")
	requireOK(t, h.complete("c2", a2))
	out = h.close("c2", a2, "", nil)
	require.Empty(t, out.issued(), "2 used + 3 > 4")
	requireOK(t, h.complete("c3", a3))
	out = h.close("c3", a3, "", nil)
	require.Equal(t, []string{"v1"}, jobIDs(out.issued()), "1 used + 3 <= 4")
	require.Equal(t, 3, out.issued()[0].CapacityCost)
	require.Equal(t, 4, h.worker("w").UsedCapacity)
	require.Equal(t, 1.0, h.worker("w").LoadRatio)
	checkInvariants(t, h.e)
}

func jobIDs(os []events.Offer) []string {
	var out []string
	for _, o := range os {
		out = append(out, o.JobID)
	}
	return out
}

// Among eligible workers: lowest load ratio, then longest idle (last assignment or
// registration), then worker id.
func TestWorkerOrder(t *testing.T) {
	at := func(s int) *time.Time { x := t0.Add(time.Duration(s) * time.Second); return &x }
	mk := func(id string, total, used int, registered int, lastAssigned *time.Time) *Worker {
		w := &Worker{Worker: events.Worker{WorkerID: id, TotalCapacity: total, RegisteredAt: *at(registered), LastAssignedAt: lastAssigned}}
		if used > 0 {
			w.Loads = []Load{{JobID: "x", ChannelID: "voice", Cost: used}}
		}
		return w
	}
	tests := []struct {
		name          string
		first, second *Worker
	}{
		{"lower load ratio", mk("b", 4, 1, 10, at(50)), mk("a", 2, 1, 0, nil)},
		{"idle beats half busy", mk("z", 10, 0, 99, at(99)), mk("a", 2, 1, 0, nil)},
		{"earlier last assignment", mk("b", 1, 0, 10, at(20)), mk("a", 1, 0, 0, at(30))},
		{"never assigned: earlier registration", mk("b", 1, 0, 10, nil), mk("a", 1, 0, 20, nil)},
		{"registration vs assignment time", mk("b", 1, 0, 0, at(15)), mk("a", 1, 0, 16, nil)},
		{"tie: lower id", mk("a", 1, 0, 10, nil), mk("b", 1, 0, 10, nil)},
		{"tie on assignment: lower id", mk("a", 3, 0, 1, at(5)), mk("b", 1, 0, 0, at(5))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.True(t, before(tt.first, tt.second))
			require.False(t, before(tt.second, tt.first))
			ws := []*Worker{tt.second, tt.first}
			sortWorkers(ws)
			require.Equal(t, tt.first.WorkerID, ws[0].WorkerID)
		})
	}
	require.False(t, before(mk("a", 1, 0, 0, nil), mk("a", 1, 0, 0, nil)), "irreflexive")
}

// The same order, through the engine: the longest-idle worker gets the job.
func TestLongestIdleWorkerGetsTheJob(t *testing.T) {
	h := newHarness(t, Config{})
	for _, id := range []string{"carol", "alice", "bob"} {
		requireOK(t, h.register(id, wCapacity(2)))
	}
	h.advance(time.Second)
	requireOK(t, h.register("dave", wCapacity(2)))
	// all registered at t0 except dave: ties broken by id
	requireOK(t, h.create("j1", "q1"))
	require.Equal(t, "alice", h.offeredTo("j1"))
	h.advance(time.Second)
	h.assign("j1", "alice")
	// alice is half busy now: bob (id), then carol, then dave (registered later)
	requireOK(t, h.create("j2", "q1"))
	require.Equal(t, "bob", h.offeredTo("j2"))
	requireOK(t, h.create("j3", "q1"))
	require.Equal(t, "carol", h.offeredTo("j3"))
	requireOK(t, h.create("j4", "q1"))
	require.Equal(t, "dave", h.offeredTo("j4"))
	// everyone is half busy (offers count); bob's and carol's offers are accepted later
	h.advance(time.Second)
	h.assign("j3", "carol")
	h.advance(time.Second)
	h.assign("j2", "bob")
	h.advance(time.Second)
	h.assign("j4", "dave")
	// equal load: alice was assigned first (t0+2s), then carol, bob, dave
	requireOK(t, h.create("j5", "q1"))
	require.Equal(t, "alice", h.offeredTo("j5"))
	requireOK(t, h.create("j6", "q1"))
	require.Equal(t, "carol", h.offeredTo("j6"))
	requireOK(t, h.create("j7", "q1"))
	require.Equal(t, "bob", h.offeredTo("j7"))
	requireOK(t, h.create("j8", "q1"))
	require.Equal(t, "dave", h.offeredTo("j8"))
	checkInvariants(t, h.e)
}

// A newly registered worker is matched against the waiting jobs at once.
func TestNewWorkerIsMatchedAtOnce(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.create("j1", "q1", jPriority(1)))
	requireOK(t, h.create("j2", "q1", jPriority(5)))
	requireOK(t, h.create("j3", "q2"))
	out := h.register("alice", wQueues("q1", "q2"), wCapacity(2))
	requireOK(t, out)
	require.Equal(t, "active", out.Reply.Status)
	require.Equal(t, []events.Type{events.TypeWorkerRegistered, events.TypeOfferIssued, events.TypeOfferIssued}, out.types())
	reg := out.Evs[0].Worker
	require.Equal(t, "alice", reg.WorkerID)
	require.Equal(t, "active", reg.State)
	require.True(t, reg.AvailableForOffers)
	require.Equal(t, []string{"q1", "q2"}, reg.Queues)
	require.Equal(t, t0, reg.RegisteredAt)
	// q1 is matched first (queue id order), highest priority first
	require.Equal(t, []string{"j2", "j1"}, jobIDs(out.issued()))
	require.Equal(t, "", h.offeredTo("j3"))
}

// Deregistering revokes the worker's outstanding offers; the jobs go to other workers.
func TestDeregisterRevokesOffers(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice", wCapacity(3)))
	h.advance(time.Second)
	requireOK(t, h.register("bob", wCapacity(1)))
	requireOK(t, h.create("held", "q1"))
	h.assign("held", "alice")
	requireOK(t, h.create("j1", "q1"))
	requireOK(t, h.create("j2", "q1"))
	require.Equal(t, "bob", h.offeredTo("j1"), "alice is a third busy, bob idle")
	require.Equal(t, "alice", h.offeredTo("j2"))
	o2 := h.offerFor("j2")

	out := h.deregister("alice")
	requireOK(t, out)
	require.Equal(t, events.WorkerDraining, out.Reply.Status, "alice still holds a job")
	require.Equal(t, []events.Type{events.TypeOfferRevoked, events.TypeWorkerDeregistered}, out.types())
	rev := out.Evs[0].Offer
	require.Equal(t, o2.OfferID, rev.OfferID)
	require.Equal(t, events.RevokedWorkerDeregistered, rev.Reason)
	w := out.Evs[1].Worker
	require.False(t, w.AvailableForOffers)
	require.Equal(t, events.WorkerDraining, w.State)
	require.Equal(t, []string{"held"}, w.AssignedJobIDs)
	require.Empty(t, w.OfferIDs)
	requireRefused(t, h.accept("j2", o2.OfferID, "alice"), events.ErrOfferRevoked)
	require.Equal(t, "", h.offeredTo("j2"), "bob is full")

	// bob declines j1: it goes nowhere (alice is away), and bob takes j2 instead
	out = h.decline("j1", h.offerFor("j1").OfferID, "bob", nil)
	require.Equal(t, []string{"j2"}, jobIDs(out.issued()))

	// alice's held job can still be finished; she becomes inactive
	a := h.job("held").Assignment.AssignmentID
	requireOK(t, h.complete("held", a))
	out = h.close("held", a, "Resolved", nil)
	requireOK(t, out)
	require.Empty(t, out.issued(), "an unavailable worker gets no offers")
	require.Equal(t, events.WorkerInactive, h.worker("alice").State)
	checkInvariants(t, h.e)
	requireKVMatches(t, h.kv, h.e)
}

// The job of a revoked offer goes to another worker in the same command.
func TestDeregisterMovesJobToAnotherWorker(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	h.advance(time.Second)
	requireOK(t, h.register("bob"))
	requireOK(t, h.create("j1", "q1"))
	require.Equal(t, "alice", h.offeredTo("j1"))
	out := h.deregister("alice")
	require.Equal(t, []events.Type{events.TypeOfferRevoked, events.TypeWorkerDeregistered, events.TypeOfferIssued}, out.types())
	require.Equal(t, "bob", h.offeredTo("j1"))
	require.Equal(t, events.WorkerInactive, out.Reply.Status)
}

// An update with availableForOffers false is a deregistration.
func TestUpdateUnavailableIsDeregistration(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	h.advance(time.Second)
	requireOK(t, h.register("bob"))
	requireOK(t, h.create("j1", "q1"))
	o := h.offerFor("j1")
	require.Equal(t, "alice", o.WorkerID)
	out := h.update(events.WorkerRegister{WorkerID: "alice", AvailableForOffers: new(false)})
	requireOK(t, out)
	require.Equal(t, []events.Type{events.TypeOfferRevoked, events.TypeWorkerDeregistered, events.TypeOfferIssued}, out.types())
	require.Equal(t, events.RevokedWorkerDeregistered, out.Evs[0].Offer.Reason)
	require.Equal(t, "patchbay.events.worker.alice.deregistered", out.Evs[1].Subject)
	require.Equal(t, "bob", h.offeredTo("j1"))
	require.Equal(t, events.WorkerInactive, h.worker("alice").State)

	// an update that changes nothing about availability is worker.updated
	out = h.update(events.WorkerRegister{WorkerID: "alice", Labels: events.Labels{"lang": "fr"}})
	require.Equal(t, []events.Type{events.TypeWorkerUpdated}, out.types())
	require.Equal(t, events.Labels{"lang": "fr"}, h.worker("alice").Labels)
	require.Equal(t, []string{"q1"}, h.worker("alice").Queues, "fields the update does not carry are kept")
	checkInvariants(t, h.e)
}

// An update that leaves a queue revokes the offers of that queue, and keeps the others.
func TestUpdateLeavingQueueRevokesItsOffers(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice", wQueues("q1", "q2"), wCapacity(2)))
	h.advance(time.Second)
	requireOK(t, h.register("bob", wQueues("q1")))
	requireOK(t, h.create("j1", "q1"))
	requireOK(t, h.create("j2", "q2"))
	require.Equal(t, "alice", h.offeredTo("j1"))
	require.Equal(t, "alice", h.offeredTo("j2"))
	o1, o2 := h.offerFor("j1"), h.offerFor("j2")

	out := h.update(events.WorkerRegister{WorkerID: "alice", Queues: []string{"q2"}})
	requireOK(t, out)
	require.Equal(t, []events.Type{events.TypeOfferRevoked, events.TypeWorkerUpdated, events.TypeOfferIssued}, out.types())
	require.Equal(t, o1.OfferID, out.Evs[0].Offer.OfferID)
	require.Equal(t, "bob", out.issued()[0].WorkerID)
	require.Equal(t, o2.OfferID, h.offerFor("j2").OfferID, "the q2 offer stays")
	require.Equal(t, []string{"q2"}, h.worker("alice").Queues)

	// a register that leaves q2 does the same
	out = h.register("alice", wQueues("q3"), wCapacity(2))
	require.Equal(t, o2.OfferID, out.ofType(events.TypeOfferRevoked)[0].Offer.OfferID)
	require.Equal(t, "", h.offeredTo("j2"))
	checkInvariants(t, h.e)
}

// Shrinking a worker's capacity or channels revokes the outstanding offers that no
// longer fit: offers never hold more than the worker has (design invariant 3).
func TestShrinkingCapacityRevokesOffersThatNoLongerFit(t *testing.T) {
	tests := []struct {
		name  string
		apply func(h *harness) outcome
		keep  int // offers left
	}{
		{"update totalCapacity", func(h *harness) outcome {
			return h.update(events.WorkerRegister{WorkerID: "w", TotalCapacity: intPtr(1)})
		}, 1},
		{"update channel max", func(h *harness) outcome {
			return h.update(events.WorkerRegister{WorkerID: "w", Channels: []events.ChannelConfig{ch("chat", 1, 2)}})
		}, 2},
		{"update capacity and channels together", func(h *harness) outcome {
			return h.update(events.WorkerRegister{WorkerID: "w", TotalCapacity: intPtr(2), Channels: []events.ChannelConfig{ch("chat", 1, 0)}})
		}, 2},
		{"update drops the channel", func(h *harness) outcome {
			return h.update(events.WorkerRegister{WorkerID: "w", Channels: []events.ChannelConfig{ch("voice", 1, 0)}})
		}, 0},
		{"register with less", func(h *harness) outcome {
			return h.register("w", wCapacity(3, ch("chat", 1, 0)))
		}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			requireOK(t, h.register("w", wCapacity(4, ch("chat", 1, 0))))
			var offers []string
			for _, id := range []string{"c1", "c2", "c3", "c4"} {
				requireOK(t, h.create(id, "q1", jChannel("chat")))
				offers = append(offers, h.offerFor(id).OfferID)
			}
			out := tt.apply(h)
			requireOK(t, out)
			checkInvariants(t, h.e)
			revoked := out.ofType(events.TypeOfferRevoked)
			require.Len(t, revoked, 4-tt.keep)
			for i, r := range revoked {
				require.Equal(t, offers[3-i], r.Offer.OfferID, "newest offers go first")
			}
			require.Len(t, h.worker("w").OfferIDs, tt.keep)
			checkInvariants(t, h.e)
		})
	}
}

// The offer expiry is per queue when configured, else the engine's.
func TestOfferExpiryPerQueue(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: 10 * time.Second, QueueOfferExpiry: map[string]time.Duration{"fast": 2 * time.Second}})
	requireOK(t, h.register("w", wQueues("fast", "slow"), wCapacity(2)))
	requireOK(t, h.create("f", "fast"))
	requireOK(t, h.create("s", "slow"))
	f, s := h.offerFor("f"), h.offerFor("s")
	require.Equal(t, t0.Add(2*time.Second), f.ExpiresAt)
	require.Equal(t, t0.Add(10*time.Second), s.ExpiresAt)
	require.Equal(t, deadline{t0.Add(2 * time.Second), true}, nextDeadline(h.e))

	out := h.tick(t0.Add(2 * time.Second))
	require.Equal(t, []events.Type{events.TypeOfferExpired, events.TypeOfferIssued}, out.types())
	require.Equal(t, f.OfferID, out.Evs[0].Offer.OfferID)
	require.Equal(t, t0.Add(4*time.Second), out.issued()[0].ExpiresAt)
	require.Equal(t, s.OfferID, h.offerFor("s").OfferID)

	out = h.tick(t0.Add(10 * time.Second))
	var expired []string
	for _, e := range out.ofType(events.TypeOfferExpired) {
		expired = append(expired, e.Offer.JobID)
	}
	require.ElementsMatch(t, []string{"f", "s"}, expired, "f's second offer (t0+4s) and s's offer both expired by t0+10s")
	checkInvariants(t, h.e)
}
