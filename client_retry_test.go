package patchbay_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// retryWait bounds every wait of these tests: generous, for a loaded 2-core machine
// under -race. The tests wait for messages, never for time to pass.
const retryWait = 60 * time.Second

// nextMsg waits for the next message on ch.
func nextMsg(t *testing.T, ch chan *nats.Msg, what string) *nats.Msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(retryWait):
		t.Fatalf("no %s within %s", what, retryWait)
		return nil
	}
}

// answer replies to a request with a CloudEvent of type typ carrying data.
func answer(t *testing.T, m *nats.Msg, typ events.Type, data any) {
	t.Helper()
	ev, err := events.New(typ, "reply-"+time.Now().Format(time.RFC3339Nano), "/test", "", time.Now(), data)
	require.NoError(t, err)
	body, err := events.Structured(ev)
	require.NoError(t, err)
	reply := nats.NewMsg(m.Reply)
	reply.Header.Set("Content-Type", events.ContentTypeCloudEvent)
	reply.Data = body
	require.NoError(t, m.RespondMsg(reply))
}

func eventID(t *testing.T, m *nats.Msg) string {
	t.Helper()
	ev, err := events.Decode(m.Header, m.Data)
	require.NoError(t, err)
	return ev.ID()
}

// A command sent while no router runs is resent until one starts and answers it: the
// call succeeds, and the command was applied under the id of its first attempt.
func TestClientRetriesUntilARouterStarts(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns.ClientURL())
	c, err := patchbay.New(nc, patchbay.WithAttemptTimeout(time.Second), patchbay.WithRetryDeadline(retryWait))
	require.NoError(t, err)

	// Watch the first attempt arrive. (Listening makes this subscriber a responder,
	// so that attempt times out; once it stops listening, the next attempts find no
	// responders until the router is up.)
	watcher := natstest.Connect(t, ns.ClientURL())
	attempts := make(chan *nats.Msg, 64)
	sub, err := watcher.ChanSubscribe(events.ReqSubject(events.TypeJobCreated), attempts)
	require.NoError(t, err)
	require.NoError(t, watcher.Flush())

	type result struct {
		res *patchbay.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := c.CreateJob(context.Background(), patchbay.JobSpec{QueueID: "q", ChannelID: "voice"})
		done <- result{res, err}
	}()
	first := nextMsg(t, attempts, "first attempt")
	require.NoError(t, sub.Unsubscribe())
	select {
	case r := <-done:
		t.Fatalf("the call ended while no router ran: %+v", r)
	default:
	}

	r, err := router.New(natstest.Connect(t, c.Conn().ConnectedUrl()), router.Config{})
	require.NoError(t, err)
	sctx, cancel := context.WithTimeout(context.Background(), retryWait)
	defer cancel()
	require.NoError(t, r.Start(sctx))
	t.Cleanup(func() { _ = r.Stop(context.Background()) })

	var got result
	select {
	case got = <-done:
	case <-time.After(retryWait):
		t.Fatal("the call did not succeed once the router ran")
	}
	require.NoError(t, got.err)
	require.Equal(t, eventID(t, first), got.res.JobID, "the job is named by the id of the first attempt")
}

// A refusal marked retryable is followed by the same message again (same CloudEvent
// id, same bytes); the next answer is the call's result.
func TestClientResendsARetryableRefusal(t *testing.T) {
	t.Parallel()
	c, reqs := fakeRouter(t, events.TypeJobComplete)

	done := make(chan error, 1)
	go func() { done <- c.Complete(context.Background(), "j1", "a1", "") }()
	first := nextMsg(t, reqs, "first attempt")
	answer(t, first, events.TypeCommandFailed, events.CommandFailure{
		Error: &events.Error{Code: events.CodeInternal, Message: "storage briefly unavailable", Retryable: true}})
	second := nextMsg(t, reqs, "second attempt")
	require.Equal(t, eventID(t, first), eventID(t, second))
	require.True(t, bytes.Equal(first.Data, second.Data), "the same bytes are sent again")
	answer(t, second, events.TypeCommandSucceeded, events.CommandResult{CommandID: eventID(t, first), JobID: "j1"})
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(retryWait):
		t.Fatal("the call did not end")
	}
}

// When the call's deadline cuts an attempt short, the error is the failure the
// attempts before it met (here a retryable refusal), with the deadline.
func TestClientReportsWhyItRetriedWhenTheDeadlineCutsAnAttempt(t *testing.T) {
	t.Parallel()
	c, reqs := fakeRouter(t, events.TypeJobComplete, patchbay.WithAttemptTimeout(retryWait))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Complete(ctx, "j1", "a1", "") }()
	answer(t, nextMsg(t, reqs, "first attempt"), events.TypeCommandFailed, events.CommandFailure{
		Error: &events.Error{Code: events.CodeInternal, Message: "storage briefly unavailable", Retryable: true}})
	nextMsg(t, reqs, "second attempt") // never answered: the deadline ends it
	select {
	case err := <-done:
		require.ErrorContains(t, err, "storage briefly unavailable")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorContains(t, err, "gave up after 2 attempts")
	case <-time.After(retryWait):
		t.Fatal("the call did not end")
	}
}

// A refusal that is not retryable is the call's answer at once: one attempt.
func TestClientReturnsANonRetryableRefusalAtOnce(t *testing.T) {
	t.Parallel()
	c, reqs := fakeRouter(t, events.TypeJobCancel)

	done := make(chan error, 1)
	go func() { done <- c.Cancel(context.Background(), "j1", "", "") }()
	answer(t, nextMsg(t, reqs, "the attempt"), events.TypeCommandFailed, events.CommandFailure{
		Error: &events.Error{Code: events.CodeInternal, Message: "broken for good"}})
	select {
	case err := <-done:
		require.ErrorIs(t, err, patchbay.ErrInternal)
		require.ErrorContains(t, err, "broken for good")
	case <-time.After(retryWait):
		t.Fatal("the call did not end")
	}
	require.Empty(t, reqs, "no second attempt")

	// And from a real router: an unknown job.
	r, err := router.New(natstest.Connect(t, c.Conn().ConnectedUrl()), router.Config{})
	require.NoError(t, err)
	sctx, cancel := context.WithTimeout(context.Background(), retryWait)
	defer cancel()
	require.NoError(t, r.Start(sctx))
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	_, err = c.Accept(sctx, patchbay.Offer{JobID: "nope", OfferID: "o", WorkerID: "w"})
	require.ErrorIs(t, err, patchbay.ErrUnknownJob)
}

// A call gives up at its deadline — the client's retry deadline when the context has
// none, else the context's — with the last error, which also matches
// context.DeadlineExceeded.
func TestClientHonoursTheDeadline(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns.ClientURL())
	for _, tc := range []struct {
		name     string
		opts     []patchbay.Option
		ctx      func() (context.Context, context.CancelFunc)
		deadline time.Duration
	}{
		{"client retry deadline", []patchbay.Option{patchbay.WithRetryDeadline(time.Second)},
			func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			time.Second},
		{"context deadline", nil,
			func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 1200*time.Millisecond)
			}, 1200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := patchbay.New(nc, tc.opts...)
			require.NoError(t, err)
			ctx, cancel := tc.ctx()
			defer cancel()
			began := time.Now()
			_, err = c.RegisterWorker(ctx, patchbay.WorkerSpec{WorkerID: "w"})
			took := time.Since(began)
			require.ErrorIs(t, err, nats.ErrNoResponders)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.ErrorContains(t, err, "gave up after")
			require.ErrorContains(t, err, "no router answers (is `patchbay serve` running on this NATS server?)")
			require.GreaterOrEqual(t, took, tc.deadline)
			require.Less(t, took, tc.deadline+10*time.Second, "well before the default retry deadline")
		})
	}
	// A cancelled context ends the call at once, whatever the retry deadline.
	c, err := patchbay.New(nc, patchbay.WithRetryDeadline(0))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.RegisterWorker(ctx, patchbay.WorkerSpec{WorkerID: "w"})
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
}

// fakeRouter is a client and the requests it sends of type typ, which the test
// answers as it likes.
func fakeRouter(t *testing.T, typ events.Type, opts ...patchbay.Option) (*patchbay.Client, chan *nats.Msg) {
	t.Helper()
	ns := natstest.RunServer(t)
	c, err := patchbay.New(natstest.Connect(t, ns.ClientURL()), append([]patchbay.Option{patchbay.WithRetryDeadline(retryWait)}, opts...)...)
	require.NoError(t, err)
	fake := natstest.Connect(t, ns.ClientURL())
	reqs := make(chan *nats.Msg, 64)
	_, err = fake.ChanSubscribe(events.ReqSubject(typ), reqs)
	require.NoError(t, err)
	require.NoError(t, fake.Flush())
	return c, reqs
}
