package matcher

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

// An expiring selector is dropped at its time and the job is matched again with the
// selectors that remain.
func TestSelectorExpiry(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("en", wLabels(events.Labels{"language": "en", "level": float64(3)})))
	fr := sel("language", events.OpEqual, "fr")
	fr.ExpiresAfterSeconds = 30
	lvl := sel("level", events.OpGreaterThanOrEqual, float64(2))
	requireOK(t, h.create("j1", "q1", jSelectors(fr, lvl)))
	require.Empty(t, h.outstanding("j1"), "nobody speaks French")
	j := h.job("j1")
	require.Equal(t, t0.Add(30*time.Second), *j.WorkerSelectors[0].ExpiresAt)
	require.Nil(t, j.WorkerSelectors[1].ExpiresAt)

	require.Nil(t, h.tick(t0.Add(29*time.Second)).Result, "nothing before the expiry")
	h2 := h.reload() // the timer survives a restart
	out := h2.tick(t0.Add(30 * time.Second))
	require.Equal(t, []events.Type{events.TypeJobQueued, events.TypeOfferIssued}, out.types())
	require.Len(t, out.Evs[0].Job.WorkerSelectors, 1, "the job is announced with the selectors that remain")
	require.Equal(t, "level", out.Evs[0].Job.WorkerSelectors[0].Key)
	require.Equal(t, "en", out.issued()[0].WorkerID)
}

// An expedited selector puts the job at the front of its queue while it is active.
func TestExpeditedSelector(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.create("j1", "q1"))
	requireOK(t, h.create("j2", "q1", jPriority(5)))
	x := sel("language", events.OpEqual, "en")
	x.Expedite, x.ExpiresAfterSeconds = true, 60
	requireOK(t, h.create("j3", "q1", jSelectors(x)))
	require.Equal(t, []string{"j3", "j2", "j1"}, h.e.QueueJobIDs("q1"))
	require.Equal(t, []string{"j3", "j2", "j1"}, h.kv.queueOrder("q1"), "the job records keep the dispatch order")

	h.tick(t0.Add(60 * time.Second))
	require.Equal(t, []string{"j2", "j1", "j3"}, h.e.QueueJobIDs("q1"), "back to its priority once the selector expired")
	require.Equal(t, []string{"j2", "j1", "j3"}, h.kv.queueOrder("q1"))
	requireSameEngine(t, h.e, h.reload().e)
}

func TestSelectorExpiryValidation(t *testing.T) {
	neg := sel("a", events.OpEqual, "b")
	neg.ExpiresAfterSeconds = -1
	at := sel("a", events.OpEqual, "b")
	now := t0
	at.ExpiresAt = &now
	for name, c := range map[string]struct {
		s     events.WorkerSelector
		field string
	}{
		"negative":      {neg, "requestedWorkerSelectors/0/expiresAfterSeconds"},
		"expiresAt set": {at, "requestedWorkerSelectors/0/expiresAt"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, Config{})
			out := h.create("j", "q1", jSelectors(c.s))
			requireRefused(t, out, events.ErrInvalidData)
			require.Equal(t, c.field, out.Err.Field)
		})
	}
}

// A job still queued when its time to live runs out is cancelled with TTLExpired and
// its offers are revoked; an assigned job is not.
func TestJobTimeToLive(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: 5 * time.Minute})
	ttl := func(d *events.JobCreated) { d.TimeToLiveSeconds = 60 }
	requireOK(t, h.create("waits", "q1", ttl))
	requireOK(t, h.register("w", wCapacity(2, ch("voice", 1, 0))))
	requireOK(t, h.create("taken", "q1", ttl))
	require.Equal(t, "w", h.offeredTo("waits"))
	asg := h.assign("waits", "w")
	require.NotEmpty(t, asg)
	require.Equal(t, "w", h.offeredTo("taken"), "the worker's next offer")

	h2 := h.reload() // the timer survives a restart
	out := h2.tick(t0.Add(60 * time.Second))
	require.Equal(t, []events.Type{events.TypeOfferRevoked, events.TypeJobCancelled}, out.types())
	c := out.ofType(events.TypeJobCancelled)[0].Job
	require.Equal(t, "taken", c.JobID)
	require.Equal(t, events.DispositionTTLExpired, c.DispositionCode)
	require.Equal(t, "assigned", h2.job("waits").Status, "an assigned job has no time to live")
	require.Empty(t, h2.e.QueueJobIDs("q1"))

	out = h.create("bad", "q1", func(d *events.JobCreated) { d.TimeToLiveSeconds = -1 })
	requireRefused(t, out, events.ErrInvalidData)
	require.Equal(t, "timeToLiveSeconds", out.Err.Field)
}
