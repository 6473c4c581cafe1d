package dashboard

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

// A page that does not keep up is dropped, not buffered for: the others go on.
func TestSlowPageIsDropped(t *testing.T) {
	t.Parallel()
	h := newHub(nil, Config{MaxStreams: 2, StreamBuffer: 2, RecentJobs: 2})
	slow, ok := h.subscribe()
	require.True(t, ok)
	fast, ok := h.subscribe()
	require.True(t, ok)
	_, ok = h.subscribe()
	require.False(t, ok, "MaxStreams")
	for i := range 3 {
		h.publish(Notice{Type: "job.queued", JobID: "j"}, nil)
		if i < 2 {
			<-fast.ch
		}
	}
	select {
	case <-slow.gone:
	default:
		t.Fatal("the slow page is still subscribed")
	}
	require.Len(t, slow.ch, 2, "nothing more was buffered for it")
	require.Equal(t, 1, h.streams())
	require.Len(t, fast.ch, 1)
	h.unsubscribe(slow) // after it was dropped: nothing happens
	h.unsubscribe(fast)
	require.Equal(t, 0, h.streams())
}

// The recent jobs keep the last snapshot of the most recently heard of, at most max.
func TestRecentJobs(t *testing.T) {
	t.Parallel()
	r := newRecentJobs(2)
	r.put(events.Job{JobID: "a", Status: "queued"})
	r.put(events.Job{JobID: "b", Status: "queued"})
	r.put(events.Job{JobID: "a", Status: "assigned"})
	r.put(events.Job{JobID: "c", Status: "queued"})
	got := r.list()
	require.Len(t, got, 2)
	require.Equal(t, "c", got[0].JobID)
	require.Equal(t, "a", got[1].JobID)
	require.Equal(t, "assigned", got[1].Status)
}
