package dashboard

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
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

// A dashboard nobody looks at stops following the event stream after IdleAfter, so
// it costs the router nothing; a page coming makes it follow again, read the live
// jobs again and tell the page to read everything (resync).
func TestWatchPausesWithoutPages(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns.ClientURL())
	natstest.StartRouter(t, nc, router.Config{})
	c, err := patchbay.New(nc, patchbay.WithRetryDeadline(CallTimeout))
	require.NoError(t, err)
	d := New(c, Config{IdleAfter: 50 * time.Millisecond})
	t.Cleanup(d.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, d.Start(ctx))
	wait := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: not within 30 s", what)
			case <-time.After(5 * time.Millisecond): // polls a condition; nothing waits on time passing
			}
		}
	}
	wait("the watch pauses without pages", func() bool { return !d.hub.following() })

	// While paused, a job is created: no page heard of it.
	_, err = c.CreateJob(ctx, patchbay.JobSpec{JobID: "quiet", QueueID: "q", ChannelID: "voice"})
	require.NoError(t, err)
	page, ok := d.hub.subscribe()
	require.True(t, ok)
	defer d.hub.unsubscribe(page)
	select {
	case b := <-page.ch:
		var n Notice
		require.NoError(t, json.Unmarshal(b, &n))
		require.Equal(t, NoticeResync, n.Type)
	case <-ctx.Done():
		t.Fatal("no resync notice when the watch resumed")
	}
	require.True(t, d.hub.following())
	var ids []string
	for _, j := range d.hub.recentJobs() {
		ids = append(ids, j.JobID)
	}
	require.Contains(t, ids, "quiet", "the live jobs are read again on resume")

	// Followed again: the page hears of a new job.
	_, err = c.CreateJob(ctx, patchbay.JobSpec{JobID: "heard", QueueID: "q", ChannelID: "voice"})
	require.NoError(t, err)
	for {
		select {
		case b := <-page.ch:
			var n Notice
			require.NoError(t, json.Unmarshal(b, &n))
			if n.JobID == "heard" {
				return
			}
		case <-ctx.Done():
			t.Fatal("the resumed watch does not follow the events")
		}
	}
}
