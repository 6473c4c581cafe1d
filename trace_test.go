package patchbay_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
)

// A command sent with a trace context (ContextWithTrace) is answered, and its events
// published, in that trace; a bad traceparent is refused before anything is sent.
func TestClientSendsTheContextsTrace(t *testing.T) {
	t.Parallel()
	e := startFeedEnv(t)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	msgs := make(chan events.Event, 16)
	sub, err := e.nc.Subscribe(events.JobAll("traced"), func(m *nats.Msg) {
		if ev, err := events.Decode(m.Header, m.Data); err == nil {
			msgs <- ev
		}
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, e.nc.Flush())

	ctx, err := patchbay.ContextWithTrace(e.ctx(), tp, "vendor=1")
	require.NoError(t, err)
	_, err = e.c.CreateJob(ctx, patchbay.JobSpec{JobID: "traced", QueueID: "q", ChannelID: "voice"})
	require.NoError(t, err)
	select {
	case ev := <-msgs:
		tc, ok := events.TraceOf(ev)
		require.True(t, ok, "%s carries no trace", ev.Type())
		require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", tc.TraceIDString())
		require.Equal(t, "vendor=1", tc.State)
	case <-time.After(retryWait):
		t.Fatal("no event of job traced")
	}

	_, err = patchbay.ContextWithTrace(e.ctx(), "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "")
	require.ErrorIs(t, err, patchbay.ErrMalformed)
	_, err = patchbay.ContextWithTrace(e.ctx(), tp, "not a tracestate")
	require.Error(t, err)
}
