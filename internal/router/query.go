package router

import (
	"context"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/matcher"
	"github.com/patchbay/patchbay/schemas"
)

// queryTimeout bounds how long a query waits for the engine.
const queryTimeout = 5 * time.Second

// query answers a read-only request on patchbay.query.<name> from the engine's state.
// The read runs on the router's goroutine (between commands), so the answer is
// consistent with every command applied before it. A query without a reply subject,
// or whose reply subject the router may not publish on (checkReplyTo: not an inbox),
// is not answered.
func (r *Router) query(m *nats.Msg) {
	if m.Reply == "" || r.checkReplyTo(m.Reply) != nil {
		return
	}
	// out is the trace the answer carries: the query's, with a span of the router's.
	var out events.TraceContext
	fail := func(err *events.Error, id string) {
		r.reply(m.Reply, r.tracedEvent(events.TypeCommandFailed, id, events.CommandFailure{
			CommandID: id, Subject: m.Subject, Error: err}, out))
	}
	name := strings.TrimPrefix(m.Subject, events.SubjectQueryPrefix)
	// A worker asks about itself on patchbay.query.worker.<workerId>, which the
	// broker's permissions can give to that worker alone.
	var asker string
	if id, ok := strings.CutPrefix(name, "worker."); ok && events.ValidID(id) {
		name, asker = "worker", id
	}
	t := events.Type(events.TypePrefix + "query." + name)
	known := false
	for _, q := range events.Queries() {
		known = known || q == t
	}
	if !known {
		fail(events.Errorf(events.CodeUnknownType, "subject", "%q is not a query subject (want one of %v)", m.Subject, events.Queries()), "")
		return
	}
	ev, err := events.Decode(m.Header, m.Data)
	if err != nil {
		fail(events.AsError(err), "")
		return
	}
	if tc, ok := events.TraceOf(ev); ok {
		out = tc.Child()
	}
	if events.Type(ev.Type()) != t {
		fail(events.Errorf(events.CodeUnknownType, "type", "event type %q does not belong on %q (want %q)", ev.Type(), m.Subject, t), ev.ID())
		return
	}
	if err := schemas.ValidateData(t, ev.Data()); err != nil {
		fail(events.AsError(err), ev.ID()) // the field at fault, as for a command
		return
	}
	// decode reads the query's data into v and checks the id it names.
	decode := func(v any, field string, id *string) bool {
		err := events.DecodeData(ev, v)
		if err == nil {
			err = events.CheckID(field, *id)
		}
		if err != nil {
			fail(events.AsError(err), ev.ID())
			return false
		}
		return true
	}
	// decodeList reads a list query's data (its filters are checked by the engine).
	decodeList := func(v any) bool {
		if err := events.DecodeData(ev, v); err != nil {
			fail(events.AsError(err), ev.ID())
			return false
		}
		return true
	}
	var read func() (any, error)
	switch t {
	case events.TypeQueryHistory:
		var d events.QueryHistory
		if decode(&d, "jobId", &d.JobID) {
			r.answerHistory(m.Reply, ev, d, fail)
		}
		return
	case events.TypeQueryJob:
		var d events.QueryJob
		if !decode(&d, "jobId", &d.JobID) {
			return
		}
		read = func() (any, error) { return r.engine.JobInfo(d.JobID, r.cfg.Now()) }
	case events.TypeQueryQueue:
		var d events.QueryQueue
		if !decode(&d, "queueId", &d.QueueID) {
			return
		}
		read = func() (any, error) { return r.engine.QueueInfo(d.QueueID, r.cfg.Now()), nil }
	case events.TypeQueryWorker:
		var d events.QueryWorker
		if !decode(&d, "workerId", &d.WorkerID) {
			return
		}
		if asker != "" && asker != d.WorkerID {
			fail(events.Errorf(events.CodeForbidden, "workerId", "sent on worker %s's subject, the query asks about worker %s", asker, d.WorkerID), ev.ID())
			return
		}
		room := r.answerRoom(ev.Subject())
		room -= len(events.WithTrace([]byte("{}"), out)) - len("{}") // the trace the answer carries
		read = func() (any, error) { return r.engine.WorkerInfo(d.WorkerID, room) }
	case events.TypeQueryJobs:
		var d events.QueryJobs
		if !decodeList(&d) {
			return
		}
		room := r.answerRoom(ev.Subject())
		read = func() (any, error) { return r.engine.ListJobs(d, r.cfg.Now(), room) }
	case events.TypeQueryWorkers:
		var d events.QueryWorkers
		if !decodeList(&d) {
			return
		}
		room := r.answerRoom(ev.Subject())
		read = func() (any, error) { return r.engine.ListWorkers(d, room) }
	case events.TypeQueryQueues:
		var d events.QueryQueues
		if !decodeList(&d) {
			return
		}
		room := r.answerRoom(ev.Subject())
		read = func() (any, error) { return r.engine.ListQueues(d, r.cfg.Now(), room) }
	case events.TypeQueryPolicies:
		var d events.QueryPolicies
		if !decodeList(&d) {
			return
		}
		room := r.answerRoom(ev.Subject())
		read = func() (any, error) { return r.engine.ListPolicies(d, room) }
	case events.TypeQueryPolicy:
		var d events.QueryPolicy
		if !decode(&d, "id", &d.ID) {
			return
		}
		read = func() (any, error) { return r.engine.PolicyInfo(d.Kind, d.ID) }
	case events.TypeQueryExplain:
		var d events.QueryExplain
		if !decode(&d, "jobId", &d.JobID) {
			return
		}
		room := r.answerRoom(ev.Subject())
		read = func() (any, error) { return r.engine.Explain(d.JobID, d.Limit, r.cfg.Now(), room) }
	}
	type answer struct {
		data any
		err  error
	}
	got := make(chan answer, 1)
	select {
	case r.reads <- func() { d, err := read(); got <- answer{d, err} }:
	case <-time.After(queryTimeout):
		fail(events.Errorf(events.CodeInternal, "", "the router is busy; try again"), ev.ID())
		return
	}
	a := <-got
	if a.err != nil {
		fail(events.AsError(a.err), ev.ID())
		return
	}
	r.reply(m.Reply, r.tracedEvent(events.TypeQueryResult, ev.Subject(), a.data, out))
}

// answerHeaderBytes bounds the NATS headers of an answer (its Content-Type), which
// count towards the broker's max payload.
const answerHeaderBytes = 128

// answerRoom is how many bytes of data fit in one query answer whose CloudEvent
// subject is subject: the broker's max payload less the headers and the envelope.
func (r *Router) answerRoom(subject string) int {
	envelope := len(r.event(events.TypeQueryResult, subject, struct{}{})) - len(`{}`)
	return r.maxMessageBytes() - answerHeaderBytes - envelope
}

// Size counts what the engine holds in memory, read between commands.
func (r *Router) Size(ctx context.Context) (matcher.Size, error) {
	got := make(chan matcher.Size, 1)
	select {
	case r.reads <- func() { got <- r.engine.Size() }:
	case <-ctx.Done():
		return matcher.Size{}, ctx.Err()
	}
	select {
	case s := <-got:
		return s, nil
	case <-ctx.Done():
		return matcher.Size{}, ctx.Err()
	}
}
