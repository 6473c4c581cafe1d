package router_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/router"
)

// Matching modes and unassign over the wire: a suspended job is not offered until an
// update resumes it; an unassigned job goes back to its queue and is offered again.
func TestSuspendResumeAndUnassignOnTheWire(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	e.register("alice", []string{"q"}, nil)

	res, err := e.client.CreateJob(ctx(t), patchbay.JobSpec{JobID: "j1", QueueID: "q", ChannelID: "voice",
		MatchingMode: &patchbay.MatchingMode{Kind: events.MatchSuspend}})
	require.NoError(t, err)
	require.Equal(t, "suspended", res.Status)
	require.Equal(t, "suspended", e.jobEvent(events.TypeJobSuspended, "j1").Status)

	res, err = e.client.UpdateJob(ctx(t), "j1", patchbay.MatchingMode{Kind: events.MatchQueueAndMatch})
	require.NoError(t, err)
	require.Equal(t, "queued", res.Status)
	o := e.offerFor("alice", "j1")
	asg, err := e.client.Accept(ctx(t), o)
	require.NoError(t, err)

	res, err = e.client.UnassignJob(ctx(t), "j1", asg, false)
	require.NoError(t, err)
	require.Equal(t, "queued", res.Status)
	u := e.jobEvent(events.TypeJobUnassigned, "j1")
	require.Equal(t, 1, u.UnassignmentCount)
	require.Nil(t, u.Assignment)
	o2 := e.offerFor("alice", "j1")
	require.NotEqual(t, o.OfferID, o2.OfferID)

	_, err = e.client.UpdateJob(ctx(t), "j1", patchbay.MatchingMode{Kind: events.MatchQueueAndMatch})
	require.ErrorIs(t, err, patchbay.ErrInvalidTransition)
	res, err = e.client.UpdateJob(ctx(t), "j1", patchbay.MatchingMode{Kind: events.MatchSuspend})
	require.NoError(t, err)
	require.Equal(t, "suspended", res.Status)
	revoked := e.next(events.TypeOfferRevoked, func(s seen) bool { return s.offer().OfferID == o2.OfferID }).offer()
	require.Equal(t, events.RevokedJobSuspended, revoked.Reason)
	_, err = e.client.Accept(ctx(t), o2)
	require.ErrorIs(t, err, patchbay.ErrOfferRevoked)
}
