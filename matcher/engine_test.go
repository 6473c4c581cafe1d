package matcher

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"zero", Config{}, ""},
		{"expiries", Config{OfferExpiry: time.Minute, QueueOfferExpiry: map[string]time.Duration{"q1": time.Second}}, ""},
		{"negative expiry", Config{OfferExpiry: -time.Second}, "offer expiry must not be negative"},
		{"bad queue id", Config{QueueOfferExpiry: map[string]time.Duration{"a.b": time.Second}}, `"a.b" is not a valid queue id`},
		{"zero queue expiry", Config{QueueOfferExpiry: map[string]time.Duration{"q1": 0}}, `for "q1" must be positive`},
		{"negative queue expiry", Config{QueueOfferExpiry: map[string]time.Duration{"q1": -time.Second}}, `for "q1" must be positive`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			_, newErr := New(tt.cfg)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NoError(t, newErr)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.ErrorContains(t, newErr, tt.wantErr)
		})
	}
}

func TestNewUsesDefaultsAndNuid(t *testing.T) {
	e, err := New(Config{})
	require.NoError(t, err)
	a, b := e.newID(), e.newID()
	require.NotEmpty(t, a)
	require.NotEqual(t, a, b)
	require.Equal(t, OfferExpiryDefault, e.offerExpiry("any"))
	_, ok := e.NextDeadline()
	require.False(t, ok)
	require.Nil(t, e.Tick(t0), "an empty engine has nothing to do")
	require.Nil(t, e.QueueJobIDs("q1"))
	_, ok = e.Job("x")
	require.False(t, ok)
	_, ok = e.Worker("x")
	require.False(t, ok)
	_, ok = e.Offer("x")
	require.False(t, ok)
}

func TestCreateJobQueuesAndEmits(t *testing.T) {
	h := newHarness(t, Config{})
	out := h.create("j1", "q1", jPriority(7), func(d *events.JobCreated) {
		d.Labels = events.Labels{"lang": "fr", "vip": true}
		d.ChannelReference = "call-42"
	})
	requireOK(t, out)
	require.Equal(t, events.CommandResult{CommandID: "cmd1", CommandType: events.TypeJobCreated, JobID: "j1", Status: "queued"}, *out.Reply)
	require.Equal(t, []events.Type{events.TypeJobReceived, events.TypeJobQueued}, out.types())
	require.Equal(t, "patchbay.events.job.q1.j1.received", out.Evs[0].Subject)
	require.Equal(t, "patchbay.events.job.q1.j1.queued", out.Evs[1].Subject)
	for _, e := range out.Evs {
		require.Equal(t, t0, e.Time)
		require.Equal(t, "queued", e.Job.Status)
		require.Equal(t, 7, e.Job.Priority)
		require.Equal(t, "call-42", e.Job.ChannelReference)
		require.Equal(t, events.Labels{"lang": "fr", "vip": true}, e.Job.Labels)
		require.Equal(t, t0, e.Job.CreatedAt)
		require.Equal(t, t0, *e.Job.EnqueuedAt)
	}
	// one job put: the job's record gives its place in the queue
	require.Len(t, out.Ops, 1)
	require.Equal(t, events.BucketJobs, out.Ops[0].Bucket)
	require.Equal(t, "j1", out.Ops[0].Key)
	require.Equal(t, []string{"j1"}, h.e.QueueJobIDs("q1"))
	require.Equal(t, "queued", h.job("j1").Status)
	// no worker: no offer, no timer
	_, ok := h.e.NextDeadline()
	require.False(t, ok)
}

func TestJobIDDefaultsToCloudEventID(t *testing.T) {
	h := newHarness(t, Config{})
	out := h.doID("ce-77", events.TypeJobCreated, jobData("", "q1"))
	requireOK(t, out)
	require.Equal(t, "ce-77", out.Reply.JobID)
	require.Equal(t, "ce-77", h.job("ce-77").JobID)
}

// Seed 1: accepting assigns the job.
func TestAcceptAssigns(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	out := h.create("j1", "q1")
	requireOK(t, out)
	require.Equal(t, []events.Type{events.TypeJobReceived, events.TypeJobQueued, events.TypeOfferIssued}, out.types())
	offer := out.issued()[0]
	require.Equal(t, "alice", offer.WorkerID)
	require.Equal(t, "patchbay.events.offer.alice.j1.issued", out.Evs[2].Subject)
	require.Equal(t, "issued", offer.Status)
	require.Equal(t, t0.Add(OfferExpiryDefault), offer.ExpiresAt)
	require.NotNil(t, offer.Job, "an issued offer carries the job")
	require.Equal(t, "j1", offer.Job.JobID)
	require.Equal(t, 1, offer.CapacityCost)

	at := h.advance(3 * time.Second)
	out = h.accept("j1", offer.OfferID, "alice")
	requireOK(t, out)
	require.NotEmpty(t, out.Reply.AssignmentID)
	require.Equal(t, "assigned", out.Reply.Status)
	require.Equal(t, offer.OfferID, out.Reply.OfferID)
	require.Equal(t, "alice", out.Reply.WorkerID)
	require.False(t, out.Reply.Duplicate)
	require.Equal(t, []events.Type{events.TypeOfferAccepted, events.TypeJobAssigned}, out.types())
	acc := out.Evs[0].Offer
	require.Equal(t, "accepted", acc.Status)
	require.Equal(t, out.Reply.AssignmentID, acc.AssignmentID)
	asg := out.Evs[1].Job
	require.Equal(t, "assigned", asg.Status)
	require.Equal(t, &events.Assignment{AssignmentID: out.Reply.AssignmentID, WorkerID: "alice", OfferID: offer.OfferID, AssignedAt: at}, asg.Assignment)

	j := h.job("j1")
	require.Equal(t, "assigned", j.Status)
	require.Empty(t, h.e.QueueJobIDs("q1"))
	w := h.worker("alice")
	require.Equal(t, []string{"j1"}, w.AssignedJobIDs)
	require.Empty(t, w.OfferIDs)
	require.Equal(t, 1, w.UsedCapacity)
	require.Equal(t, at, *w.LastAssignedAt)
	// nothing was written to the queues bucket
	require.Empty(t, h.kv[events.BucketQueues])
	checkInvariants(t, h.e)
	requireKVMatches(t, h.kv, h.e)
}

// With several offers outstanding for one job (the engine issues one at a time; a
// concurrent-offers distribution policy would issue more), the first accept wins and
// the others are revoked with reason job_assigned.
func TestAcceptRevokesOtherOutstandingOffers(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	requireOK(t, h.register("bob"))
	requireOK(t, h.create("j1", "q1"))
	require.Equal(t, "alice", h.offeredTo("j1"))
	// issue a second, concurrent offer to bob the way matching does
	h.e.begin(h.now)
	h.e.issue(h.e.jobs["j1"], h.e.workers["bob"], 1)
	h.record(h.e.finish())
	require.Len(t, h.outstanding("j1"), 2)
	checkInvariants(t, h.e)
	requireOK(t, h.create("j2", "q1"))
	require.Equal(t, "", h.offeredTo("j2"), "both workers are full")

	os := h.outstanding("j1")
	out := h.accept("j1", os[1].OfferID, "bob")
	requireOK(t, out)
	require.Equal(t, []events.Type{events.TypeOfferAccepted, events.TypeOfferRevoked, events.TypeJobAssigned, events.TypeOfferIssued}, out.types())
	rev := out.ofType(events.TypeOfferRevoked)[0].Offer
	require.Equal(t, os[0].OfferID, rev.OfferID)
	require.Equal(t, "alice", rev.WorkerID)
	require.Equal(t, events.RevokedJobAssigned, rev.Reason)
	require.Equal(t, "revoked", rev.Status)
	// alice's capacity came back, and she got the next job at once
	require.Equal(t, "alice", out.issued()[0].WorkerID)
	require.Equal(t, "j2", out.issued()[0].JobID)

	// alice answering the revoked offer learns someone else took the job
	requireRefused(t, h.accept("j1", os[0].OfferID, "alice"), events.ErrAlreadyAssigned)
	requireRefused(t, h.decline("j1", os[0].OfferID, "alice", nil), events.ErrOfferRevoked)
	checkInvariants(t, h.e)
	requireKVMatches(t, h.kv, h.e)
}

// Seed 1: an accept after the offer timed out fails with offer_expired and the job
// has moved on to the next worker.
func TestAcceptAfterExpiryIsRefusedAndJobMovedOn(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: 20 * time.Second})
	requireOK(t, h.register("alice"))
	h.advance(time.Second)
	requireOK(t, h.register("bob"))
	requireOK(t, h.create("j1", "q1"))
	first := h.offerFor("j1")
	require.Equal(t, "alice", first.WorkerID, "alice waited longest")
	require.Equal(t, h.now.Add(20*time.Second), first.ExpiresAt)

	at, ok := h.e.NextDeadline()
	require.True(t, ok)
	require.Equal(t, first.ExpiresAt, at)
	require.Nil(t, h.tick(at.Add(-time.Nanosecond)).Result, "nothing is due before the expiry")

	out := h.tick(at)
	require.Equal(t, []events.Type{events.TypeOfferExpired, events.TypeOfferIssued}, out.types())
	require.Equal(t, "expired", out.Evs[0].Offer.Status)
	require.Equal(t, "bob", out.issued()[0].WorkerID, "the job moves on to the next worker")

	late := h.advance(time.Second)
	out = h.accept("j1", first.OfferID, "alice")
	requireRefused(t, out, events.ErrOfferExpired)
	require.Equal(t, events.CodeOfferExpired, out.Err.Code)
	requireRefused(t, h.decline("j1", first.OfferID, "alice", nil), events.ErrOfferExpired)
	require.Equal(t, "queued", h.job("j1").Status)
	require.Equal(t, "bob", h.offeredTo("j1"))

	asg := h.assign("j1", "bob")
	require.NotEmpty(t, asg)
	require.Equal(t, late, h.job("j1").Assignment.AssignedAt)
}

// An accept that arrives at or after the offer's expiry is refused even when the
// expiry timer has not fired yet (timers may fire late); the next Tick moves the job on.
func TestAcceptAtExpiryBeforeTickIsRefused(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: 10 * time.Second})
	requireOK(t, h.register("alice"))
	h.advance(time.Second)
	requireOK(t, h.register("bob"))
	requireOK(t, h.create("j1", "q1"))
	o := h.offerFor("j1")
	before := dump(h.e)

	h.now = o.ExpiresAt
	requireRefused(t, h.accept("j1", o.OfferID, "alice"), events.ErrOfferExpired)
	require.Equal(t, before, dump(h.e), "a refused accept changes nothing")
	h.now = o.ExpiresAt.Add(time.Minute)
	requireRefused(t, h.accept("j1", o.OfferID, "alice"), events.ErrOfferExpired)

	out := h.tick(h.now)
	require.Equal(t, []events.Type{events.TypeOfferExpired, events.TypeOfferIssued}, out.types())
	require.Equal(t, "bob", h.offeredTo("j1"))
	checkInvariants(t, h.e)
}

// Just before the expiry the accept still wins.
func TestAcceptJustBeforeExpiry(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: 10 * time.Second})
	requireOK(t, h.register("alice"))
	requireOK(t, h.create("j1", "q1"))
	o := h.offerFor("j1")
	h.now = o.ExpiresAt.Add(-time.Nanosecond)
	requireOK(t, h.accept("j1", o.OfferID, "alice"))
	require.Nil(t, h.tick(o.ExpiresAt).Result, "the accepted offer's expiry does nothing")
	_, ok := h.e.NextDeadline()
	require.False(t, ok, "no timer is left once the offer is answered")
}

// With no one else eligible, an expired offer goes back to the same worker.
func TestExpiredOfferReturnsToOnlyWorker(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: 5 * time.Second})
	requireOK(t, h.register("alice"))
	requireOK(t, h.create("j1", "q1"))
	o := h.offerFor("j1")
	out := h.tick(o.ExpiresAt)
	require.Equal(t, []events.Type{events.TypeOfferExpired, events.TypeOfferIssued}, out.types())
	again := out.issued()[0]
	require.Equal(t, "alice", again.WorkerID)
	require.NotEqual(t, o.OfferID, again.OfferID)
	require.Equal(t, o.ExpiresAt.Add(5*time.Second), again.ExpiresAt)
	requireRefused(t, h.accept("j1", o.OfferID, "alice"), events.ErrOfferExpired)
	requireOK(t, h.accept("j1", again.OfferID, "alice"))
}

// Seed 3: a declined job goes to the next eligible worker and never back to the
// decliner, whatever happens later, as long as the decliner stays registered.
func TestDeclineNeverOfferedAgainToDecliner(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: 10 * time.Second})
	requireOK(t, h.register("alice"))
	h.advance(time.Second)
	requireOK(t, h.register("bob"))
	requireOK(t, h.create("j1", "q1"))
	o := h.offerFor("j1")
	require.Equal(t, "alice", o.WorkerID)

	h.advance(time.Second)
	out := h.decline("j1", o.OfferID, "alice", nil)
	requireOK(t, out)
	require.Equal(t, "queued", out.Reply.Status)
	require.Equal(t, []events.Type{events.TypeOfferDeclined, events.TypeOfferIssued}, out.types())
	require.Equal(t, "declined", out.Evs[0].Offer.Status)
	require.Nil(t, out.Evs[0].Offer.RetryOfferAt)
	require.Equal(t, "bob", out.issued()[0].WorkerID)

	// bob lets it expire: alice (idle, first in order) still does not get it back
	out = h.tick(out.issued()[0].ExpiresAt)
	require.Equal(t, events.TypeOfferExpired, out.Evs[0].Type)
	require.Equal(t, "bob", h.offeredTo("j1"))
	// bob declines too: nobody is left
	out = h.decline("j1", h.offerFor("j1").OfferID, "bob", nil)
	requireOK(t, out)
	require.Equal(t, []events.Type{events.TypeOfferDeclined}, out.types())
	require.Equal(t, "", h.offeredTo("j1"))

	// time passes, other work comes and goes, alice re-registers without deregistering
	require.Nil(t, h.tick(h.advance(24*time.Hour)).Result)
	requireOK(t, h.register("alice", wLabels(events.Labels{"lang": "fr"})))
	requireOK(t, h.update(events.WorkerRegister{WorkerID: "alice", Queues: []string{"q1", "q2"}}))
	requireOK(t, h.create("j2", "q1"))
	a2 := h.assign("j2", "alice")
	h.advance(time.Minute)
	requireOK(t, h.complete("j2", a2))
	requireOK(t, h.close("j2", a2, "Resolved", nil))
	require.Nil(t, h.tick(h.advance(time.Hour)).Result)
	require.Equal(t, "", h.offeredTo("j1"))

	// a newcomer gets it, declines; still not alice
	requireOK(t, h.register("carol"))
	require.Equal(t, "carol", h.offeredTo("j1"))
	requireOK(t, h.decline("j1", h.offerFor("j1").OfferID, "carol", nil))
	require.Equal(t, "", h.offeredTo("j1"))
	require.Equal(t, []string{"alice", "bob", "bob", "carol"}, h.issuedTo("j1"))
	require.Equal(t, []string{"j1"}, h.e.QueueJobIDs("q1"))
	checkInvariants(t, h.e)
	requireKVMatches(t, h.kv, h.e)
}

// Seed 3, the exception: deregistering and registering again starts a new epoch, and
// the job is offered to the worker again at once.
func TestDeclineForgottenAfterReregistration(t *testing.T) {
	for _, how := range []string{"deregister+register", "update availableForOffers"} {
		t.Run(how, func(t *testing.T) {
			h := newHarness(t, Config{})
			requireOK(t, h.register("alice"))
			requireOK(t, h.create("j1", "q1"))
			requireOK(t, h.decline("j1", h.offerFor("j1").OfferID, "alice", nil))
			require.Equal(t, "", h.offeredTo("j1"))
			epoch := h.e.workers["alice"].Epoch

			h.advance(time.Minute)
			var out outcome
			if how == "deregister+register" {
				requireOK(t, h.deregister("alice"))
				require.Equal(t, "", h.offeredTo("j1"))
				out = h.register("alice")
			} else {
				requireOK(t, h.update(events.WorkerRegister{WorkerID: "alice", AvailableForOffers: new(false)}))
				require.Equal(t, "", h.offeredTo("j1"))
				out = h.update(events.WorkerRegister{WorkerID: "alice", AvailableForOffers: new(true)})
			}
			requireOK(t, out)
			require.Greater(t, h.e.workers["alice"].Epoch, epoch)
			require.Equal(t, []events.Type{events.TypeWorkerRegistered, events.TypeOfferIssued}, out.types())
			require.Equal(t, "alice", h.offeredTo("j1"))
			require.Equal(t, []string{"alice", "alice"}, h.issuedTo("j1"))
			checkInvariants(t, h.e)
		})
	}
}

// Seed 4: a decline with retryOfferAt makes the decliner eligible again exactly from
// that time.
func TestDeclineRetryOfferAt(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: time.Minute})
	requireOK(t, h.register("alice"))
	requireOK(t, h.create("j1", "q1"))
	o := h.offerFor("j1")
	h.advance(2 * time.Second)
	retry := h.now.Add(5 * time.Minute)
	out := h.decline("j1", o.OfferID, "alice", &retry)
	requireOK(t, out)
	require.Equal(t, []events.Type{events.TypeOfferDeclined}, out.types())
	require.Equal(t, retry, *out.Evs[0].Offer.RetryOfferAt)
	require.Equal(t, "", h.offeredTo("j1"))

	// other work for alice in the meantime does not bring j1 back early
	requireOK(t, h.create("j2", "q1"))
	a2 := h.assign("j2", "alice")
	requireOK(t, h.complete("j2", a2))
	out = h.close("j2", a2, "Resolved", nil)
	requireOK(t, out)
	require.Empty(t, out.issued())

	at, ok := h.e.NextDeadline()
	require.True(t, ok)
	require.Equal(t, retry, at)
	require.Nil(t, h.tick(retry.Add(-time.Nanosecond)).Result, "not before the retry time")
	require.Equal(t, "", h.offeredTo("j1"))

	out = h.tick(retry)
	require.Equal(t, []events.Type{events.TypeOfferIssued}, out.types())
	require.Equal(t, "alice", out.issued()[0].WorkerID)
	require.Equal(t, retry, out.issued()[0].IssuedAt)

	// and she may decline again, this time for good
	requireOK(t, h.decline("j1", h.offerFor("j1").OfferID, "alice", nil))
	require.Nil(t, h.tick(h.advance(time.Hour)).Result)
	require.Equal(t, "", h.offeredTo("j1"))
	checkInvariants(t, h.e)
}

// A retryOfferAt that is not in the future makes the decliner eligible at once.
func TestDeclineRetryOfferAtNowOrPast(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Minute} {
		h := newHarness(t, Config{})
		requireOK(t, h.register("alice"))
		requireOK(t, h.create("j1", "q1"))
		o := h.offerFor("j1")
		retry := h.now.Add(d)
		out := h.decline("j1", o.OfferID, "alice", &retry)
		requireOK(t, out)
		require.Equal(t, []events.Type{events.TypeOfferDeclined, events.TypeOfferIssued}, out.types())
		require.Equal(t, "alice", h.offeredTo("j1"))
	}
}

// A decline with a retry time only concerns the decliner: the job goes on to the
// next worker meanwhile.
func TestDeclineRetryOfferAtStillMovesOn(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	h.advance(time.Second)
	requireOK(t, h.register("bob"))
	requireOK(t, h.create("j1", "q1"))
	retry := h.now.Add(time.Minute)
	out := h.decline("j1", h.offerFor("j1").OfferID, "alice", &retry)
	require.Equal(t, "bob", out.issued()[0].WorkerID)
}

// Seed 2 and 5: completing keeps the capacity (wrap-up).
func TestCompleteKeepsCapacity(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	requireOK(t, h.create("j1", "q1"))
	a1 := h.assign("j1", "alice")
	requireOK(t, h.create("j2", "q1"))
	require.Equal(t, "", h.offeredTo("j2"), "busy while assigned")

	at := h.advance(time.Minute)
	out := h.do(events.TypeJobComplete, &events.JobComplete{JobID: "j1", AssignmentID: a1, Note: "call ended"})
	requireOK(t, out)
	require.Equal(t, "completed", out.Reply.Status)
	require.Equal(t, a1, out.Reply.AssignmentID)
	require.Equal(t, "alice", out.Reply.WorkerID)
	require.Equal(t, []events.Type{events.TypeJobCompleted}, out.types())
	j := out.Evs[0].Job
	require.Equal(t, "completed", j.Status)
	require.Equal(t, at, *j.Assignment.CompletedAt)
	require.Nil(t, j.Assignment.ClosedAt)
	require.Equal(t, "call ended", j.Assignment.CompletionNote)

	require.Equal(t, "", h.offeredTo("j2"), "still busy while completed")
	w := h.worker("alice")
	require.Equal(t, 1, w.UsedCapacity)
	require.Equal(t, 1.0, w.LoadRatio)
	require.Equal(t, []string{"j1"}, w.AssignedJobIDs)
	require.Nil(t, h.tick(h.advance(time.Hour)).Result)
	require.Equal(t, "", h.offeredTo("j2"))
	checkInvariants(t, h.e)
}

// Seed 6: closing with a disposition code releases the capacity, and the next queued
// job is offered at once.
func TestCloseReleasesCapacityAndOffersNext(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	requireOK(t, h.create("j1", "q1"))
	a1 := h.assign("j1", "alice")
	requireOK(t, h.create("j2", "q1"))
	requireOK(t, h.complete("j1", a1))

	at := h.advance(30 * time.Second)
	out := h.close("j1", a1, "Resolved", nil)
	requireOK(t, out)
	require.Equal(t, "closed", out.Reply.Status)
	require.Equal(t, []events.Type{events.TypeJobClosed, events.TypeOfferIssued}, out.types())
	closed := out.Evs[0].Job
	require.Equal(t, "closed", closed.Status)
	require.Equal(t, "Resolved", closed.DispositionCode)
	require.Equal(t, at, *closed.Assignment.ClosedAt)
	require.Equal(t, "patchbay.events.job.q1.j1.closed", out.Evs[0].Subject)
	require.Equal(t, "j2", out.issued()[0].JobID)
	require.Equal(t, "alice", out.issued()[0].WorkerID)
	require.Equal(t, "closed", h.job("j1").Status)
	require.Equal(t, []string{out.issued()[0].OfferID}, h.worker("alice").OfferIDs)
	require.Empty(t, h.worker("alice").AssignedJobIDs)
	checkInvariants(t, h.e)
	requireKVMatches(t, h.kv, h.e)
}

// Seed 6 (ACS): a close at a future time keeps the capacity until then.
func TestCloseAtFutureTime(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: time.Hour})
	requireOK(t, h.register("alice"))
	requireOK(t, h.create("j1", "q1"))
	a1 := h.assign("j1", "alice")
	requireOK(t, h.create("j2", "q1"))
	requireOK(t, h.complete("j1", a1))

	closeAt := h.advance(time.Second).Add(2 * time.Minute)
	out := h.close("j1", a1, "Resolved", &closeAt)
	requireOK(t, out)
	require.Equal(t, "completed", out.Reply.Status)
	require.Empty(t, out.ofType(events.TypeJobClosed), "not closed yet")
	require.NotEmpty(t, out.Ops)
	j := h.job("j1")
	require.Equal(t, "completed", j.Status)
	require.Equal(t, closeAt, *j.ScheduledCloseAt)
	require.Equal(t, "Resolved", j.DispositionCode)
	require.Equal(t, 1, h.worker("alice").UsedCapacity)
	require.Equal(t, "", h.offeredTo("j2"))

	// a second close while one is scheduled is refused
	requireRefused(t, h.close("j1", a1, "Other", nil), events.ErrInvalidTransition)

	at, ok := h.e.NextDeadline()
	require.True(t, ok)
	require.Equal(t, closeAt, at)
	require.Nil(t, h.tick(closeAt.Add(-time.Nanosecond)).Result)
	require.Equal(t, "completed", h.job("j1").Status)

	out = h.tick(closeAt)
	require.Equal(t, []events.Type{events.TypeJobClosed, events.TypeOfferIssued}, out.types())
	closed := out.Evs[0].Job
	require.Equal(t, "closed", closed.Status)
	require.Equal(t, closeAt, *closed.Assignment.ClosedAt)
	require.Nil(t, closed.ScheduledCloseAt)
	require.Equal(t, "Resolved", closed.DispositionCode)
	require.Equal(t, "alice", h.offeredTo("j2"))
	requireRefused(t, h.close("j1", a1, "Resolved", nil), events.ErrInvalidTransition)
	checkInvariants(t, h.e)
	requireKVMatches(t, h.kv, h.e)
}

// A closeAt that is not in the future closes at once.
func TestCloseAtNowOrPastClosesAtOnce(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Hour} {
		h := newHarness(t, Config{})
		requireOK(t, h.register("alice"))
		requireOK(t, h.create("j1", "q1"))
		a1 := h.assign("j1", "alice")
		requireOK(t, h.complete("j1", a1))
		at := h.now.Add(d)
		out := h.close("j1", a1, "", &at)
		requireOK(t, out)
		require.Equal(t, "closed", out.Reply.Status)
		require.Equal(t, h.now, *out.Evs[0].Job.Assignment.ClosedAt)
	}
}

// Refused transitions are refused with invalid_transition and change nothing.
func TestRefusedTransitionsChangeNothing(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice", wCapacity(5)))
	requireOK(t, h.create("queued", "q1", jChannel("chat"))) // nobody serves chat
	requireOK(t, h.create("assigned", "q1"))
	aAssigned := h.assign("assigned", "alice")
	requireOK(t, h.create("completed", "q1"))
	aCompleted := h.assign("completed", "alice")
	requireOK(t, h.complete("completed", aCompleted))
	requireOK(t, h.create("closed", "q1"))
	aClosed := h.assign("closed", "alice")
	requireOK(t, h.complete("closed", aClosed))
	requireOK(t, h.close("closed", aClosed, "Resolved", nil))
	requireOK(t, h.create("cancelled", "q1", jChannel("chat")))
	requireOK(t, h.cancel("cancelled"))
	requireOK(t, h.create("scheduled", "q1"))
	aScheduled := h.assign("scheduled", "alice")
	requireOK(t, h.complete("scheduled", aScheduled))
	later := h.now.Add(time.Hour)
	requireOK(t, h.close("scheduled", aScheduled, "", &later))
	h.advance(time.Second)

	tests := []struct {
		name string
		typ  events.Type
		data any
	}{
		{"complete queued", events.TypeJobComplete, &events.JobComplete{JobID: "queued"}},
		{"close queued", events.TypeJobClose, &events.JobClose{JobID: "queued"}},
		{"close assigned not completed", events.TypeJobClose, &events.JobClose{JobID: "assigned", AssignmentID: aAssigned, DispositionCode: "Resolved"}},
		{"complete completed", events.TypeJobComplete, &events.JobComplete{JobID: "completed", AssignmentID: aCompleted}},
		{"complete closed", events.TypeJobComplete, &events.JobComplete{JobID: "closed", AssignmentID: aClosed}},
		{"close closed", events.TypeJobClose, &events.JobClose{JobID: "closed", AssignmentID: aClosed, DispositionCode: "Resolved"}},
		{"close scheduled again", events.TypeJobClose, &events.JobClose{JobID: "scheduled", AssignmentID: aScheduled}},
		{"cancel completed", events.TypeJobCancel, &events.JobCancel{JobID: "completed"}},
		{"cancel closed", events.TypeJobCancel, &events.JobCancel{JobID: "closed"}},
		{"cancel cancelled", events.TypeJobCancel, &events.JobCancel{JobID: "cancelled"}},
		{"complete cancelled", events.TypeJobComplete, &events.JobComplete{JobID: "cancelled"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, dl := dump(h.e), nextDeadline(h.e)
			out := h.do(tt.typ, tt.data)
			requireRefused(t, out, events.ErrInvalidTransition)
			require.Equal(t, events.CodeInvalidTransition, out.Err.Code)
			require.Empty(t, out.Events)
			require.Equal(t, before, dump(h.e))
			require.Equal(t, dl, nextDeadline(h.e))
		})
	}
	checkInvariants(t, h.e)
}

func TestCompleteOrCloseErrors(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	requireOK(t, h.create("j1", "q1"))
	a1 := h.assign("j1", "alice")
	tests := []struct {
		name    string
		typ     events.Type
		data    any
		wantErr error
		field   string
	}{
		{"complete unknown job", events.TypeJobComplete, &events.JobComplete{JobID: "nope", AssignmentID: a1}, events.ErrUnknownJob, "jobId"},
		{"close unknown job", events.TypeJobClose, &events.JobClose{JobID: "nope", AssignmentID: a1}, events.ErrUnknownJob, "jobId"},
		{"cancel unknown job", events.TypeJobCancel, &events.JobCancel{JobID: "nope"}, events.ErrUnknownJob, "jobId"},
		{"complete wrong assignment", events.TypeJobComplete, &events.JobComplete{JobID: "j1", AssignmentID: "other"}, events.ErrAssignmentMismatch, "assignmentId"},
		{"close wrong assignment", events.TypeJobClose, &events.JobClose{JobID: "j1", AssignmentID: ""}, events.ErrAssignmentMismatch, "assignmentId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := dump(h.e)
			out := h.do(tt.typ, tt.data)
			requireRefused(t, out, tt.wantErr)
			require.Equal(t, tt.field, out.Err.Field)
			require.Equal(t, before, dump(h.e))
		})
	}
}

// Cancelling a queued job revokes its offers and takes it out of its queue.
func TestCancelQueuedJob(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	requireOK(t, h.create("j1", "q1"))
	requireOK(t, h.create("j2", "q1"))
	o := h.offerFor("j1")
	require.Equal(t, []string{"j1", "j2"}, h.e.QueueJobIDs("q1"))

	out := h.do(events.TypeJobCancel, &events.JobCancel{JobID: "j1", DispositionCode: "Abandoned", Note: "hung up"})
	requireOK(t, out)
	require.Equal(t, "cancelled", out.Reply.Status)
	require.Equal(t, []events.Type{events.TypeOfferRevoked, events.TypeJobCancelled, events.TypeOfferIssued}, out.types())
	rev := out.Evs[0].Offer
	require.Equal(t, o.OfferID, rev.OfferID)
	require.Equal(t, events.RevokedJobCancelled, rev.Reason)
	require.Equal(t, "patchbay.events.offer.alice.j1.revoked", out.Evs[0].Subject)
	c := out.Evs[1].Job
	require.Equal(t, "cancelled", c.Status)
	require.Equal(t, "Abandoned", c.DispositionCode)
	require.Equal(t, "hung up", c.CancelNote)
	// alice is free again and gets the next job
	require.Equal(t, "j2", out.issued()[0].JobID)
	require.Equal(t, []string{"j2"}, h.e.QueueJobIDs("q1"))
	require.Equal(t, []string{"j2"}, h.kv.queueOrder("q1"))

	requireRefused(t, h.accept("j1", o.OfferID, "alice"), events.ErrOfferRevoked)
	requireRefused(t, h.cancel("j1"), events.ErrInvalidTransition)
	checkInvariants(t, h.e)
	requireKVMatches(t, h.kv, h.e)
}

// Cancelling an assigned job releases the worker's capacity.
func TestCancelAssignedJob(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	requireOK(t, h.create("j1", "q1"))
	a1 := h.assign("j1", "alice")
	requireOK(t, h.create("j2", "q1"))
	out := h.cancel("j1")
	requireOK(t, out)
	require.Equal(t, []events.Type{events.TypeJobCancelled, events.TypeOfferIssued}, out.types())
	require.Equal(t, "alice", h.offeredTo("j2"))
	requireRefused(t, h.complete("j1", a1), events.ErrInvalidTransition)
	checkInvariants(t, h.e)
}

// Answering an offer: unknown job, unknown offer, another worker's offer.
func TestAnswerOfferErrors(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	requireOK(t, h.register("bob"))
	requireOK(t, h.create("j1", "q1"))
	requireOK(t, h.create("j2", "q1"))
	o1, o2 := h.offerFor("j1"), h.offerFor("j2")
	require.Equal(t, "alice", o1.WorkerID)
	require.Equal(t, "bob", o2.WorkerID)

	tests := []struct {
		name         string
		job, offer   string
		worker       string
		wantErr      error
		wantCode     events.Code
		wantField    string
		wantContains string
	}{
		{"unknown job", "nope", o1.OfferID, "alice", events.ErrUnknownJob, events.CodeUnknownJob, "jobId", "nope"},
		{"unknown offer", "j1", "nope", "alice", events.ErrUnknownOffer, events.CodeUnknownOffer, "offerId", "nope"},
		{"offer of another job", "j1", o2.OfferID, "bob", events.ErrUnknownOffer, events.CodeUnknownOffer, "offerId", o2.OfferID},
		{"not your offer", "j1", o1.OfferID, "bob", events.ErrNotYourOffer, events.CodeNotYourOffer, "workerId", "bob"},
		{"not your offer, unknown worker", "j1", o1.OfferID, "mallory", events.ErrNotYourOffer, events.CodeNotYourOffer, "workerId", "mallory"},
	}
	for _, tt := range tests {
		for _, verb := range []string{"accept", "decline"} {
			t.Run(tt.name+"/"+verb, func(t *testing.T) {
				before := dump(h.e)
				var out outcome
				if verb == "accept" {
					out = h.accept(tt.job, tt.offer, tt.worker)
				} else {
					out = h.decline(tt.job, tt.offer, tt.worker, nil)
				}
				requireRefused(t, out, tt.wantErr)
				require.Equal(t, tt.wantCode, out.Err.Code)
				require.Equal(t, tt.wantField, out.Err.Field)
				require.Contains(t, out.Err.Message, tt.wantContains)
				require.Empty(t, out.Events)
				require.Equal(t, before, dump(h.e))
			})
		}
	}
}

// Answers to offers that are no longer issued say what happened to them.
func TestAnswerOfferInTerminalStatus(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice", wCapacity(3)))
	requireOK(t, h.create("jDeclined", "q1"))
	oDeclined := h.offerFor("jDeclined")
	requireOK(t, h.decline("jDeclined", oDeclined.OfferID, "alice", nil))
	requireOK(t, h.create("jAccepted", "q1"))
	oAccepted := h.offerFor("jAccepted")
	requireOK(t, h.accept("jAccepted", oAccepted.OfferID, "alice"))

	requireRefused(t, h.accept("jDeclined", oDeclined.OfferID, "alice"), events.ErrOfferDeclined)
	requireRefused(t, h.decline("jAccepted", oAccepted.OfferID, "alice", nil), events.ErrInvalidTransition)

	// declining twice is answered as a duplicate and changes nothing
	before := dump(h.e)
	out := h.decline("jDeclined", oDeclined.OfferID, "alice", nil)
	requireOK(t, out)
	require.True(t, out.Reply.Duplicate)
	require.Empty(t, out.Ops)
	require.Empty(t, out.Events)
	require.Equal(t, before, dump(h.e))
}

// Accepting the same offer twice is idempotent: same assignment, nothing changes.
func TestAcceptTwiceIsIdempotent(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	requireOK(t, h.create("j1", "q1"))
	o := h.offerFor("j1")
	first := h.accept("j1", o.OfferID, "alice")
	requireOK(t, first)
	before := dump(h.e)

	h.advance(time.Minute)
	second := h.accept("j1", o.OfferID, "alice")
	requireOK(t, second)
	require.True(t, second.Reply.Duplicate)
	require.Equal(t, first.Reply.AssignmentID, second.Reply.AssignmentID)
	require.Equal(t, o.OfferID, second.Reply.OfferID)
	require.Equal(t, "assigned", second.Reply.Status)
	require.Empty(t, second.Ops)
	require.Empty(t, second.Events)
	require.Equal(t, before, dump(h.e))
	// another worker's try is still "not your offer"
	requireRefused(t, h.accept("j1", o.OfferID, "bob"), events.ErrNotYourOffer)
}

// job.created is idempotent on the CloudEvent id; a job id is used once.
func TestJobCreatedIdempotency(t *testing.T) {
	h := newHarness(t, Config{})
	first := h.doID("ev-1", events.TypeJobCreated, jobData("j1", "q1"))
	requireOK(t, first)
	before := dump(h.e)

	h.advance(time.Second)
	again := h.doID("ev-1", events.TypeJobCreated, jobData("j1", "q1"))
	requireOK(t, again)
	require.True(t, again.Reply.Duplicate)
	require.Equal(t, "j1", again.Reply.JobID)
	require.Equal(t, "queued", again.Reply.Status)
	require.Equal(t, "ev-1", again.Reply.CommandID)
	require.Empty(t, again.Ops)
	require.Empty(t, again.Events)
	require.Equal(t, before, dump(h.e))
	require.Equal(t, []string{"j1"}, h.e.QueueJobIDs("q1"))

	other := h.doID("ev-2", events.TypeJobCreated, jobData("j1", "q2"))
	requireRefused(t, other, events.ErrJobExists)
	require.Equal(t, "jobId", other.Err.Field)
	require.Empty(t, other.Events)
	require.Equal(t, before, dump(h.e))

	// the duplicate of an assigned job reports its status now
	requireOK(t, h.register("alice"))
	h.assign("j1", "alice")
	again = h.doID("ev-1", events.TypeJobCreated, jobData("j1", "q1"))
	require.True(t, again.Reply.Duplicate)
	require.Equal(t, "assigned", again.Reply.Status)
}

// An invalid job.created is refused with invalid_data naming the field, and the
// router publishes job.rejected.
func TestJobCreatedInvalid(t *testing.T) {
	tests := []struct {
		name      string
		id        string
		data      *events.JobCreated
		wantField string
		wantQueue string // the queue token of the rejected subject
	}{
		{"bad queue id", "", jobData("j1", "bad queue"), "queueId", "_"},
		{"missing queue", "", jobData("j1", ""), "queueId", "_"},
		{"priority 150", "", jobData("j1", "q1", jPriority(150)), "priority", "q1"},
		{"priority -101", "", jobData("j1", "q1", jPriority(-101)), "priority", "q1"},
		{"bad operator", "", jobData("j1", "q1", jSelectors(sel("skill", "equal", "x"), sel("level", "like", 3))), "requestedWorkerSelectors/1/labelOperator", "q1"},
		{"selector without key", "", jobData("j1", "q1", jSelectors(sel("", "equal", 3))), "requestedWorkerSelectors/0/key", "q1"},
		{"selector value object", "", jobData("j1", "q1", jSelectors(sel("k", "equal", map[string]any{"a": 1}))), "requestedWorkerSelectors/0/value", "q1"},
		{"selector value null", "", jobData("j1", "q1", jSelectors(sel("k", "equal", nil))), "requestedWorkerSelectors/0/value", "q1"},
		{"missing channel", "", jobData("j1", "q1", jChannel("")), "channelId", "q1"},
		{"bad channel", "", jobData("j1", "q1", jChannel("a.b")), "channelId", "q1"},
		{"label value null in a list", "", jobData("j1", "q1", func(d *events.JobCreated) { d.Labels = events.Labels{"l": []any{1, nil}} }), "labels/l/1", "q1"},
		{"bad job id", "", jobData("a.b", "q1"), "jobId", "q1"},
		{"bad cloud event id as job id", "x.y", jobData("", "q1"), "jobId", "q1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			requireOK(t, h.register("alice"))
			before := dump(h.e)
			id := tt.id
			if id == "" {
				id = "ev-bad"
			}
			out := h.doID(id, events.TypeJobCreated, tt.data)
			requireRefused(t, out, events.ErrInvalidData)
			require.Equal(t, events.CodeInvalidData, out.Err.Code)
			require.Equal(t, tt.wantField, out.Err.Field)
			require.Equal(t, []events.Type{events.TypeJobRejected}, out.types())
			rej := out.Evs[0]
			jobID := tt.data.JobID
			if jobID == "" {
				jobID = id
			}
			require.Equal(t, jobID, rej.Job.JobID)
			require.Equal(t, "rejected", rej.Job.Status)
			require.NotNil(t, rej.Job.Reason)
			require.Equal(t, events.CodeInvalidData, rej.Job.Reason.Code)
			require.Equal(t, tt.wantField, rej.Job.Reason.Field)
			require.True(t, strings.HasPrefix(rej.Subject, "patchbay.events.job."+tt.wantQueue+"."), rej.Subject)
			require.True(t, strings.HasSuffix(rej.Subject, ".rejected"), rej.Subject)
			require.Equal(t, before, dump(h.e), "a rejected job is not stored")
			_, ok := h.e.Job(jobID)
			require.False(t, ok)
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	h := newHarness(t, Config{})
	res := h.e.Apply(Command{ID: "x", Type: "io.patchbay.job.frobnicate", Data: nil}, t0)
	require.NotNil(t, res.Err)
	require.ErrorIs(t, res.Err, events.ErrUnknownType)
	require.Empty(t, res.Ops)
	require.Empty(t, res.Events)
	require.Nil(t, res.Reply)
}

func TestWorkerCommandErrors(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	tests := []struct {
		name      string
		typ       events.Type
		data      any
		wantErr   error
		wantField string
	}{
		{"update unknown", events.TypeWorkerUpdate, &events.WorkerRegister{WorkerID: "bob"}, events.ErrUnknownWorker, "workerId"},
		{"deregister unknown", events.TypeWorkerDeregister, &events.WorkerDeregister{WorkerID: "bob"}, events.ErrUnknownWorker, "workerId"},
		{"deregister bad id", events.TypeWorkerDeregister, &events.WorkerDeregister{WorkerID: "a b"}, events.ErrInvalidData, "workerId"},
		{"register without id", events.TypeWorkerRegister, workerData(""), events.ErrInvalidData, "workerId"},
		{"register without queues", events.TypeWorkerRegister, workerData("bob", wQueues()), events.ErrInvalidData, "queues"},
		{"register bad queue", events.TypeWorkerRegister, workerData("bob", wQueues("q1", "q 2")), events.ErrInvalidData, "queues/1"},
		{"register without capacity", events.TypeWorkerRegister, workerData("bob", func(d *events.WorkerRegister) { d.TotalCapacity = nil }), events.ErrInvalidData, "totalCapacity"},
		{"register zero capacity", events.TypeWorkerRegister, workerData("bob", wCapacity(0)), events.ErrInvalidData, "totalCapacity"},
		{"register without channels", events.TypeWorkerRegister, workerData("bob", func(d *events.WorkerRegister) { d.Channels = nil }), events.ErrInvalidData, "channels"},
		{"register channel twice", events.TypeWorkerRegister, workerData("bob", wCapacity(2, ch("voice", 1, 0), ch("voice", 1, 0))), events.ErrInvalidData, "channels/1/channelId"},
		{"register zero cost", events.TypeWorkerRegister, workerData("bob", wCapacity(2, ch("voice", 0, 0))), events.ErrInvalidData, "channels/0/capacityCostPerJob"},
		{"register negative max", events.TypeWorkerRegister, workerData("bob", wCapacity(2, ch("voice", 1, -1))), events.ErrInvalidData, "channels/0/maxNumberOfJobs"},
		{"register bad label", events.TypeWorkerRegister, workerData("bob", wLabels(events.Labels{"x": map[string]any{"y": nil}})), events.ErrInvalidData, "labels/x/y"},
		{"update zero capacity", events.TypeWorkerUpdate, &events.WorkerRegister{WorkerID: "alice", TotalCapacity: intPtr(0)}, events.ErrInvalidData, "totalCapacity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := dump(h.e)
			out := h.do(tt.typ, tt.data)
			requireRefused(t, out, tt.wantErr)
			require.Equal(t, tt.wantField, out.Err.Field)
			require.Empty(t, out.Events)
			require.Equal(t, before, dump(h.e))
		})
	}
	// deregistering twice is a duplicate
	requireOK(t, h.deregister("alice"))
	before := dump(h.e)
	out := h.deregister("alice")
	requireOK(t, out)
	require.True(t, out.Reply.Duplicate)
	require.Equal(t, events.WorkerInactive, out.Reply.Status)
	require.Empty(t, out.Ops)
	require.Empty(t, out.Events)
	require.Equal(t, before, dump(h.e))
}

// complete, close and cancel sent again with the same CloudEvent id are answered as
// duplicates and change nothing; a second, different command is refused.
func TestCompleteCloseCancelIdempotentByCommandID(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice", wCapacity(2)))
	requireOK(t, h.create("j1", "q1"))
	a1 := h.assign("j1", "alice")
	requireOK(t, h.create("j2", "q1"))
	h.assign("j2", "alice")

	again := func(id string, typ events.Type, data any, wantStatus string) {
		t.Helper()
		first := h.doID(id, typ, data)
		requireOK(t, first)
		require.False(t, first.Reply.Duplicate)
		before, dl := dump(h.e), nextDeadline(h.e)
		h.advance(time.Second)
		dup := h.doID(id, typ, data)
		requireOK(t, dup)
		require.True(t, dup.Reply.Duplicate)
		require.Equal(t, wantStatus, dup.Reply.Status)
		require.Empty(t, dup.Ops)
		require.Empty(t, dup.Events)
		require.Equal(t, before, dump(h.e))
		require.Equal(t, dl, nextDeadline(h.e))
	}
	again("complete-1", events.TypeJobComplete, &events.JobComplete{JobID: "j1", AssignmentID: a1}, "completed")
	requireRefused(t, h.complete("j1", a1), events.ErrInvalidTransition)
	closeAt := h.now.Add(time.Minute)
	again("close-1", events.TypeJobClose, &events.JobClose{JobID: "j1", AssignmentID: a1, CloseAt: &closeAt}, "completed")
	requireRefused(t, h.close("j1", a1, "", nil), events.ErrInvalidTransition)
	h.tick(closeAt)
	require.Equal(t, "closed", h.job("j1").Status)
	// the scheduling command, redelivered after the close happened, is still a duplicate
	dup := h.doID("close-1", events.TypeJobClose, &events.JobClose{JobID: "j1", AssignmentID: a1, CloseAt: &closeAt})
	requireOK(t, dup)
	require.True(t, dup.Reply.Duplicate)
	require.Equal(t, "closed", dup.Reply.Status)
	require.Equal(t, a1, dup.Reply.AssignmentID)

	again("cancel-2", events.TypeJobCancel, &events.JobCancel{JobID: "j2"}, "cancelled")
	requireRefused(t, h.cancel("j2"), events.ErrInvalidTransition)
	checkInvariants(t, h.e)
}

// Expiries rotate a job through every eligible worker: each expiry sends it to the
// next worker, and the one whose offer expired longest ago comes back first.
func TestExpiriesRotateThroughWorkers(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: 10 * time.Second})
	for _, w := range []string{"a", "b", "c"} {
		requireOK(t, h.register(w))
		h.advance(time.Second)
	}
	requireOK(t, h.create("j1", "q1"))
	var got []string
	for i := 0; i < 5; i++ {
		got = append(got, h.offeredTo("j1"))
		at, ok := h.e.NextDeadline()
		require.True(t, ok)
		h.now = at
		h.tick(at)
	}
	require.Equal(t, []string{"a", "b", "c", "a", "b"}, got)
	require.Equal(t, []string{"c", "a", "b"}, h.e.jobs["j1"].ExpiredFor, "persisted with the job, oldest expiry first")
}
