package router

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/matcher"
)

// Tracing (docs/design.md, "Tracing"). A command's W3C trace context (the CloudEvents
// distributed tracing extension) is passed on to everything the command causes: its
// events, in its record, and its answer carry the command's trace id with a span id
// of the router's, the router's handling of that command (a child of the command's
// span). Events caused by timers and heartbeats start a new trace, one per job (or
// worker, or policy) they are about. A command without a trace context costs a nil
// check: its events are written as before.
//
// With a TracerProvider (serve --otlp-endpoint), the router also records four spans
// per command, children of the command's span (or, for a command without one, of
// its receive span, which then starts the trace): receive (from the stream to a
// decoded command), apply (the engine), persist (the write-ahead record and the KV
// writes of the command's record) and publish (its record's events). The events then
// carry the apply span's id, so a consumer's spans hang under an exported span.

// tracerName is the instrumentation scope of the router's spans.
const tracerName = "github.com/patchbay/patchbay/internal/router"

// Span names.
const (
	spanReceive = "patchbay.receive"
	spanApply   = "patchbay.apply"
	spanPersist = "patchbay.persist"
	spanPublish = "patchbay.publish"
)

// spans records the router's spans; nil when export is off.
type spans struct {
	tracer trace.Tracer
}

func newSpans(tp trace.TracerProvider) *spans {
	if tp == nil {
		return nil
	}
	return &spans{tracer: tp.Tracer(tracerName)}
}

// record records one finished span named name, a child of parent (a root when parent
// is not valid), and returns its trace context (parent's tracestate kept).
func (s *spans) record(name string, parent events.TraceContext, start, end time.Time, attrs ...attribute.KeyValue) events.TraceContext {
	ctx := context.Background()
	if parent.Valid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, spanContext(parent))
	}
	_, span := s.tracer.Start(ctx, name, trace.WithTimestamp(start), trace.WithAttributes(attrs...), trace.WithSpanKind(trace.SpanKindConsumer))
	span.End(trace.WithTimestamp(end))
	sc := span.SpanContext()
	return events.TraceContext{TraceID: sc.TraceID(), SpanID: sc.SpanID(), Flags: byte(sc.TraceFlags()), State: parent.State}
}

// spanContext is tc as OpenTelemetry's remote span context.
func spanContext(tc events.TraceContext) trace.SpanContext {
	cfg := trace.SpanContextConfig{TraceID: tc.TraceID, SpanID: tc.SpanID, TraceFlags: trace.TraceFlags(tc.Flags), Remote: true}
	if tc.State != "" {
		if ts, err := trace.ParseTraceState(tc.State); err == nil {
			cfg.TraceState = ts
		}
	}
	return trace.NewSpanContext(cfg)
}

// commandAttrs name a command on its spans.
func commandAttrs(subject, id string) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("messaging.system", "nats"),
		attribute.String("messaging.destination.name", subject),
		attribute.String("patchbay.command.id", id),
	}
}

// traced is a command's trace as the router carries it: parent is the command's
// own trace context (or, when the router exports spans and the command sent none,
// its receive span's); out is what its events and answer carry.
type traced struct {
	parent, out events.TraceContext
}

// receive starts the trace of a command taken at takenAt, whose CloudEvent carried
// tc (zero for none).
func (r *Router) receive(tc events.TraceContext, subject, id string, takenAt time.Time) traced {
	if r.spans == nil {
		return traced{parent: tc}
	}
	rs := r.spans.record(spanReceive, tc, takenAt, time.Now(), commandAttrs(subject, id)...)
	if !tc.Valid() {
		tc = rs
	}
	return traced{parent: tc}
}

// applied sets what the command's events and answer carry: with spans, the apply
// span's context (it ran from start to now); without, a new span id in the
// command's trace. Nothing when the command has no trace.
func (r *Router) applied(t *traced, subject, id string, start time.Time) {
	switch {
	case !t.parent.Valid():
	case r.spans != nil:
		t.out = r.spans.record(spanApply, t.parent, start, time.Now(), commandAttrs(subject, id)...)
	default:
		t.out = t.parent.Child()
	}
}

// stored records the persist and publish spans of the commands of a record: stored
// from began to published, its events published from then to done.
func (r *Router) stored(p *pending, began, published, done time.Time) {
	if published.IsZero() {
		published = done // nothing to publish was reached (an empty record)
	}
	for _, a := range p.answers {
		if !a.trace.Valid() {
			continue
		}
		attrs := commandAttrs(a.m.Subject(), a.id)
		r.spans.record(spanPersist, a.trace, began, published, attrs...)
		r.spans.record(spanPublish, a.trace, published, done, attrs...)
	}
}

// stamp makes evs carry tc (when it is valid).
func stamp(evs []matcher.Outbound, tc events.TraceContext) {
	if !tc.Valid() {
		return
	}
	for i := range evs {
		evs[i].Body = events.WithTrace(evs[i].Body, tc)
	}
}

// stampNewTraces starts a new trace for the events of a timer or a heartbeat: one
// per job, worker or policy they are about (each event a span of its own in it).
func stampNewTraces(evs []matcher.Outbound) {
	if len(evs) == 0 {
		return
	}
	traces := make(map[string]events.TraceContext, len(evs))
	for i := range evs {
		key := traceKey(evs[i].Subject)
		tc, ok := traces[key]
		if !ok {
			tc = events.NewTrace()
			traces[key] = tc
		}
		evs[i].Body = events.WithTrace(evs[i].Body, tc.Child())
	}
}

// traceKey is what an event is about, read from its subject: the job of a job or
// offer event, the worker of a worker event, else the subject without its verb.
func traceKey(subject string) string {
	rest := strings.TrimPrefix(subject, events.SubjectEventsPrefix)
	tok := strings.Split(rest, ".")
	switch {
	case len(tok) == 4 && (tok[0] == "job" || tok[0] == "offer"):
		return "job." + tok[2]
	case len(tok) == 3 && tok[0] == "worker":
		return "worker." + tok[1]
	}
	if i := strings.LastIndexByte(rest, '.'); i > 0 {
		return rest[:i]
	}
	return rest
}

// logDecisions logs, at debug level, one line for each decision in evs (an offer
// issued, accepted, declined, expired or revoked, a job queued, assigned, closed,
// a command refused, ...): the event's type, the command that caused it (cmdID, ""
// for a timer or a heartbeat), the job and the worker. data is the command's payload
// (nil for none), which names the job and worker a refusal was about. Off, it costs
// one level check.
func (r *Router) logDecisions(cmdID string, data any, evs []matcher.Outbound) {
	if len(evs) == 0 || !r.log.Debug().Enabled() {
		return
	}
	for _, ev := range evs {
		d := decisionOf(ev, data)
		l := r.log.Debug().Str("decision", d.kind).Str("job_id", d.job).Str("worker_id", d.worker).Str("event_id", ev.ID)
		if cmdID != "" {
			l = l.Str("command_id", cmdID)
		} else {
			l = l.Str("cause", "timer")
		}
		if tp := traceParentOf(ev.Body); tp != "" {
			l = l.Str("traceparent", tp)
		}
		l.Msg("decision")
	}
}

// decision is what an event says was decided, and about whom.
type decision struct {
	kind, job, worker string
}

// decisionOf reads an event's decision from its subject (and, for a job event or a
// refusal, its data or the command's): debug logging only.
func decisionOf(ev matcher.Outbound, data any) decision {
	rest := strings.TrimPrefix(ev.Subject, events.SubjectEventsPrefix)
	tok := strings.Split(rest, ".")
	var d decision
	switch {
	case rest == strings.TrimPrefix(events.SubjectCommandFailed, events.SubjectEventsPrefix):
		d.kind = "command.refused"
		d.job, d.worker = idsOf(data)
	case len(tok) == 4 && tok[0] == "offer":
		d = decision{kind: "offer." + tok[3], worker: tok[1], job: tok[2]}
	case len(tok) == 4 && tok[0] == "job":
		d = decision{kind: "job." + tok[3], job: tok[2]}
		var body struct {
			Data struct {
				Assignment *struct {
					WorkerID string `json:"workerId"`
				} `json:"assignment"`
			} `json:"data"`
		}
		if json.Unmarshal(ev.Body, &body) == nil && body.Data.Assignment != nil {
			d.worker = body.Data.Assignment.WorkerID
		}
	case len(tok) == 3 && tok[0] == "worker":
		d = decision{kind: "worker." + tok[2], worker: tok[1]}
	default:
		d.kind = rest
	}
	return d
}

// idsOf is the job and worker a command's payload names.
func idsOf(data any) (job, worker string) {
	if data == nil {
		return "", ""
	}
	b, err := json.Marshal(data)
	if err != nil {
		return "", ""
	}
	var ids struct {
		JobID    string `json:"jobId"`
		WorkerID string `json:"workerId"`
	}
	_ = json.Unmarshal(b, &ids)
	return ids.JobID, ids.WorkerID
}

// traceParentOf is the traceparent of a structured event the router encoded (where
// events.WithTrace puts it), "" for none.
func traceParentOf(body []byte) string {
	const at = `{"specversion":"1.0","traceparent":"`
	if !bytes.HasPrefix(body, []byte(at)) || len(body) < len(at)+55 {
		return ""
	}
	return string(body[len(at) : len(at)+55])
}
