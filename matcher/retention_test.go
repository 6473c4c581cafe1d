package matcher

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

const testRetention = time.Hour

// requireForgotten checks that nothing in the engine or the KV refers to a job any more.
func requireForgotten(t *testing.T, h *harness, jobID string) {
	t.Helper()
	_, ok := h.e.jobs[jobID]
	require.False(t, ok, "job %s is still in memory", jobID)
	require.NotContains(t, h.kv[events.BucketJobs], jobID)
	require.Empty(t, h.e.offersByJob[jobID])
	for id, o := range h.e.offers {
		require.NotEqual(t, jobID, o.JobID, "offer %s of job %s is still in memory", id, jobID)
	}
	for k, v := range h.kv[events.BucketOffers] {
		var o Offer
		require.NoError(t, json.Unmarshal(v, &o))
		require.NotEqual(t, jobID, o.JobID, "offer %s of job %s is still in the KV", k, jobID)
	}
	for k, v := range h.kv[events.BucketQueues] {
		require.NotEqual(t, jobID, string(v), "queue entry %s of job %s is still in the KV", k, jobID)
	}
	for _, q := range h.e.queues {
		for _, j := range q.jobs {
			require.NotEqual(t, jobID, j.JobID)
		}
	}
	for _, w := range h.e.workers {
		for _, l := range w.Loads {
			require.NotEqual(t, jobID, l.JobID, "worker %s still holds job %s", w.WorkerID, jobID)
		}
	}
}

// requireWorkerForgotten checks that nothing in the engine or the KV refers to a
// worker any more, but the accepted offers that jobs' assignments name.
func requireWorkerForgotten(t *testing.T, h *harness, workerID string) {
	t.Helper()
	_, ok := h.e.workers[workerID]
	require.False(t, ok, "worker %s is still in memory", workerID)
	require.NotContains(t, h.kv[events.BucketWorkers], workerID)
	for w := range h.e.index.keys {
		require.NotEqual(t, workerID, w.WorkerID)
	}
	for _, set := range h.e.index.queue {
		for w := range set {
			require.NotEqual(t, workerID, w.WorkerID)
		}
	}
	for id, o := range h.e.offers {
		if o.WorkerID == workerID {
			j := h.e.jobs[o.JobID]
			require.True(t, j != nil && j.Assignment != nil && j.Assignment.OfferID == id, "offer %s of worker %s is kept", id, workerID)
		}
	}
	for id, j := range h.e.jobs {
		if j.status().Terminal() {
			continue
		}
		_, declined := j.Declined[workerID]
		require.False(t, declined, "job %s keeps a decline of %s", id, workerID)
		require.Zero(t, j.expiryRank(workerID), "job %s keeps an expiry of %s", id, workerID)
	}
}

// Each way a job ends is forgotten Retention after it ended, with its offers and
// nothing else; a moment earlier it is all still there.
func TestForgetJob(t *testing.T) {
	tests := []struct {
		name string
		// run drives the job to its end and returns its id and when it ended.
		run func(t *testing.T, h *harness) (string, time.Time)
		// offers is how many offers of the job are kept until it is forgotten.
		offers int
	}{
		{"closed", func(t *testing.T, h *harness) (string, time.Time) {
			requireOK(t, h.create("j1", "q1"))
			a := h.assign("j1", "alice")
			h.advance(time.Minute)
			requireOK(t, h.complete("j1", a))
			h.advance(time.Minute)
			requireOK(t, h.close("j1", a, "Resolved", nil))
			return "j1", h.now
		}, 1},
		{"closed at a scheduled time", func(t *testing.T, h *harness) (string, time.Time) {
			requireOK(t, h.create("j1", "q1"))
			a := h.assign("j1", "alice")
			requireOK(t, h.complete("j1", a))
			at := h.now.Add(10 * time.Minute)
			requireOK(t, h.close("j1", a, "Resolved", &at))
			require.Len(t, h.tick(at).ofType(events.TypeJobClosed), 1)
			return "j1", at
		}, 1},
		{"cancelled while queued, with offers of it", func(t *testing.T, h *harness) (string, time.Time) {
			requireOK(t, h.register("bob"))
			requireOK(t, h.create("j1", "q1"))
			o := h.offerFor("j1")
			h.tick(o.ExpiresAt) // expired for one, offered to the other
			require.NotEmpty(t, h.outstanding("j1"))
			requireOK(t, h.cancel("j1"))
			return "j1", h.now
		}, 2},
		{"cancelled while assigned", func(t *testing.T, h *harness) (string, time.Time) {
			requireOK(t, h.create("j1", "q1"))
			h.assign("j1", "alice")
			h.advance(time.Minute)
			requireOK(t, h.cancel("j1"))
			return "j1", h.now
		}, 1},
		{"cancelled while scheduled", func(t *testing.T, h *harness) (string, time.Time) {
			at := h.now.Add(time.Hour)
			requireOK(t, h.create("j1", "q1", jMode(events.MatchScheduleAndSuspend, &at)))
			requireOK(t, h.cancel("j1"))
			return "j1", h.now
		}, 0},
		{"cancelled when its time to live ran out", func(t *testing.T, h *harness) (string, time.Time) {
			requireOK(t, h.deregister("alice"))
			requireOK(t, h.create("j1", "q1", func(d *events.JobCreated) { d.TimeToLiveSeconds = 90 }))
			at := h.now.Add(90 * time.Second)
			require.Len(t, h.tick(at).ofType(events.TypeJobCancelled), 1)
			return "j1", at
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{OfferExpiry: 10 * time.Second, Retention: testRetention})
			requireOK(t, h.register("alice"))
			id, ended := tt.run(t, h)
			require.True(t, h.job(id).Status == string(lifecycle.JobClosed) || h.job(id).Status == string(lifecycle.JobCancelled))
			require.Equal(t, ended, *h.e.jobs[id].EndedAt)
			require.Len(t, h.e.offersByJob[id], tt.offers)
			forgetAt := ended.Add(testRetention)

			// reloaded with the forget timer pending: the same engine
			requireSameEngine(t, h.e, h.reload().e)

			h.tick(forgetAt.Add(-time.Nanosecond))
			_, ok := h.e.Job(id)
			require.True(t, ok, "forgotten before its retention ran out")

			out := h.tick(forgetAt)
			require.Empty(t, out.Evs, "forgetting publishes nothing")
			deletes := 0
			for _, op := range out.Ops {
				if op.Key == SeqKey {
					require.Equal(t, "1", string(op.Value), "the enqueue sequence is kept")
					continue
				}
				require.Nil(t, op.Value, "forgetting writes only deletes: %s %s", op.Bucket, op.Key)
				deletes++
			}
			require.Equal(t, 1+tt.offers, deletes, "the job and its offers")
			requireForgotten(t, h, id)
			requireKVMatches(t, h.kv, h.e)
			checkInvariants(t, h.e)
			checkRetained(t, h.e)
			requireSameEngine(t, h.e, h.reload().e)
			requireRefused(t, h.cancel(id), events.ErrUnknownJob)
		})
	}
}

// A rejected job is never stored: there is nothing to forget.
func TestRejectedJobIsNotStored(t *testing.T) {
	h := newHarness(t, Config{Retention: testRetention})
	out := h.create("bad", "q1", jPriority(150))
	require.NotNil(t, out.Err)
	require.Equal(t, []events.Type{events.TypeJobRejected}, out.types())
	require.Empty(t, out.Ops)
	_, ok := h.e.Job("bad")
	require.False(t, ok)
	_, ok = h.e.NextDeadline()
	require.False(t, ok)
}

// An inactive worker is forgotten Retention after it became inactive: when it
// deregistered holding nothing, or when it released its last job while deregistered.
// A command about it before then restarts the clock.
func TestForgetWorker(t *testing.T) {
	tests := []struct {
		name string
		// run makes alice inactive and returns when she became so.
		run func(t *testing.T, h *harness) time.Time
	}{
		{"deregistered idle", func(t *testing.T, h *harness) time.Time {
			requireOK(t, h.deregister("alice"))
			return h.now
		}},
		{"registered unavailable", func(t *testing.T, h *harness) time.Time {
			requireOK(t, h.register("alice", wAvailable(false)))
			return h.now
		}},
		{"deregistered with an outstanding offer", func(t *testing.T, h *harness) time.Time {
			requireOK(t, h.create("j1", "q1"))
			require.Equal(t, "alice", h.offeredTo("j1"))
			requireOK(t, h.deregister("alice")) // the offer is revoked: she holds nothing
			return h.now
		}},
		{"deregistered holding a job, released later", func(t *testing.T, h *harness) time.Time {
			requireOK(t, h.create("j1", "q1"))
			a := h.assign("j1", "alice")
			requireOK(t, h.deregister("alice"))
			require.Equal(t, events.WorkerDraining, h.worker("alice").State)
			h.advance(2 * testRetention) // draining workers are kept however long
			h.tick(h.now)
			requireOK(t, h.complete("j1", a))
			h.advance(time.Minute)
			requireOK(t, h.close("j1", a, "Resolved", nil))
			return h.now
		}},
		{"deregistered holding a job, unassigned later", func(t *testing.T, h *harness) time.Time {
			requireOK(t, h.create("j1", "q1"))
			a := h.assign("j1", "alice")
			requireOK(t, h.deregister("alice"))
			h.advance(time.Minute)
			requireOK(t, h.unassign("j1", a, true))
			return h.now
		}},
		{"registered again before it was forgotten", func(t *testing.T, h *harness) time.Time {
			requireOK(t, h.deregister("alice"))
			h.advance(testRetention / 2)
			requireOK(t, h.register("alice"))
			h.tick(h.now.Add(testRetention / 2)) // the first forget does nothing
			requireOK(t, h.deregister("alice"))
			return h.now
		}},
		{"updated while inactive", func(t *testing.T, h *harness) time.Time {
			requireOK(t, h.deregister("alice"))
			h.advance(testRetention / 2)
			requireOK(t, h.update(events.WorkerRegister{WorkerID: "alice", Labels: events.Labels{"lang": "fr"}}))
			return h.now
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{Retention: testRetention})
			requireOK(t, h.register("alice"))
			h.advance(time.Minute)
			since := tt.run(t, h)
			require.Equal(t, events.WorkerInactive, h.worker("alice").State)
			require.Equal(t, since, *h.e.workers["alice"].InactiveSince)
			requireSameEngine(t, h.e, h.reload().e)

			h.tick(since.Add(testRetention - time.Nanosecond))
			_, ok := h.e.Worker("alice")
			require.True(t, ok, "forgotten before its retention ran out")
			out := h.tick(since.Add(testRetention))
			require.Empty(t, out.Evs, "forgetting publishes nothing")
			require.Contains(t, out.Ops, Op{Bucket: events.BucketWorkers, Key: "alice"})
			requireWorkerForgotten(t, h, "alice")
			requireKVMatches(t, h.kv, h.e)
			checkInvariants(t, h.e)
			checkRetained(t, h.e)
			requireSameEngine(t, h.e, h.reload().e)
			requireRefused(t, h.deregister("alice"), events.ErrUnknownWorker)

			// she may register again, as a new worker
			requireOK(t, h.register("alice"))
			require.Equal(t, events.WorkerActive, h.worker("alice").State)
		})
	}
}

// A worker forgotten and registered again starts a new epoch: a job it declined may
// be offered to it again, as after any new registration (invariant 2), while a worker
// that stayed registered is still never offered the job it declined.
func TestForgottenWorkerDeclinesSemantics(t *testing.T) {
	h := newHarness(t, Config{Retention: testRetention})
	requireOK(t, h.register("alice"))
	requireOK(t, h.register("bob"))
	requireOK(t, h.create("j1", "q1"))
	first := h.offeredTo("j1")
	requireOK(t, h.decline("j1", h.offerFor("j1").OfferID, first, nil))
	second := h.offeredTo("j1")
	requireOK(t, h.decline("j1", h.offerFor("j1").OfferID, second, nil))
	require.Equal(t, "", h.offeredTo("j1"))
	require.ElementsMatch(t, []string{"alice", "bob"}, []string{first, second})
	old := h.e.workers["alice"].Epoch
	require.Equal(t, old, h.e.jobs["j1"].Declined["alice"].Epoch)

	requireOK(t, h.deregister("alice"))
	h.tick(h.now.Add(testRetention))
	requireWorkerForgotten(t, h, "alice")
	require.Contains(t, h.e.jobs["j1"].Declined, "bob", "bob's decline stays")
	require.Len(t, h.e.offersByJob["j1"], 1, "bob's declined offer stays, alice's is gone")
	requireSameEngine(t, h.e, h.reload().e)

	h.advance(time.Minute)
	out := h.register("alice")
	requireOK(t, out)
	require.Greater(t, h.e.workers["alice"].Epoch, old)
	require.Equal(t, "alice", h.offeredTo("j1"))
	requireOK(t, h.decline("j1", h.offerFor("j1").OfferID, "alice", nil))
	require.Equal(t, "", h.offeredTo("j1"), "bob declined it and never left")
	checkInvariants(t, h.e)
	checkRetained(t, h.e)
}

// Epochs never repeat one a stored decline recorded, even for a worker that is gone
// from the store (state written before forgetting cleaned declines, or a clock that
// went back): Load takes the largest stored epoch as the floor.
func TestEpochAboveEveryStoredDecline(t *testing.T) {
	h := newHarness(t, Config{Retention: testRetention})
	requireOK(t, h.register("bob"))
	requireOK(t, h.create("j1", "q1"))
	requireOK(t, h.decline("j1", h.offerFor("j1").OfferID, "bob", nil))
	requireOK(t, h.deregister("bob"))
	h.tick(h.now.Add(testRetention))
	requireWorkerForgotten(t, h, "bob")

	// a stored job that remembers alice declining it in an epoch far in the future
	var j Job
	require.NoError(t, json.Unmarshal(h.kv[events.BucketJobs]["j1"], &j))
	future := uint64(h.now.Add(1000 * time.Hour).UnixNano())
	j.Declined = map[string]Decline{"alice": {Epoch: future}}
	h.kv[events.BucketJobs]["j1"] = mustJSON(&j)
	h2 := h.reload()
	requireOK(t, h2.register("alice"))
	require.Greater(t, h2.e.workers["alice"].Epoch, future)
	require.Equal(t, "alice", h2.offeredTo("j1"), "a new registration: the old decline does not apply")
}

// A job offered and expired again and again keeps one ended offer per worker; a late
// answer to the last one still says it expired.
func TestOffersBoundedPerJob(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: 5 * time.Second, Retention: testRetention})
	requireOK(t, h.register("alice"))
	requireOK(t, h.register("bob"))
	requireOK(t, h.create("j1", "q1"))
	var all []events.Offer
	for range 1000 {
		o := h.offerFor("j1")
		all = append(all, o)
		h.tick(o.ExpiresAt)
		require.LessOrEqual(t, len(h.e.offers), 3, "one outstanding, one ended per worker")
	}
	last, first := all[len(all)-1], all[0]
	require.Len(t, h.e.offersByJob["j1"], 3)
	require.Len(t, h.kv[events.BucketOffers], 3)
	requireRefused(t, h.accept("j1", last.OfferID, last.WorkerID), events.ErrOfferExpired)
	requireRefused(t, h.accept("j1", first.OfferID, first.WorkerID), events.ErrUnknownOffer)
	o := h.offerFor("j1")
	a := h.assign("j1", o.WorkerID)
	dup := h.accept("j1", o.OfferID, o.WorkerID)
	requireOK(t, dup)
	require.True(t, dup.Reply.Duplicate, "the accepted offer answers a repeated accept")
	requireOK(t, h.complete("j1", a))
	requireOK(t, h.close("j1", a, "Resolved", nil))
	checkInvariants(t, h.e)
	checkRetained(t, h.e)
	requireSameEngine(t, h.e, h.reload().e)
}

// Jobs and workers stored before they had endedAt / inactiveSince are forgotten
// Retention after their latest recorded time.
func TestForgetStoredWithoutStamps(t *testing.T) {
	h := newHarness(t, Config{Retention: testRetention})
	requireOK(t, h.register("alice"))
	requireOK(t, h.create("j1", "q1"))
	a := h.assign("j1", "alice")
	requireOK(t, h.complete("j1", a))
	h.advance(time.Minute)
	requireOK(t, h.close("j1", a, "Resolved", nil))
	closedAt := h.now
	h.advance(time.Minute)
	requireOK(t, h.create("j2", "q1", jMode(events.MatchSuspend, nil)))
	h.advance(time.Minute)
	requireOK(t, h.cancel("j2"))
	requireOK(t, h.register("erin", wAvailable(false)))
	registered := h.now

	strip := func(bucket, key string, clear func(m map[string]any)) {
		var m map[string]any
		require.NoError(t, json.Unmarshal(h.kv[bucket][key], &m))
		clear(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		h.kv[bucket][key] = b
	}
	strip(events.BucketJobs, "j1", func(m map[string]any) { delete(m, "endedAt") })
	strip(events.BucketJobs, "j2", func(m map[string]any) { delete(m, "endedAt") })
	strip(events.BucketWorkers, "erin", func(m map[string]any) { delete(m, "inactiveSince") })
	h2 := h.reload()
	j2 := h2.e.jobs["j2"]
	require.Nil(t, j2.EndedAt)
	require.Equal(t, closedAt, h2.e.jobs["j1"].endedAt(), "a closed job ended when it closed")
	require.Equal(t, j2.CreatedAt, j2.endedAt(), "a cancelled job without times ended no earlier than it was created")
	require.Equal(t, registered, h2.e.workers["erin"].inactiveSince())

	next, ok := h2.e.NextDeadline()
	require.True(t, ok)
	require.Equal(t, closedAt.Add(testRetention), next)
	h2.tick(registered.Add(testRetention))
	requireForgotten(t, h2, "j1")
	requireForgotten(t, h2, "j2")
	requireWorkerForgotten(t, h2, "erin")
	checkInvariants(t, h2.e)
	checkRetained(t, h2.e)
}

// Two engines, one reloaded from the other's KV, forget the same things at the same
// times and write the same Ops; and a reload at any point gives the same engine.
func TestReloadForgetsInLockstep(t *testing.T) {
	h := richState(t, 5*time.Minute)
	h2 := h.reload()
	requireSameEngine(t, h.e, h2.e)
	for i := 0; i < 200; i++ {
		at, ok := h.e.NextDeadline()
		if !ok {
			break
		}
		o1, o2 := h.tick(at), h2.tick(at)
		require.Equal(t, o1.Result == nil, o2.Result == nil)
		if o1.Result != nil {
			require.Equal(t, o1.Ops, o2.Ops)
			sameEvents(t, o1.Evs, o2.Evs)
		}
		requireSameEngine(t, h.e, h2.e)
		// Load schedules a retry-offer timer again after it fired (live() cannot tell),
		// so a fresh reload is compared after its Resume, which finds nothing to do.
		h3 := h.reload()
		require.Nil(t, h3.e.Resume(h.now))
		requireSameEngine(t, h.e, h3.e)
		checkInvariants(t, h2.e)
		checkRetained(t, h2.e)
	}
	for _, id := range []string{"closed", "cancelled"} {
		requireForgotten(t, h, id)
	}
	requireWorkerForgotten(t, h, "erin")
}

// Many jobs run to closed with a short retention leave nothing behind: the engine
// holds only its workers, and the Ops, applied to a KV, delete every key they put but
// the live ones.
func TestRetentionLeavesNothingBehind(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	const retention = time.Second
	ids := &idSeq{}
	e, err := New(Config{NewID: ids.next, Retention: retention, OfferExpiry: 500 * time.Millisecond})
	require.NoError(t, err)
	kv := kvModel{}
	now := t0
	apply := func(typ events.Type, data any) *Result {
		t.Helper()
		res := e.Apply(Command{ID: ids.next(), Type: typ, Data: data}, now)
		require.Nil(t, res.Err)
		kv.apply(res.Ops)
		return res
	}
	tick := func() {
		for {
			at, ok := e.NextDeadline()
			if !ok || at.After(now) {
				return
			}
			if res := e.Tick(now); res != nil {
				kv.apply(res.Ops)
			}
		}
	}
	workers := []string{"w1", "w2", "w3", "w4"}
	for _, w := range workers {
		apply(events.TypeWorkerRegister, &events.WorkerRegister{WorkerID: w, Queues: []string{"q1", "q2"}, TotalCapacity: intPtr(2),
			Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}}})
	}
	peak := 0
	for i := range n {
		now = now.Add(10 * time.Millisecond)
		tick()
		id := fmt.Sprintf("j%d", i)
		apply(events.TypeJobCreated, &events.JobCreated{JobID: id, QueueID: []string{"q1", "q2"}[i%2], ChannelID: "voice"})
		j := e.jobs[id]
		switch i % 10 {
		case 0: // cancelled while queued
			apply(events.TypeJobCancel, &events.JobCancel{JobID: id})
			continue
		case 1: // left to expire once, then declined where it is offered next
			if len(j.OfferIDs) == 1 {
				o := e.offers[j.OfferIDs[0]]
				now = o.ExpiresAt
				tick()
			}
			if len(j.OfferIDs) == 1 {
				o := e.offers[j.OfferIDs[0]]
				apply(events.TypeOfferDecline, &events.OfferDecline{JobID: id, OfferID: o.OfferID, WorkerID: o.WorkerID})
			}
		}
		if len(j.OfferIDs) == 0 {
			apply(events.TypeJobCancel, &events.JobCancel{JobID: id})
			continue
		}
		o := e.offers[j.OfferIDs[0]]
		asg := apply(events.TypeOfferAccept, &events.OfferAccept{JobID: id, OfferID: o.OfferID, WorkerID: o.WorkerID}).Reply.AssignmentID
		apply(events.TypeJobComplete, &events.JobComplete{JobID: id, AssignmentID: asg})
		apply(events.TypeJobClose, &events.JobClose{JobID: id, AssignmentID: asg})
		peak = max(peak, len(e.jobs)+len(e.offers))
	}
	// within the retention the engine holds what ended in the last second, not more
	t.Logf("%d jobs: at most %d jobs and offers in memory at once", n, peak)
	require.Less(t, peak, 1000, "jobs and offers in memory at the peak")
	now = now.Add(2 * retention)
	tick()

	require.Empty(t, e.jobs)
	require.Empty(t, e.offers)
	require.Empty(t, e.offersByJob)
	require.Empty(t, e.offersByWorker)
	require.Empty(t, e.queues)
	require.Len(t, e.workers, len(workers))
	require.Empty(t, kv[events.BucketJobs])
	require.Empty(t, kv[events.BucketOffers])
	require.Len(t, kv[events.BucketQueues], 1, "only the enqueue sequence")
	require.Len(t, kv[events.BucketWorkers], len(workers))
	_, ok := e.NextDeadline()
	require.False(t, ok, "no timer is left but stale ones")
	require.LessOrEqual(t, len(e.timers), len(workers), "the heap is drained")

	// and once the workers deregister, they go too
	for _, w := range workers {
		apply(events.TypeWorkerDeregister, &events.WorkerDeregister{WorkerID: w})
	}
	now = now.Add(2 * retention)
	tick()
	require.Empty(t, e.workers)
	for b, m := range kv {
		if b == events.BucketQueues { // only the enqueue sequence is left
			require.Equal(t, map[string][]byte{SeqKey: []byte(fmt.Sprint(n))}, m)
			continue
		}
		require.Empty(t, m, "bucket %s", b)
	}
}

// The assignment-rate window forgets queues without recent assignments.
func TestRatesPruned(t *testing.T) {
	var r rates
	for i := range 3 * rateSamples {
		r.record("busy", t0.Add(time.Duration(i)*time.Millisecond))
	}
	r.record("once", t0)
	require.Len(t, r.times["busy"], rateSamples)
	later := t0.Add(rateWindow + time.Minute)
	r.record("busy", later)
	require.NotContains(t, r.times, "once")
	require.Equal(t, []time.Time{later}, r.times["busy"])
	r.prune(later.Add(2 * rateWindow))
	require.Empty(t, r.times)
}

// A queue whose last job left is not kept: queue ids used once do not accumulate.
func TestEmptyQueuesDropped(t *testing.T) {
	h := newHarness(t, Config{Retention: testRetention})
	for i := range 50 {
		requireOK(t, h.create(fmt.Sprintf("j%d", i), fmt.Sprintf("q%d", i)))
	}
	require.Len(t, h.e.queues, 50)
	for i := range 50 {
		requireOK(t, h.cancel(fmt.Sprintf("j%d", i)))
	}
	require.Empty(t, h.e.queues)
	require.Empty(t, h.kv[events.BucketQueues])
	requireSameEngine(t, h.e, h.reload().e)
}

// Within the retention every command of a finished job sent again with its
// CloudEvent id gets its first answer; after it the job is unknown and its id free.
func TestRetriedCommandsWithinRetention(t *testing.T) {
	h := newHarness(t, Config{Retention: testRetention})
	requireOK(t, h.register("alice", func(d *events.WorkerRegister) { d.Queues = []string{"q1"} }))
	created := h.doID("c-create", events.TypeJobCreated, jobData("j1", "q1"))
	requireOK(t, created)
	o := h.offerFor("j1")
	accepted := h.doID("c-accept", events.TypeOfferAccept, &events.OfferAccept{JobID: "j1", OfferID: o.OfferID, WorkerID: "alice"})
	requireOK(t, accepted)
	a := accepted.Reply.AssignmentID
	requireOK(t, h.doID("c-complete", events.TypeJobComplete, &events.JobComplete{JobID: "j1", AssignmentID: a}))
	requireOK(t, h.doID("c-close", events.TypeJobClose, &events.JobClose{JobID: "j1", AssignmentID: a, DispositionCode: "done"}))

	h.advance(testRetention - time.Second)
	for _, c := range []struct {
		id   string
		typ  events.Type
		data any
	}{
		{"c-create", events.TypeJobCreated, jobData("j1", "q1")},
		{"c-accept", events.TypeOfferAccept, &events.OfferAccept{JobID: "j1", OfferID: o.OfferID, WorkerID: "alice"}},
		{"c-complete", events.TypeJobComplete, &events.JobComplete{JobID: "j1", AssignmentID: a}},
		{"c-close", events.TypeJobClose, &events.JobClose{JobID: "j1", AssignmentID: a, DispositionCode: "done"}},
	} {
		out := h.doID(c.id, c.typ, c.data)
		require.Nil(t, out.Err, "%s: %v", c.id, out.Err)
		require.True(t, out.Reply.Duplicate, "%s is answered as a duplicate", c.id)
		require.Equal(t, "j1", out.Reply.JobID)
		if c.typ == events.TypeOfferAccept {
			require.Equal(t, a, out.Reply.AssignmentID, "the first answer's assignment")
		}
		require.Empty(t, out.Ops, "%s changes nothing", c.id)
	}

	h.tick(h.advance(2 * time.Second))
	requireForgotten(t, h, "j1")
	out := h.doID("c-complete", events.TypeJobComplete, &events.JobComplete{JobID: "j1", AssignmentID: a})
	require.ErrorIs(t, out.Err, events.ErrUnknownJob)
	requireOK(t, h.doID("c-create-again", events.TypeJobCreated, jobData("j1", "q1")))
	require.Equal(t, "queued", h.job("j1").Status)
}
