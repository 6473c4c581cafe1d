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

// A job no worker could take, however long it waits, has no estimated wait: the
// queue's rate says nothing about it. The judgement is the matcher's own rule with
// what a wait changes (the worker's activity, presence and load, the job's offers
// and declines) set aside.
func TestJobInfoNoWorkerCanTake(t *testing.T) {
	h := newHarness(t, Config{})
	h.e.Resume(h.now)
	requireOK(t, h.register("en", wLabels(events.Labels{"language": "en"}), wCapacity(2, ch("voice", 2, 0), ch("chat", 1, 0))))
	for _, id := range []string{"done1", "done2"} { // a rate for q1
		requireOK(t, h.create(id, "q1"))
		h.advance(15 * time.Second)
		asg := h.assign(id, "en")
		requireOK(t, h.complete(id, asg))
		requireOK(t, h.close(id, asg, "Resolved", nil))
	}
	// en is busy with a job, then goes on a break: neither changes what it could take.
	requireOK(t, h.create("held", "q1"))
	h.assign("held", "en")
	requireOK(t, h.update(*workerData("en", wLabels(events.Labels{"language": "en"}), wCapacity(2, ch("voice", 2, 0), ch("chat", 1, 0)), wAvailable(false))))

	requireOK(t, h.create("english", "q1", jSelectors(sel("language", events.OpEqual, "en"))))
	requireOK(t, h.create("french", "q1", jSelectors(sel("language", events.OpEqual, "fr"))))
	requireOK(t, h.create("video", "q1", jChannel("video")))
	requireOK(t, h.create("elsewhere", "q2"))

	for id, could := range map[string]bool{"english": true, "french": false, "video": false, "elsewhere": false} {
		info, err := h.e.JobInfo(id, h.now)
		require.NoError(t, err)
		require.Equal(t, !could, info.NoWorkerCanTake, id)
		if could {
			require.NotNil(t, info.EstimatedWaitSeconds, "%s: a worker could take it and q1 has a rate", id)
		} else {
			require.Nil(t, info.EstimatedWaitSeconds, "%s: no worker could take it", id)
		}
	}

	// A French-speaking worker joins (on a break): french now has an estimate.
	requireOK(t, h.register("fr", wLabels(events.Labels{"language": "fr"}), wAvailable(false)))
	info, err := h.e.JobInfo("french", h.now)
	require.NoError(t, err)
	require.False(t, info.NoWorkerCanTake)
	require.NotNil(t, info.EstimatedWaitSeconds)
}
