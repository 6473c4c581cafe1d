package router_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/router"
	"github.com/patchbay/patchbay/matcher"
)

// traceFor is a distinct valid trace context for n (sampled when n is odd).
func traceFor(n int) events.TraceContext {
	tp := fmt.Sprintf("00-%032x-%016x-%02x", 0xabc000+n, 0xdef000+n, n%2)
	tc, err := events.ParseTraceParent("traceparent", tp)
	if err != nil {
		panic(err)
	}
	return tc
}

// traceCommand encodes a command carrying tc (when valid), structured or binary.
func traceCommand(t *testing.T, typ events.Type, id string, data any, tc events.TraceContext, binary bool) (nats.Header, []byte) {
	t.Helper()
	ev, err := events.New(typ, id, "/test", "", time.Now(), data)
	require.NoError(t, err)
	if tc.Valid() {
		ev.SetExtension(events.AttrTraceParent, tc.TraceParent())
		if tc.State != "" {
			ev.SetExtension(events.AttrTraceState, tc.State)
		}
	}
	if binary {
		h, body := events.Binary(ev)
		return nats.Header(h), body
	}
	body, err := events.Structured(ev)
	require.NoError(t, err)
	return nats.Header{"Content-Type": {events.ContentTypeCloudEvent}}, body
}

// requireChildOf checks that ev carries parent's trace with a span id of its own.
func requireChildOf(t *testing.T, parent events.TraceContext, ev events.Event, what string) events.TraceContext {
	t.Helper()
	got, ok := events.TraceOf(ev)
	require.True(t, ok, "%s carries no traceparent", what)
	require.Equal(t, parent.TraceIDString(), got.TraceIDString(), "%s: trace id", what)
	require.NotEqual(t, parent.SpanID, got.SpanID, "%s: a span of the router's", what)
	require.Equal(t, parent.Flags, got.Flags, "%s: flags", what)
	require.Equal(t, parent.State, got.State, "%s: tracestate", what)
	return got
}

// TestTraceCarriedOntoEvents: each command's trace (structured and binary mode,
// several commands applied in one record) is carried onto every event it causes and
// onto its answer; a timer's event starts a new trace.
func TestTraceCarriedOntoEvents(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{Engine: matcher.Config{QueueOfferExpiry: map[string]time.Duration{"fast": 300 * time.Millisecond}}})
	e.register("alice", []string{"fast"}, nil)

	// A job created by request: its events, the offer to alice included, and the reply.
	t0 := traceFor(1)
	t0.State = "rojo=00f067aa0ba902b7"
	h, body := traceCommand(t, events.TypeJobCreated, "c0", events.JobCreated{JobID: "j0", QueueID: "fast", ChannelID: "voice"}, t0, false)
	reply := e.request(events.ReqSubject(events.TypeJobCreated), h, body)
	require.Equal(t, string(events.TypeCommandSucceeded), reply.Type(), "%s", reply.Data())
	out := requireChildOf(t, t0, reply, "the reply")
	for _, typ := range []events.Type{events.TypeJobReceived, events.TypeJobQueued, events.TypeOfferIssued} {
		s := e.next(typ, nil)
		got := requireChildOf(t, t0, s.Event, string(typ))
		require.Equal(t, out, got, "one span of the router's per command")
	}
	// The offer expires: a timer, a new trace.
	expired := e.next(events.TypeOfferExpired, nil)
	got, ok := events.TraceOf(expired.Event)
	require.True(t, ok, "an expiry carries a trace of its own")
	require.NotEqual(t, t0.TraceID, got.TraceID)
	require.Empty(t, got.State)

	// Many jobs published at once, alternately structured and binary: in whatever
	// records they are applied together, each job's events carry its own trace.
	const n = 24
	for i := range n {
		h, body := traceCommand(t, events.TypeJobCreated, fmt.Sprintf("c%d", i+1),
			events.JobCreated{JobID: fmt.Sprintf("j%d", i+1), QueueID: "other", ChannelID: "voice"}, traceFor(i+10), i%2 == 1)
		m := nats.NewMsg(events.InSubject(events.TypeJobCreated))
		m.Header, m.Data = h, body
		require.NoError(t, e.nc.PublishMsg(m))
	}
	// And one without a trace: its events carry none.
	h, body = traceCommand(t, events.TypeJobCreated, "plain", events.JobCreated{JobID: "plain", QueueID: "other", ChannelID: "voice"}, events.TraceContext{}, false)
	require.NoError(t, e.nc.PublishMsg(&nats.Msg{Subject: events.InSubject(events.TypeJobCreated), Header: h, Data: body}))

	left := map[string]int{} // job id -> events still expected (received, queued)
	for i := range n {
		left[fmt.Sprintf("j%d", i+1)] = 2
	}
	left["plain"] = 2
	timeout := time.After(waitFor)
	for len(left) > 0 {
		var m *nats.Msg
		select {
		case m = <-e.events:
		case <-timeout:
			t.Fatalf("events missing: %v", left)
		}
		ev, err := events.Decode(m.Header, m.Data)
		require.NoError(t, err)
		s := seen{Subject: m.Subject, Type: events.Type(ev.Type()), Data: ev.Data(), Event: ev}
		if s.Type != events.TypeJobReceived && s.Type != events.TypeJobQueued {
			continue
		}
		id := s.job().JobID
		if id == "plain" {
			_, ok := events.TraceOf(s.Event)
			require.False(t, ok, "a command without a trace: events without one")
		} else {
			var i int
			_, err := fmt.Sscanf(id, "j%d", &i)
			require.NoError(t, err)
			requireChildOf(t, traceFor(i-1+10), s.Event, id+" "+string(s.Type))
		}
		if left[id]--; left[id] == 0 {
			delete(left, id)
		}
	}
}

// TestTraceAnswers: a refusal and a query answer carry the command's trace; a
// command with an invalid traceparent is refused, naming it.
func TestTraceAnswers(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	tc := traceFor(3)

	// Refused by the engine: the job does not exist.
	h, body := traceCommand(t, events.TypeJobCancel, "c1", events.JobCancel{JobID: "nope"}, tc, true)
	reply := e.request(events.ReqSubject(events.TypeJobCancel), h, body)
	require.Equal(t, events.CodeUnknownJob, failureOf(t, reply).Error.Code)
	requireChildOf(t, tc, reply, "the refusal")
	failed := e.next(events.TypeCommandFailed, nil)
	requireChildOf(t, tc, failed.Event, "command.failed")

	// An offer accepted in the binary mode: the acceptance, the assignment and the reply.
	e.register("alice", []string{"support"}, nil)
	e.createJob("j1", "support")
	o := e.offerFor("alice", "j1")
	ta := traceFor(8)
	h, body = traceCommand(t, events.TypeOfferAccept, "a1", events.OfferAccept{JobID: "j1", OfferID: o.OfferID, WorkerID: "alice"}, ta, true)
	reply = e.request(events.WorkerReqSubject(events.TypeOfferAccept, "alice"), h, body)
	require.Equal(t, string(events.TypeCommandSucceeded), reply.Type(), "%s", reply.Data())
	requireChildOf(t, ta, reply, "the accept's reply")
	requireChildOf(t, ta, e.next(events.TypeOfferAccepted, nil).Event, "offer.accepted")
	requireChildOf(t, ta, e.next(events.TypeJobAssigned, nil).Event, "job.assigned")

	// A query.
	h, body = traceCommand(t, events.TypeQueryQueue, "q1", events.QueryQueue{QueueID: "support"}, tc, false)
	reply = e.request(events.QuerySubject(events.TypeQueryQueue), h, body)
	require.Equal(t, string(events.TypeQueryResult), reply.Type(), "%s", reply.Data())
	requireChildOf(t, tc, reply, "the query result")

	// Hostile trace contexts: refused as malformed, naming the attribute.
	for _, bad := range []string{strings.ToUpper(tc.TraceParent()), "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "garbage", tc.TraceParent() + strings.Repeat("-0", 100)} {
		for _, binary := range []bool{false, true} {
			h, body := traceCommand(t, events.TypeJobCreated, "bad", events.JobCreated{JobID: "bad", QueueID: "q", ChannelID: "voice"}, events.TraceContext{}, binary)
			field := "traceparent"
			if binary {
				h.Set("ce-traceparent", bad)
				field = "ce-traceparent"
			} else {
				var m map[string]any
				require.NoError(t, json.Unmarshal(body, &m))
				m["traceparent"] = bad
				body, _ = json.Marshal(m)
			}
			f := failureOf(t, e.request(events.ReqSubject(events.TypeJobCreated), h, body))
			require.Equal(t, field, f.Error.Field, bad)
			require.Contains(t, []events.Code{events.CodeMalformed, events.CodeInvalidData}, f.Error.Code, bad)
		}
	}
}

// syncBuffer is a log sink the router and the test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range bytes.Split(s.b.Bytes(), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(l, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// TestTraceSpansAndDecisionLog: with a tracer provider, a command yields its receive,
// apply, persist and publish spans in its trace, its events carry the apply span;
// at debug level, each decision is logged with the command, job and worker.
func TestTraceSpansAndDecisionLog(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(ctx(t)) })
	var logs syncBuffer
	log := zerolog.New(&logs).Level(zerolog.DebugLevel)
	e := start(t, router.Config{TracerProvider: tp, Logger: &log})
	e.register("alice", []string{"support"}, nil)

	tc := traceFor(5)
	h, body := traceCommand(t, events.TypeJobCreated, "c1", events.JobCreated{JobID: "j1", QueueID: "support", ChannelID: "voice"}, tc, false)
	reply := e.request(events.ReqSubject(events.TypeJobCreated), h, body)
	require.Equal(t, string(events.TypeCommandSucceeded), reply.Type(), "%s", reply.Data())
	out := requireChildOf(t, tc, reply, "the reply")

	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range exp.GetSpans().Snapshots() {
		if s.SpanContext().TraceID() == tc.TraceID {
			byName[s.Name()] = s
		}
	}
	for _, name := range []string{"patchbay.receive", "patchbay.apply", "patchbay.persist", "patchbay.publish"} {
		s, ok := byName[name]
		require.True(t, ok, "no %s span in the command's trace (got %v)", name, byName)
		require.Equal(t, [8]byte(tc.SpanID), [8]byte(s.Parent().SpanID()), "%s: a child of the command's span", name)
		require.False(t, s.EndTime().Before(s.StartTime()), name)
	}
	require.Equal(t, [8]byte(out.SpanID), [8]byte(byName["patchbay.apply"].SpanContext().SpanID()), "the events carry the apply span")
	require.False(t, byName["patchbay.publish"].StartTime().Before(byName["patchbay.persist"].EndTime()))

	// A command without a trace: its receive span starts one, the others hang under it,
	// and its events carry it.
	reply = e.request(events.ReqSubject(events.TypeJobCancel), nil, mustStructured(t, events.TypeJobCancel, "c2", events.JobCancel{JobID: "j1"}))
	require.Equal(t, string(events.TypeCommandSucceeded), reply.Type(), "%s", reply.Data())
	got, ok := events.TraceOf(reply)
	require.True(t, ok, "with spans, every command is traced")
	var receive sdktrace.ReadOnlySpan
	for _, s := range exp.GetSpans().Snapshots() {
		if s.SpanContext().TraceID() == got.TraceID && s.Name() == "patchbay.receive" {
			receive = s
		}
	}
	require.NotNil(t, receive)
	require.False(t, receive.Parent().IsValid(), "the receive span is the root")

	// The decision log: offer issued to alice for j1 by c1, and the job's cancel by c2.
	type key struct{ decision, command, job, worker string }
	want := map[key]bool{
		{"job.queued", "c1", "j1", ""}:         false,
		{"offer.issued", "c1", "j1", "alice"}:  false,
		{"offer.revoked", "c2", "j1", "alice"}: false,
		{"job.cancelled", "c2", "j1", ""}:      false,
	}
	for _, l := range logs.lines() {
		if l["message"] != "decision" {
			continue
		}
		k := key{str(l["decision"]), str(l["command_id"]), str(l["job_id"]), str(l["worker_id"])}
		if _, ok := want[k]; ok {
			want[k] = true
			require.Equal(t, "debug", l["level"])
		}
	}
	for k, seen := range want {
		require.True(t, seen, "no decision line %+v", k)
	}

	// A refusal is a decision too.
	f := failureOf(t, e.request(events.ReqSubject(events.TypeJobCancel), nil, mustStructured(t, events.TypeJobCancel, "c3", events.JobCancel{JobID: "nope"})))
	require.Equal(t, events.CodeUnknownJob, f.Error.Code)
	found := false
	for _, l := range logs.lines() {
		found = found || l["decision"] == "command.refused" && l["command_id"] == "c3" && l["job_id"] == "nope"
	}
	require.True(t, found, "no refusal line")
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func mustStructured(t *testing.T, typ events.Type, id string, data any) []byte {
	t.Helper()
	_, body := traceCommand(t, typ, id, data, events.TraceContext{}, false)
	return body
}
