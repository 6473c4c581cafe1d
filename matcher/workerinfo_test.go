package matcher

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

func offerIDs(os []events.Offer) []string {
	out := []string{}
	for _, o := range os {
		out = append(out, o.OfferID)
	}
	return out
}

func heldJobIDs(js []events.Job) []string {
	out := []string{}
	for _, j := range js {
		out = append(out, j.JobID)
	}
	return out
}

// A worker's answer follows its work through every way an offer or a job ends: offers
// while issued, oldest first, each with its job as it is now; jobs while assigned or
// completed, in the order they were assigned.
func TestWorkerInfoFollowsTheWorkersOffersAndJobs(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: time.Minute})
	_, err := h.e.WorkerInfo("w", 0)
	require.ErrorIs(t, err, events.ErrUnknownWorker)

	requireOK(t, h.register("w", wCapacity(10, ch("voice", 1, 0))))
	info, err := h.e.WorkerInfo("w", 0)
	require.NoError(t, err)
	require.Equal(t, h.worker("w"), info.Worker)
	require.NotNil(t, info.Offers, "empty lists, not null")
	require.NotNil(t, info.Jobs)
	require.JSONEq(t, `[]`, jsonString(t, info.Offers))
	require.False(t, info.Truncated)

	// Five jobs, offered at three times: j1, then j2, j3 and j4 in one command each
	// at the same instant (they tie on issuedAt and are ordered by offer id), then j5.
	requireOK(t, h.create("j1", "q1", jPriority(3)))
	h.advance(time.Second)
	tied := h.now
	for _, id := range []string{"j2", "j3", "j4"} {
		requireOK(t, h.create(id, "q1"))
	}
	h.advance(time.Second)
	requireOK(t, h.create("j5", "q1"))
	info, err = h.e.WorkerInfo("w", 0)
	require.NoError(t, err)
	want := []string{h.offerFor("j1").OfferID}
	var ties []string
	for _, id := range []string{"j2", "j3", "j4"} {
		o := h.offerFor(id)
		require.Equal(t, tied, o.IssuedAt)
		ties = append(ties, o.OfferID)
	}
	slices.Sort(ties)
	want = append(append(want, ties...), h.offerFor("j5").OfferID)
	require.Equal(t, want, offerIDs(info.Offers))
	for _, o := range info.Offers {
		stored, ok := h.e.Offer(o.OfferID)
		require.True(t, ok)
		require.NotNil(t, o.Job, "an offer carries its job, as offer.issued does")
		require.Equal(t, h.job(o.JobID), *o.Job)
		o.Job = nil
		require.Equal(t, stored, o)
		require.Equal(t, string(lifecycle.OfferIssued), o.Status)
	}
	require.Empty(t, info.Jobs)

	// j4 and then j2 are accepted, j3 completed, j1 declined, j5 expires.
	a4 := h.assign("j4", "w")
	h.advance(time.Second)
	a2 := h.assign("j2", "w")
	a3 := h.assign("j3", "w") // same instant as j2: by job id
	requireOK(t, h.complete("j3", a3))
	o1 := h.offerFor("j1")
	requireOK(t, h.decline("j1", o1.OfferID, "w", nil))
	info, err = h.e.WorkerInfo("w", 0)
	require.NoError(t, err)
	require.Equal(t, []string{h.offerFor("j5").OfferID}, offerIDs(info.Offers))
	require.Equal(t, []string{"j4", "j2", "j3"}, heldJobIDs(info.Jobs))
	for _, j := range info.Jobs {
		require.Equal(t, h.job(j.JobID), j)
		require.Equal(t, "w", j.Assignment.WorkerID)
	}
	require.Equal(t, a4, info.Jobs[0].Assignment.AssignmentID)
	require.Equal(t, a2, info.Jobs[1].Assignment.AssignmentID)
	require.Equal(t, string(lifecycle.JobCompleted), info.Jobs[2].Status)
	o5 := h.offerFor("j5")
	h.tick(h.advance(time.Minute))
	again := h.offerFor("j5") // the only worker: offered j5 again
	require.NotEqual(t, o5.OfferID, again.OfferID)
	info, err = h.e.WorkerInfo("w", 0)
	require.NoError(t, err)
	require.Equal(t, []string{again.OfferID}, offerIDs(info.Offers), "the expired offer is gone")

	// A close later keeps the job held until it happens; a close, a cancel and an
	// unassign end the hold.
	at := h.now.Add(time.Minute)
	requireOK(t, h.close("j3", a3, "Resolved", &at))
	requireOK(t, h.cancel("j4"))
	requireOK(t, h.do(events.TypeJobUnassign, &events.JobUnassign{JobID: "j2", AssignmentID: a2, SuspendMatching: true}))
	info, err = h.e.WorkerInfo("w", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"j3"}, heldJobIDs(info.Jobs))
	require.NotNil(t, info.Jobs[0].ScheduledCloseAt)
	h.tick(at)
	info, err = h.e.WorkerInfo("w", 0)
	require.NoError(t, err)
	require.Empty(t, info.Jobs)
	checkInvariants(t, h.e)
}

// A deregistered worker keeps its jobs (it still has to finish them) and loses its
// offers; so does a worker whose presence is lost.
func TestWorkerInfoOfADeregisteredOrLostWorker(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("w", wCapacity(2, ch("voice", 1, 0)), func(d *events.WorkerRegister) { d.HeartbeatSeconds = intPtr(1) }))
	requireOK(t, h.create("held", "q1"))
	requireOK(t, h.create("offered", "q1"))
	asg := h.assign("held", "w")
	require.Equal(t, "w", h.offeredTo("offered"))

	h.tick(h.advance(events.PresenceTimeout(1)))
	info, err := h.e.WorkerInfo("w", 0)
	require.NoError(t, err)
	require.Equal(t, events.PresenceLost, info.Worker.Presence)
	require.Empty(t, info.Offers, "a lost worker's offers are revoked")
	require.Equal(t, []string{"held"}, heldJobIDs(info.Jobs))

	requireOK(t, h.deregister("w"))
	info, err = h.e.WorkerInfo("w", 0)
	require.NoError(t, err)
	require.Equal(t, events.WorkerDraining, info.Worker.State)
	require.Equal(t, asg, info.Jobs[0].Assignment.AssignmentID)
}

// The answer is the same from an engine loaded from KV: its order does not depend on
// how the maps of either engine are laid out.
func TestWorkerInfoAfterLoad(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("w", wCapacity(20, ch("voice", 1, 0))))
	for i := range 12 {
		requireOK(t, h.create("j"+string(rune('a'+i)), "q1"))
		if i%3 == 0 {
			h.advance(time.Second)
		}
	}
	for _, id := range []string{"jc", "ja", "jk", "jf"} {
		h.assign(id, "w")
		if id != "ja" {
			h.advance(time.Millisecond)
		}
	}
	want, err := h.e.WorkerInfo("w", 0)
	require.NoError(t, err)
	require.Len(t, want.Offers, 8)
	require.Len(t, want.Jobs, 4)
	for range 5 {
		e, err := New(Config{})
		require.NoError(t, err)
		require.NoError(t, e.Load(h.kv.state()))
		got, err := e.WorkerInfo("w", 0)
		require.NoError(t, err)
		require.Equal(t, jsonString(t, want), jsonString(t, got))
	}
}

// Bounded by maxBytes, the answer holds the oldest jobs and then the oldest offers
// that fit, says it was cut short, and never encodes larger than the bound.
func TestWorkerInfoTruncatesToFit(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("w", wCapacity(10, ch("voice", 1, 0))))
	for _, id := range []string{"j1", "j2", "j3", "j4", "j5", "j6"} {
		requireOK(t, h.create(id, "q1", func(d *events.JobCreated) { d.Notes = id + " needs a long note to weigh something" }))
		h.advance(time.Second)
	}
	h.assign("j1", "w")
	h.assign("j2", "w")
	full, err := h.e.WorkerInfo("w", 0)
	require.NoError(t, err)
	require.Len(t, full.Jobs, 2)
	require.Len(t, full.Offers, 4)
	fullSize := len(jsonString(t, full))

	unbounded, err := h.e.WorkerInfo("w", fullSize+len(`,"truncated":true`))
	require.NoError(t, err)
	require.Equal(t, full, unbounded, "room enough for everything")

	wOnly := events.WorkerInfo{Worker: full.Worker, Offers: []events.Offer{}, Jobs: []events.Job{}, Truncated: true}
	minSize := len(jsonString(t, wOnly))
	_, err = h.e.WorkerInfo("w", minSize-1)
	require.ErrorIs(t, err, events.ErrInternal, "not even the worker fits")

	prev := -1
	for maxBytes := minSize; maxBytes < fullSize+len(`,"truncated":true`); maxBytes++ {
		got, err := h.e.WorkerInfo("w", maxBytes)
		require.NoError(t, err)
		require.True(t, got.Truncated, "maxBytes %d", maxBytes)
		b, err := json.Marshal(got)
		require.NoError(t, err)
		require.LessOrEqual(t, len(b), maxBytes)
		// A prefix of the full answer: jobs first, then offers, in their order.
		require.Equal(t, full.Worker, got.Worker)
		require.Equal(t, full.Jobs[:len(got.Jobs)], got.Jobs)
		require.Equal(t, full.Offers[:len(got.Offers)], got.Offers)
		if len(got.Offers) > 0 {
			require.Len(t, got.Jobs, len(full.Jobs), "offers only once every job is in")
		}
		n := len(got.Jobs) + len(got.Offers)
		require.GreaterOrEqual(t, n, prev, "more room never gives less")
		prev = n
	}
	require.Equal(t, 5, prev, "one byte short of everything leaves one offer out")
}

// checkWorkerInfo checks every worker's answer against what the engine holds, found
// the other way round: the issued offers naming the worker and the jobs assigned to
// it that still hold its capacity. checkInvariants runs it after every step.
func checkWorkerInfo(t testing.TB, e *Engine) {
	t.Helper()
	for wid := range e.workers {
		info, err := e.WorkerInfo(wid, 0)
		require.NoError(t, err)
		var offers []*Offer
		for _, o := range e.offers {
			if o.WorkerID == wid && o.status() == lifecycle.OfferIssued {
				offers = append(offers, o)
			}
		}
		slices.SortFunc(offers, func(a, b *Offer) int {
			if c := a.IssuedAt.Compare(b.IssuedAt); c != 0 {
				return c
			}
			return strings.Compare(a.OfferID, b.OfferID)
		})
		require.Len(t, info.Offers, len(offers), "worker %s: offers", wid)
		for i, o := range offers {
			got := info.Offers[i]
			require.Equal(t, o.OfferID, got.OfferID, "worker %s: offer %d", wid, i)
			require.NotNil(t, got.Job)
			require.Equal(t, e.jobs[o.JobID].snapshot(), *got.Job)
		}
		var jobs []*Job
		for _, j := range e.jobs {
			if j.Assignment != nil && j.Assignment.WorkerID == wid && j.status().HoldsCapacity() {
				jobs = append(jobs, j)
			}
		}
		slices.SortFunc(jobs, func(a, b *Job) int {
			if c := a.Assignment.AssignedAt.Compare(b.Assignment.AssignedAt); c != 0 {
				return c
			}
			return strings.Compare(a.JobID, b.JobID)
		})
		require.Len(t, info.Jobs, len(jobs), "worker %s: jobs", wid)
		for i, j := range jobs {
			require.Equal(t, j.snapshot(), info.Jobs[i], "worker %s: job %d", wid, i)
		}
		require.False(t, info.Truncated)
	}
}
