package matcher

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

func TestQueueAndJobInfo(t *testing.T) {
	h := newHarness(t, Config{})
	h.e.Resume(h.now)
	start := h.now
	// Two assignments in the first minute give the queue a rate.
	requireOK(t, h.register("w", wCapacity(1, ch("voice", 1, 0))))
	for _, id := range []string{"done1", "done2"} {
		requireOK(t, h.create(id, "q1"))
		h.advance(15 * time.Second)
		asg := h.assign(id, "w")
		requireOK(t, h.complete(id, asg))
		requireOK(t, h.close(id, asg, "Resolved", nil))
	}
	requireOK(t, h.deregister("w"))
	requireOK(t, h.create("low", "q1", jPriority(-5)))
	h.advance(10 * time.Second)
	requireOK(t, h.create("mid", "q1"))
	requireOK(t, h.create("high", "q1", jPriority(5)))
	h.advance(30 * time.Second)

	q := h.e.QueueInfo("q1", h.now)
	require.Equal(t, 3, q.Length)
	require.Equal(t, 40.0, q.LongestWaitSeconds, "low has waited 40s")
	require.Equal(t, 0, q.AvailableWorkers)
	rate := 2 / h.now.Sub(start).Seconds()
	require.InDelta(t, rate*60, q.AssignmentsPerMinute, 1e-9)
	require.Len(t, q.EstimatedWait, 3)
	require.Equal(t, events.PriorityWait{Priority: 5, Ahead: 1, EstimatedWaitSeconds: ptr(2 / rate)}, q.EstimatedWait[0])
	require.Equal(t, 0, q.EstimatedWait[1].Priority)
	require.Equal(t, 2, q.EstimatedWait[1].Ahead)
	require.Equal(t, 3, q.EstimatedWait[2].Ahead)

	j, err := h.e.JobInfo("mid", h.now)
	require.NoError(t, err)
	require.Equal(t, 2, j.Position, "behind high, ahead of low")
	require.Equal(t, 3, j.QueueLength)
	require.InDelta(t, 2/rate, *j.EstimatedWaitSeconds, 1e-9)
	closed, err := h.e.JobInfo("done1", h.now)
	require.NoError(t, err)
	require.Zero(t, closed.Position)
	require.Equal(t, "closed", closed.Job.Status)
	_, err = h.e.JobInfo("nope", h.now)
	require.ErrorIs(t, err, events.ErrUnknownJob)

	// An empty, unknown queue: no estimate without assignments.
	empty := h.e.QueueInfo("q9", h.now)
	require.Zero(t, empty.Length)
	require.Nil(t, empty.EstimatedWait)
}

func ptr(f float64) *float64 { return &f }
