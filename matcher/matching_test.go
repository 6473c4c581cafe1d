package matcher

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

func jMode(kind string, at *time.Time) func(*events.JobCreated) {
	return func(d *events.JobCreated) { d.MatchingMode = &events.MatchingMode{Kind: kind, ScheduleAt: at} }
}

func (h *harness) updateMode(jobID, kind string) outcome {
	h.t.Helper()
	return h.do(events.TypeJobUpdate, &events.JobUpdate{JobID: jobID, MatchingMode: &events.MatchingMode{Kind: kind}})
}

func (h *harness) unassign(jobID, assignmentID string, suspend bool) outcome {
	h.t.Helper()
	return h.do(events.TypeJobUnassign, &events.JobUnassign{JobID: jobID, AssignmentID: assignmentID, SuspendMatching: suspend})
}

// queueAndMatch, explicit or by default, queues and offers the job at once.
func TestMatchingModeQueueAndMatch(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	out := h.create("j1", "q1", jMode(events.MatchQueueAndMatch, nil))
	requireOK(t, out)
	require.Equal(t, []events.Type{events.TypeJobReceived, events.TypeJobQueued, events.TypeOfferIssued}, out.types())
	require.Equal(t, "queued", out.Reply.Status)
	require.Nil(t, h.job("j1").MatchingMode)
	require.Equal(t, "alice", h.offeredTo("j1"))
	checkInvariants(t, h.e)
}

// A suspended job is not in its queue and not offered until an update resumes it.
func TestMatchingModeSuspendThenResume(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	out := h.create("j1", "q1", jMode(events.MatchSuspend, nil))
	requireOK(t, out)
	require.Equal(t, []events.Type{events.TypeJobReceived, events.TypeJobSuspended}, out.types())
	require.Equal(t, "suspended", out.Reply.Status)
	require.Empty(t, h.e.QueueJobIDs("q1"))
	require.Empty(t, h.outstanding("j1"))
	require.Nil(t, h.job("j1").EnqueuedAt)
	checkInvariants(t, h.e)

	requireRefused(t, h.updateMode("j1", events.MatchSuspend), events.ErrInvalidTransition)
	requireRefused(t, h.updateMode("j1", events.MatchScheduleAndSuspend), events.ErrInvalidData)

	h.advance(time.Minute)
	out = h.updateMode("j1", events.MatchQueueAndMatch)
	requireOK(t, out)
	require.Equal(t, "queued", out.Reply.Status)
	require.Equal(t, []events.Type{events.TypeJobQueued, events.TypeOfferIssued}, out.types())
	require.Equal(t, []string{"j1"}, h.e.QueueJobIDs("q1"))
	require.Equal(t, h.now, *h.job("j1").EnqueuedAt)
	require.Equal(t, "alice", h.offeredTo("j1"))
	checkInvariants(t, h.e)
}

// Suspending a queued job takes it out of its queue and revokes its offers, giving
// the worker its capacity back.
func TestUpdateSuspendRevokesOffers(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	requireOK(t, h.create("j1", "q1"))
	offer := h.offerFor("j1")
	require.Equal(t, 1, h.worker("alice").UsedCapacity)

	out := h.updateMode("j1", events.MatchSuspend)
	requireOK(t, out)
	require.Equal(t, "suspended", out.Reply.Status)
	require.Equal(t, []events.Type{events.TypeOfferRevoked, events.TypeJobSuspended}, out.types())
	require.Equal(t, events.RevokedJobSuspended, out.ofType(events.TypeOfferRevoked)[0].Offer.Reason)
	require.Equal(t, 0, h.worker("alice").UsedCapacity)
	require.Empty(t, h.e.QueueJobIDs("q1"))
	requireRefused(t, h.accept("j1", offer.OfferID, "alice"), events.ErrOfferRevoked)

	// Another job takes the freed worker.
	out = h.create("j2", "q1")
	requireOK(t, out)
	require.Equal(t, "alice", h.offeredTo("j2"))
	checkInvariants(t, h.e)
}

// A scheduleAndSuspend job waits for scheduleAt (a timer that survives a restart),
// then waits for activation until an update queues it.
func TestMatchingModeScheduleAndSuspend(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	at := t0.Add(time.Hour)
	out := h.create("j1", "q1", jMode(events.MatchScheduleAndSuspend, &at))
	requireOK(t, out)
	require.Equal(t, []events.Type{events.TypeJobReceived, events.TypeJobScheduled}, out.types())
	require.Equal(t, "scheduled", out.Reply.Status)
	require.Equal(t, &events.MatchingMode{Kind: events.MatchScheduleAndSuspend, ScheduleAt: &at}, h.job("j1").MatchingMode)
	require.Empty(t, h.e.QueueJobIDs("q1"))
	d, ok := h.e.NextDeadline()
	require.True(t, ok)
	require.Equal(t, at, d)

	requireRefused(t, h.updateMode("j1", events.MatchQueueAndMatch), events.ErrInvalidTransition)
	require.Nil(t, h.tick(at.Add(-time.Second)).Result)

	h2 := h.reload()
	requireSameEngine(t, h.e, h2.e)
	out = h2.tick(at)
	require.Equal(t, []events.Type{events.TypeJobWaitingForActivation}, out.types())
	require.Equal(t, "waitingForActivation", h2.job("j1").Status)
	require.Empty(t, h2.e.QueueJobIDs("q1"))
	require.Empty(t, h2.outstanding("j1"))
	checkInvariants(t, h2.e)

	h3 := h2.reload()
	requireSameEngine(t, h2.e, h3.e)
	out = h3.updateMode("j1", events.MatchQueueAndMatch)
	requireOK(t, out)
	require.Equal(t, []events.Type{events.TypeJobQueued, events.TypeOfferIssued}, out.types())
	require.Nil(t, h3.job("j1").MatchingMode)
	require.Equal(t, "alice", h3.offeredTo("j1"))
	checkInvariants(t, h3.e)
}

func TestMatchingModeValidation(t *testing.T) {
	h := newHarness(t, Config{})
	past := t0.Add(-time.Second)
	later := t0.Add(time.Minute)
	cases := []struct {
		name  string
		mode  *events.MatchingMode
		field string
	}{
		{"unknown kind", &events.MatchingMode{Kind: "later"}, "matchingMode/kind"},
		{"empty kind", &events.MatchingMode{}, "matchingMode/kind"},
		{"schedule without time", &events.MatchingMode{Kind: events.MatchScheduleAndSuspend}, "matchingMode/scheduleAt"},
		{"schedule in the past", &events.MatchingMode{Kind: events.MatchScheduleAndSuspend, ScheduleAt: &past}, "matchingMode/scheduleAt"},
		{"time with suspend", &events.MatchingMode{Kind: events.MatchSuspend, ScheduleAt: &later}, "matchingMode/scheduleAt"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := h.create(fmt.Sprintf("j%d", i), "q1", func(d *events.JobCreated) { d.MatchingMode = c.mode })
			requireRefused(t, out, events.ErrInvalidData)
			require.Equal(t, c.field, out.Err.Field)
			require.Equal(t, []events.Type{events.TypeJobRejected}, out.types())
		})
	}
	// scheduleAt now is allowed: the job activates on the next tick.
	now := t0
	requireOK(t, h.create("jnow", "q1", jMode(events.MatchScheduleAndSuspend, &now)))
	require.Equal(t, []events.Type{events.TypeJobWaitingForActivation}, h.tick(t0).types())
}

// Unassigning sends the job back to its queue and releases the worker's capacity; at
// most 3 times.
func TestUnassignBackToQueueAtMostThreeTimes(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	requireOK(t, h.create("j1", "q1"))
	for i := 1; i <= 3; i++ {
		asg := h.assign("j1", "alice")
		require.Equal(t, 1, h.worker("alice").UsedCapacity)
		requireRefused(t, h.unassign("j1", "nope", false), events.ErrAssignmentMismatch)
		h.advance(time.Second)
		out := h.unassign("j1", asg, false)
		requireOK(t, out)
		require.Equal(t, "queued", out.Reply.Status)
		require.Equal(t, []events.Type{events.TypeJobUnassigned, events.TypeJobQueued, events.TypeOfferIssued}, out.types())
		u := out.ofType(events.TypeJobUnassigned)[0].Job
		require.Equal(t, i, u.UnassignmentCount)
		require.Nil(t, u.Assignment)
		require.Equal(t, i, h.job("j1").UnassignmentCount)
		// The capacity came back and the job was offered again (to alice, the only worker).
		require.Equal(t, "alice", h.offeredTo("j1"))
		require.Empty(t, h.worker("alice").AssignedJobIDs)
		requireRefused(t, h.complete("j1", asg), events.ErrInvalidTransition)
		checkInvariants(t, h.e)
	}
	asg := h.assign("j1", "alice")
	out := h.unassign("j1", asg, false)
	requireRefused(t, out, events.ErrInvalidTransition)
	require.Contains(t, out.Err.Message, "already unassigned 3 times")
	require.Equal(t, "assigned", h.job("j1").Status)
	requireOK(t, h.complete("j1", asg))
	requireRefused(t, h.unassign("j1", asg, false), events.ErrInvalidTransition)

	h2 := h.reload()
	requireSameEngine(t, h.e, h2.e)
}

// Unassign with suspendMatching suspends the job; an update resumes it.
func TestUnassignSuspendMatching(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	requireOK(t, h.create("j1", "q1"))
	asg := h.assign("j1", "alice")
	out := h.unassign("j1", asg, true)
	requireOK(t, out)
	require.Equal(t, "suspended", out.Reply.Status)
	require.Equal(t, []events.Type{events.TypeJobUnassigned, events.TypeJobSuspended}, out.types())
	require.Equal(t, 0, h.worker("alice").UsedCapacity)
	require.Empty(t, h.e.QueueJobIDs("q1"))
	require.Empty(t, h.outstanding("j1"))
	checkInvariants(t, h.e)

	// The same command again is a duplicate.
	dup := h.doID(out.Reply.CommandID, events.TypeJobUnassign, &events.JobUnassign{JobID: "j1", AssignmentID: asg, SuspendMatching: true})
	requireOK(t, dup)
	require.True(t, dup.Reply.Duplicate)

	h2 := h.reload()
	requireSameEngine(t, h.e, h2.e)
	out = h2.updateMode("j1", events.MatchQueueAndMatch)
	requireOK(t, out)
	require.Equal(t, "alice", h2.offeredTo("j1"))
	checkInvariants(t, h2.e)
}

// A scheduled, waiting or suspended job can be cancelled; it holds nothing.
func TestCancelFromNewStates(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	at := t0.Add(time.Minute)
	requireOK(t, h.create("sched", "q1", jMode(events.MatchScheduleAndSuspend, &at)))
	requireOK(t, h.create("wait", "q1", jMode(events.MatchScheduleAndSuspend, &at)))
	requireOK(t, h.create("susp", "q1", jMode(events.MatchSuspend, nil)))
	requireOK(t, h.cancel("sched"))
	h.tick(at)
	require.Equal(t, string(lifecycle.JobWaitingForActivation), h.job("wait").Status)
	require.Equal(t, string(lifecycle.JobCancelled), h.job("sched").Status, "a cancelled job is not activated")
	for _, id := range []string{"wait", "susp"} {
		out := h.cancel(id)
		requireOK(t, out)
		require.Equal(t, "cancelled", out.Reply.Status)
		require.Equal(t, []events.Type{events.TypeJobCancelled}, out.types())
	}
	require.Equal(t, 0, h.worker("alice").UsedCapacity)
	requireRefused(t, h.updateMode("susp", events.MatchQueueAndMatch), events.ErrInvalidTransition)
	requireRefused(t, h.updateMode("nope", events.MatchQueueAndMatch), events.ErrUnknownJob)
	checkInvariants(t, h.e)
	// nothing is left to do but forget the cancelled jobs, the first a retention
	// after it was cancelled
	next, ok := h.e.NextDeadline()
	require.True(t, ok)
	require.Equal(t, t0.Add(RetentionDefault), next)
}
