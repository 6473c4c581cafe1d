package router_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/router"
)

// A command may name any reply subject in its header. The router answers only on
// subjects a client may name: one that would write into a bucket, call the JetStream
// API or forge an event is refused (invalid_data, field Patchbay-Reply-To) and nothing
// is published there.
func TestHostileReplySubjectIsRefused(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	forged := make(chan *nats.Msg, 10)
	sub, err := e.nc.ChanSubscribe("$KV.PATCHBAY_JOBS.>", forged)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	js, err := jetstream.New(e.nc)
	require.NoError(t, err)
	for i, reply := range []string{"$KV.PATCHBAY_JOBS.evil", "$JS.API.STREAM.DELETE.PATCHBAY_EVENTS",
		"patchbay.events.offer.w.issued", "_INBOX.*", "_INBOX.a..b", "orders.created", "_INBOXX.a"} {
		id := fmt.Sprintf("h%d", i)
		ev, err := events.New(events.TypeJobCreated, "ce-"+id, "/test", id, time.Now(),
			&events.JobCreated{JobID: id, QueueID: "q", ChannelID: "voice"})
		require.NoError(t, err)
		body, err := events.Structured(ev)
		require.NoError(t, err)
		m := nats.NewMsg(events.InSubject(events.TypeJobCreated))
		m.Header.Set(events.HeaderReplyTo, reply)
		m.Data = body
		_, err = js.PublishMsg(ctx(t), m)
		require.NoError(t, err)
		failed := e.next(events.TypeCommandFailed, func(s seen) bool { return s.Event.Subject() == "ce-"+id })
		var f events.CommandFailure
		require.NoError(t, failed.Event.DataAs(&f))
		require.Equal(t, events.CodeInvalidData, f.Error.Code, reply)
		require.Equal(t, events.HeaderReplyTo, f.Error.Field, reply)
	}
	e.createJob("after", "q") // the router goes on
	for {
		select {
		case m := <-forged:
			require.NotEqual(t, "evil", m.Subject[len("$KV.PATCHBAY_JOBS."):], "the router wrote a forged key")
			continue
		default:
		}
		break
	}
	kv, err := js.KeyValue(ctx(t), events.BucketJobs)
	require.NoError(t, err)
	_, err = kv.Get(ctx(t), "evil")
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound, "no key written through a reply subject")
	_, err = js.Stream(ctx(t), events.StreamEvents)
	require.NoError(t, err, "the event stream still exists")
}

// With its own reply prefixes the router answers under them only, and it refuses a
// prefix that would open system subjects.
func TestReplyPrefixes(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"$KV.", "_JS.", "patchbay.", "acme", "a.*.", "a..b."} {
		_, err := router.New(nil, router.Config{ReplyPrefixes: []string{p}})
		require.Error(t, err, p)
	}
	e := start(t, router.Config{ReplyPrefixes: []string{"acme.replies."}})
	answers := make(chan *nats.Msg, 10)
	sub, err := e.nc.ChanSubscribe("acme.replies.>", answers)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	js, err := jetstream.New(e.nc)
	require.NoError(t, err)
	for _, c := range []struct{ id, reply string }{{"ok", "acme.replies.1"}, {"inbox", "_INBOX.1"}} {
		ev, err := events.New(events.TypeJobCreated, "ce-"+c.id, "/test", c.id, time.Now(),
			&events.JobCreated{JobID: c.id, QueueID: "q", ChannelID: "voice"})
		require.NoError(t, err)
		body, err := events.Structured(ev)
		require.NoError(t, err)
		m := nats.NewMsg(events.InSubject(events.TypeJobCreated))
		m.Header.Set(events.HeaderReplyTo, c.reply)
		m.Data = body
		_, err = js.PublishMsg(ctx(t), m)
		require.NoError(t, err)
	}
	select {
	case m := <-answers:
		require.Equal(t, "acme.replies.1", m.Subject)
		ev, err := events.Decode(m.Header, m.Data)
		require.NoError(t, err)
		require.Equal(t, string(events.TypeCommandSucceeded), ev.Type())
	case <-time.After(waitFor):
		t.Fatal("no answer under the configured prefix")
	}
	failed := e.next(events.TypeCommandFailed, func(s seen) bool { return s.Event.Subject() == "ce-inbox" })
	var f events.CommandFailure
	require.NoError(t, failed.Event.DataAs(&f))
	require.Equal(t, events.HeaderReplyTo, f.Error.Field)
}
