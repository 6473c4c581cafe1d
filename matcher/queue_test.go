package matcher

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

// Dispatch order: higher priority first, then first in, first out.
func TestQueueOrderPriorityThenFIFO(t *testing.T) {
	h := newHarness(t, Config{})
	prios := []struct {
		id string
		p  int
	}{{"a", 0}, {"b", 5}, {"c", 0}, {"d", 100}, {"e", 5}, {"f", -3}, {"g", -100}, {"h", 0}, {"i", 100}}
	for _, x := range prios {
		requireOK(t, h.create(x.id, "q1", jPriority(x.p)))
		h.advance(time.Millisecond)
	}
	requireOK(t, h.create("other", "q2", jPriority(100)))
	want := []string{"d", "i", "b", "e", "a", "c", "h", "f", "g"}
	require.Equal(t, want, h.e.QueueJobIDs("q1"))
	require.Equal(t, []string{"other"}, h.e.QueueJobIDs("q2"))
	require.Nil(t, h.e.QueueJobIDs("nope"))
	// an engine loaded from the KV has the same dispatch order
	require.Equal(t, want, h.kv.queueOrder("q1"))

	// taking jobs out keeps the order of the rest
	requireOK(t, h.cancel("e"))
	requireOK(t, h.cancel("d"))
	requireOK(t, h.cancel("g"))
	want = []string{"i", "b", "a", "c", "h", "f"}
	require.Equal(t, want, h.e.QueueJobIDs("q1"))
	require.Equal(t, want, h.kv.queueOrder("q1"))
	checkInvariants(t, h.e)
}

// When one worker frees up, it is offered the first job in dispatch order.
func TestFreedWorkerGetsJobsInDispatchOrder(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice"))
	requireOK(t, h.create("first", "q1"))
	asg := h.assign("first", "alice")
	for _, x := range []struct {
		id string
		p  int
	}{{"low", -5}, {"mid1", 0}, {"high1", 10}, {"mid2", 0}, {"high2", 10}} {
		h.advance(time.Second)
		requireOK(t, h.create(x.id, "q1", jPriority(x.p)))
	}
	var got []string
	cur := "first"
	for range 5 {
		requireOK(t, h.complete(cur, asg))
		out := h.close(cur, asg, "Resolved", nil)
		requireOK(t, out)
		require.Len(t, out.issued(), 1, "the freed worker is offered the next job at once")
		cur = out.issued()[0].JobID
		got = append(got, cur)
		asg = h.assign(cur, "alice")
	}
	require.Equal(t, []string{"high1", "high2", "mid1", "mid2", "low"}, got)
}

func TestQueueInsertRemove(t *testing.T) {
	q := &Queue{ID: "q"}
	mk := func(id string, p int, seq uint64) *Job {
		return &Job{Job: events.Job{JobID: id, QueueID: "q", Priority: p}, Seq: seq}
	}
	a, b, c, d := mk("a", 0, 1), mk("b", 5, 2), mk("c", 0, 3), mk("d", 5, 4)
	for _, j := range []*Job{c, a, d, b} {
		q.insert(j)
	}
	ids := func() []string {
		var out []string
		for _, j := range q.jobs {
			out = append(out, j.JobID)
		}
		return out
	}
	require.Equal(t, []string{"b", "d", "a", "c"}, ids())
	q.remove(mk("x", 0, 9)) // not there: nothing happens
	q.remove(&Job{Job: a.Job, Seq: a.Seq})
	require.Equal(t, []string{"b", "d", "a", "c"}, ids(), "remove matches the job itself, not an equal copy")
	q.remove(d)
	q.remove(a)
	require.Equal(t, []string{"b", "c"}, ids())
	q.remove(b)
	q.remove(c)
	require.Empty(t, q.jobs)
}
