package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/matcher"
	"github.com/patchbay/patchbay/schemas"
)

// decodeCommand turns a stream message into a command: the subject names an inbound
// type, the body (or ce- headers) is a CloudEvent of that type, its data passes the
// type's JSON Schema and decodes into the type's payload. tc is the CloudEvent's
// trace context (zero when it carries none, or could not be decoded).
func decodeCommand(subject string, header nats.Header, body []byte) (_ matcher.Command, tc events.TraceContext, _ events.CommandFailure) {
	fail := events.CommandFailure{Subject: subject}
	t, worker, ok := events.ParseCommandSubject(subject)
	if !ok {
		fail.Error = events.Errorf(events.CodeUnknownType, "subject", "%q is not an inbound subject (want patchbay.in.<name> or patchbay.req.<name>, or with .<workerId> after a worker's command)", subject)
		return matcher.Command{}, tc, fail
	}
	fail.CommandType = string(t)
	ev, err := events.Decode(header, body)
	fail.CommandID = ev.ID()
	if err != nil {
		fail.Error = events.AsError(err)
		return matcher.Command{}, tc, fail
	}
	tc, _ = events.TraceOf(ev)
	if events.Type(ev.Type()) != t {
		fail.Error = events.Errorf(events.CodeUnknownType, "type",
			"event type %q does not belong on %q (want %q)", ev.Type(), subject, t)
		return matcher.Command{}, tc, fail
	}
	if err := schemas.ValidateData(t, ev.Data()); err != nil {
		fail.Error = events.AsError(err)
		return matcher.Command{}, tc, fail
	}
	data := events.Payload(t)
	if err := events.DecodeData(ev, data); err != nil {
		fail.Error = events.AsError(err)
		return matcher.Command{}, tc, fail
	}
	return matcher.Command{ID: ev.ID(), Type: t, Source: ev.Source(), Data: data, Worker: worker}, tc, fail
}

// handleBatch applies the commands in hand, in stream order, and acknowledges each
// once its results are durable: one write-ahead record for the commands applied
// together, then the KV writes and the events, then the replies and the acks. Bad
// input is answered and acknowledged, never retried. A command whose effects cannot
// be stored for good is refused, set aside on the dead-letter stream and
// acknowledged; the router goes on at once. When storage is unavailable the engine is
// reloaded and the commands not yet acknowledged are applied again, in order, after a
// growing pause, so later commands never overtake them.
func (r *Router) handleBatch(msgs []jetstream.Msg) {
	wait := backoff{min: CommitRetryDefault / 5, max: commitRetryMax}
	single := false
	for len(msgs) > 0 {
		if r.Err() != nil {
			return // another router took over: leave the messages to it
		}
		if !r.ensureLease() || !r.fresh() {
			wait.pause(msgs)
			continue
		}
		submitted, err := r.applyBatch(msgs, single)
		var pe *pipelineError
		if errors.As(err, &pe) {
			msgs = append(pe.msgs, msgs[submitted:]...)
		} else {
			msgs = msgs[submitted:]
		}
		switch {
		case err == nil:
			return
		case errors.Is(err, errDeposed):
			return
		case isPermanent(err) && !single:
			// Something in the rest cannot be stored: apply it one command at a time
			// to find what.
			single = true
		case isPermanent(err):
			if r.setAside(msgs[0], err) {
				msgs, single = msgs[1:], false
				wait.reset()
			} else {
				wait.pause(msgs)
			}
		default:
			r.log.Warn().Err(err).Int("waiting", len(msgs)).Dur("retry_in", wait.next).Msg("storage unavailable; retrying")
			wait.pause(msgs)
		}
	}
}

// commitRetryMax is the longest pause between two attempts to store a record.
const commitRetryMax = 5 * time.Second

// backoff is a growing pause between attempts while storage is unavailable.
type backoff struct {
	min, max, next time.Duration
}

func (b *backoff) reset() { b.next = 0 }

// pause waits before the next attempt, telling the stream that msgs are still being
// worked on so it does not redeliver them.
func (b *backoff) pause(msgs []jetstream.Msg) {
	if b.next == 0 {
		b.next = b.min
	}
	for _, m := range msgs {
		_ = m.InProgress()
	}
	time.Sleep(b.next)
	b.next = min(2*b.next, b.max)
}

// fresh reloads the engine from storage when it may hold changes that were not
// stored; false means storage could not be read. The engine is marked stale only
// once nothing is in flight (by settle, or after it), so a reload never races the
// persister.
func (r *Router) fresh() bool {
	if !r.stale {
		return true
	}
	if err := r.reload(context.Background()); err != nil {
		if errors.Is(err, errDeposed) {
			r.fail(err)
		}
		r.log.Warn().Err(err).Msg("reload failed; retrying")
		return false
	}
	r.stale = false
	return true
}

// answer is what to send back for one message once its batch is durable.
type answer struct {
	m       jetstream.Msg
	replyTo string
	reply   []byte
	// kind is the command's type name ("" when unknown), code its refusal's error
	// code ("" when applied), taken when the router took it: for the metrics.
	kind, code string
	taken      time.Time
	// id is the command's CloudEvent id and trace its trace context (traced.parent),
	// for the persist and publish spans.
	id    string
	trace events.TraceContext
}

// applyBatch runs the messages through the engine into the open record, which is
// handed to the persister at once when nothing is being stored, else when the record
// in flight is done (run), or when it is full. With single, each command is a record
// of its own, stored before the next is applied. It returns how many of the messages,
// from the first, were taken into records (or set aside). An error of a record handed
// over earlier comes back as a *pipelineError holding the commands of that record and
// of the open one; the engine is then stale and is reloaded before they and the rest
// are applied again.
func (r *Router) applyBatch(msgs []jetstream.Msg, single bool) (taken int, err error) {
	p := r.record()
	// handOver hands the open record over; with single, it waits until it is stored.
	handOver := func() error {
		if err := r.handOver(); err != nil {
			return err
		}
		p = r.record()
		if single {
			return r.settle()
		}
		return nil
	}
	for i, m := range msgs {
		if p.bytes > batchRecordBytes || len(p.answers) >= r.cfg.BatchMax {
			if err := handOver(); err != nil {
				return i, err
			}
		}
		mark := p.rec.mark()
		takenAt := time.Now() // the latency metric's start: a monotonic reading, not the clock
		replyTo, badReply := r.answerSubject(m.Headers())
		cmd, tc, fail := decodeCommand(m.Subject(), m.Headers(), m.Data())
		if fail.Error == nil && badReply != nil {
			fail.CommandID, fail.Error = cmd.ID, badReply
		}
		tr := r.receive(tc, m.Subject(), fail.CommandID, takenAt)
		var res *matcher.Result
		var panicked any
		var tooLarge error
		switch {
		case fail.Error != nil:
			r.applied(&tr, m.Subject(), fail.CommandID, time.Now())
			if fail.CommandType == string(events.TypeJobCreated) {
				p.rec.Events = append(p.rec.Events, r.rejectedJob(fail, m.Headers(), m.Data(), tr.out))
			}
			p.answers = append(p.answers, answer{m, replyTo, r.refusal(p.rec, fail, nil, tr.out), commandKind(m.Subject()), string(fail.Error.Code), takenAt, fail.CommandID, tr.parent})
		default:
			if w, ok := r.appliedCommand(cmd.ID, cmd.Source); ok {
				// Redelivered after it was applied (the ack was lost): answer from the record.
				r.applied(&tr, m.Subject(), cmd.ID, time.Now())
				p.answers = append(p.answers, answer{m, replyTo, r.duplicateReply(w, tr.out), cmd.Type.Name(), "", takenAt, cmd.ID, tr.parent})
				break
			}
			var applyStart time.Time
			if r.spans != nil {
				applyStart = time.Now()
			}
			res, panicked = r.apply(cmd)
			if panicked == nil {
				r.applied(&tr, m.Subject(), cmd.ID, applyStart)
				stamp(res.Events, tr.out)
			}
			if panicked == nil && res.Err == nil {
				tooLarge = r.checkSizes(res.Ops, res.Events)
			}
			if panicked != nil || tooLarge != nil {
				// The engine holds this command's changes, which cannot be stored:
				// store what came before it, reload, and set the command aside.
				if err := r.drain(); err != nil {
					return i, err
				}
				r.stale = true // it holds this command's changes even when the rest is stored
				if !r.fresh() {
					return i, errors.New("reload after a command that cannot be applied")
				}
				why := tooLarge
				if panicked != nil {
					why = fmt.Errorf("%w: the router failed on it: %v", errPermanent, panicked)
				}
				if !r.setAside(m, why) {
					return i, errors.New("could not set a command aside")
				}
				p = r.record()
				taken = i + 1
				continue
			}
			if res.Err != nil {
				fail.CommandID, fail.Error = cmd.ID, res.Err
				p.rec.Events = append(p.rec.Events, res.Events...)
				r.logDecisions(cmd.ID, cmd.Data, res.Events)
				p.answers = append(p.answers, answer{m, replyTo, r.refusal(p.rec, fail, cmd.Data, tr.out), cmd.Type.Name(), string(res.Err.Code), takenAt, cmd.ID, tr.parent})
				break
			}
			reply := r.tracedEvent(events.TypeCommandSucceeded, replySubject(res.Reply), res.Reply, tr.out)
			p.rec.Commands = append(p.rec.Commands, walCommand{ID: cmd.ID, Source: cmd.Source, Reply: reply})
			p.rec.Ops = append(p.rec.Ops, res.Ops...)
			p.rec.Events = append(p.rec.Events, res.Events...)
			r.logDecisions(cmd.ID, cmd.Data, res.Events)
			p.answers = append(p.answers, answer{m, replyTo, reply, cmd.Type.Name(), "", takenAt, cmd.ID, tr.parent})
		}
		p.bytes += p.rec.sizeFrom(mark)
		taken = i + 1
		if single {
			if err := handOver(); err != nil {
				return taken, err
			}
		}
	}
	return taken, r.handOverIfFree()
}

// commandKind is the type name of the command on subject, "unknown" for a subject
// that names none (the label stays bounded whatever a client sends).
func commandKind(subject string) string {
	if t, ok := events.TypeOfSubject(subject); ok {
		return t.Name()
	}
	return "unknown"
}

// setAside refuses a command whose effects cannot be stored, for a reason retrying
// will not fix: it is copied to the dead-letter stream with the reason, refused with
// command.failed (code internal), and acknowledged. The engine must not hold its
// changes. False means storage was unavailable: nothing was acknowledged.
func (r *Router) setAside(m jetstream.Msg, why error) bool {
	subject := events.SubjectDeadPrefix + strings.TrimPrefix(strings.TrimPrefix(m.Subject(), events.SubjectInPrefix), events.SubjectReqPrefix)
	fail := events.CommandFailure{Subject: m.Subject()}
	if t, ok := events.TypeOfSubject(m.Subject()); ok {
		fail.CommandType = string(t)
	}
	var tc events.TraceContext
	if ev, err := events.Decode(m.Headers(), m.Data()); err == nil {
		fail.CommandID = ev.ID()
		if t, ok := events.TraceOf(ev); ok {
			tc = t.Child()
		}
	}
	fail.Error = events.Errorf(events.CodeInternal, "",
		"the router cannot store the effects of this command (%v); it was set aside on %s (stream %s) and will not be retried",
		strings.TrimPrefix(why.Error(), errPermanent.Error()+": "), subject, events.StreamDead)
	r.log.Error().Err(why).Str("subject", m.Subject()).Str("dead", subject).Msg("command set aside")

	dead := nats.NewMsg(subject)
	for k, v := range m.Headers() {
		dead.Header[k] = v
	}
	dead.Header.Set(headerDeadReason, why.Error())
	dead.Header.Set(headerDeadSubject, m.Subject())
	id := "dead-" + nuid.Next()
	if md, err := m.Metadata(); err == nil {
		id = "dead-" + strconv.FormatUint(md.Sequence.Stream, 10)
		dead.Header.Set(headerDeadSequence, strconv.FormatUint(md.Sequence.Stream, 10))
	}
	dead.Header.Set(events.HeaderMsgID, id)
	dead.Data = m.Data()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.js.PublishMsg(ctx, dead); err != nil {
		r.log.Warn().Err(err).Msg("dead-letter")
		return false
	}
	rec := &walRecord{}
	reply := r.refusal(rec, fail, nil, tc)
	if err := r.commit(ctx, rec); err != nil {
		r.log.Warn().Err(err).Msg("dead-letter refusal")
		return false
	}
	r.metrics.setAside.Inc() // before the answer, so a client that has it can see it counted
	r.metrics.refused.WithLabelValues(commandKind(m.Subject()), string(events.CodeInternal)).Inc()
	replyTo, _ := r.answerSubject(m.Headers())
	r.reply(replyTo, reply)
	r.ack(m)
	return true
}

// Headers of a set-aside command on the dead-letter stream.
const (
	headerDeadReason   = "Patchbay-Dead-Reason"
	headerDeadSubject  = "Patchbay-Dead-Subject"
	headerDeadSequence = "Patchbay-Dead-Sequence"
)

// answerSubject is where to answer a stored command: its Patchbay-Reply-To header, or
// nowhere; a header naming a subject the router may not publish on is an error.
func (r *Router) answerSubject(h nats.Header) (string, *events.Error) {
	to := h.Get(events.HeaderReplyTo)
	if err := r.checkReplyTo(to); err != nil {
		return "", err
	}
	return to, nil
}

// checkReplyTo refuses a reply subject the router must not publish on: the answer is
// a CloudEvent sent to whatever subject the client names, so a client could otherwise
// make the router write into a KV bucket ($KV...), call the JetStream API ($JS...),
// publish a forged event (patchbay...) or answer on another client's subjects. Only
// subjects under the configured reply prefixes (_INBOX. by default), without
// wildcards, are allowed.
func (r *Router) checkReplyTo(s string) *events.Error {
	if s == "" {
		return nil
	}
	bad := func(why string) *events.Error {
		if len(s) > 64 {
			s = s[:64] + "..."
		}
		return events.Errorf(events.CodeInvalidData, events.HeaderReplyTo, "reply subject %q is not allowed: %s", s, why)
	}
	if len(s) > events.MaxAttributeBytes {
		return bad(fmt.Sprintf("it is %d bytes; the limit is %d", len(s), events.MaxAttributeBytes))
	}
	if !slices.ContainsFunc(r.cfg.ReplyPrefixes, func(p string) bool { return strings.HasPrefix(s, p) }) {
		return bad(fmt.Sprintf("answers go only to subjects starting with %s", strings.Join(r.cfg.ReplyPrefixes, " or ")))
	}
	for _, tok := range strings.Split(s, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") {
			return bad("it must be a subject without wildcards, spaces or empty tokens")
		}
	}
	return nil
}

// checkReplyPrefix refuses a reply prefix that would let clients name system
// subjects: it must end with a dot and name no subject of the system's.
func checkReplyPrefix(p string) error {
	switch {
	case !strings.HasSuffix(p, ".") || strings.ContainsAny(p, "*> \t\r\n") || strings.Contains(p, ".."):
		return fmt.Errorf("reply prefix %q: want tokens ending with a dot, like _INBOX.", p)
	case strings.HasPrefix(p, "$") || strings.HasPrefix(p, "_JS.") || strings.HasPrefix(p, "patchbay."):
		return fmt.Errorf("reply prefix %q: subjects starting with $, _JS. or patchbay. belong to the system", p)
	}
	return nil
}

// refusal adds a command.failed event, carrying tc, to the record and returns it as
// the reply. data is the refused command's payload (nil when it has none), for the
// debug log.
func (r *Router) refusal(rec *walRecord, fail events.CommandFailure, data any, tc events.TraceContext) []byte {
	id, body := r.eventWithID(events.TypeCommandFailed, fail.CommandID, fail)
	body = events.WithTrace(body, tc)
	ev := matcher.Outbound{Subject: events.SubjectCommandFailed, ID: id, Body: body}
	rec.Events = append(rec.Events, ev)
	r.log.Info().Str("subject", fail.Subject).Str("command_id", fail.CommandID).Str("code", string(fail.Error.Code)).Str("field", fail.Error.Field).Msg(fail.Error.Message)
	r.logDecisions(fail.CommandID, data, []matcher.Outbound{ev})
	return body
}

// rejectedJob is the job.rejected event for a job.created message the router could
// not accept, carrying what can be read of the job (its id falls back to the
// CloudEvent id, then to "_").
func (r *Router) rejectedJob(fail events.CommandFailure, header nats.Header, body []byte, tc events.TraceContext) matcher.Outbound {
	job := events.Job{JobID: fail.CommandID, Status: events.JobStatusRejected, CreatedAt: r.cfg.Now().UTC(), Reason: fail.Error}
	if ev, err := events.Decode(header, body); err == nil {
		var loose struct {
			JobID     any `json:"jobId"`
			QueueID   any `json:"queueId"`
			ChannelID any `json:"channelId"`
		}
		if json.Unmarshal(ev.Data(), &loose) == nil {
			if s, ok := loose.JobID.(string); ok && s != "" {
				job.JobID = s
			}
			job.QueueID, _ = loose.QueueID.(string)
			job.ChannelID, _ = loose.ChannelID.(string)
		}
	}
	if !events.ValidID(job.JobID) {
		job.JobID = "_"
	}
	if !events.ValidID(job.QueueID) {
		job.QueueID = ""
	}
	if !events.ValidID(job.ChannelID) {
		job.ChannelID = ""
	}
	id, body := r.eventWithID(events.TypeJobRejected, job.JobID, job)
	ev := matcher.Outbound{Subject: events.JobSubject(job.QueueID, job.JobID, events.TypeJobRejected), ID: id, Body: events.WithTrace(body, tc)}
	r.logDecisions(fail.CommandID, nil, []matcher.Outbound{ev})
	return ev
}

// apply runs the engine, turning a panic into a value so one poisonous command cannot
// stop the router (the caller reloads the engine, whose memory may be half-changed).
func (r *Router) apply(cmd matcher.Command) (res *matcher.Result, panicked any) {
	defer func() {
		if p := recover(); p != nil {
			panicked = p
			r.log.Error().Interface("panic", p).Str("id", cmd.ID).Msg("engine panicked; reloading state")
		}
	}()
	return r.engine.Apply(cmd, r.cfg.Now()), nil
}

// event encodes a router CloudEvent (reply or error event).
func (r *Router) event(t events.Type, subject string, data any) []byte {
	_, b := r.eventWithID(t, subject, data)
	return b
}

// tracedEvent is event carrying tc (when it is valid).
func (r *Router) tracedEvent(t events.Type, subject string, data any, tc events.TraceContext) []byte {
	return events.WithTrace(r.event(t, subject, data), tc)
}

func (r *Router) eventWithID(t events.Type, subject string, data any) (string, []byte) {
	id := nuid.Next()
	b, err := events.Encode(t, id, events.RouterSource, subject, r.cfg.Now(), data)
	if err != nil {
		panic(fmt.Sprintf("router: encode %s: %v", t, err))
	}
	return id, b
}

// duplicateReply is the answer to a command that was already applied: the recorded
// result, marked as a duplicate, carrying tc (the trace of the command sent again).
func (r *Router) duplicateReply(w walCommand, tc events.TraceContext) []byte {
	ev, err := events.Decode(nil, w.Reply)
	if err != nil {
		return w.Reply
	}
	var res events.CommandResult
	if err := ev.DataAs(&res); err != nil {
		return w.Reply
	}
	res.Duplicate = true
	return r.tracedEvent(events.TypeCommandSucceeded, replySubject(&res), &res, tc)
}

func replySubject(res *events.CommandResult) string {
	if res.JobID != "" {
		return res.JobID
	}
	return res.WorkerID
}

func (r *Router) reply(to string, body []byte) {
	if to == "" || body == nil {
		return
	}
	m := nats.NewMsg(to)
	m.Header.Set("Content-Type", events.ContentTypeCloudEvent)
	m.Data = body
	if err := r.nc.PublishMsg(m); err != nil {
		r.log.Warn().Err(err).Str("to", to).Msg("reply")
	}
}

func (r *Router) ack(m jetstream.Msg) {
	if err := m.Ack(); err != nil {
		r.log.Warn().Err(err).Msg("ack")
	}
}

// forward is the request front end: a request on patchbay.req.<name> is stored on
// patchbay.in.<name> with the requester's reply address, so requests and published
// commands go through the same durable, ordered path.
func (r *Router) forward(m *nats.Msg) {
	// A reply subject the router may not publish on is kept on the stored command,
	// which the router then refuses without answering; nothing is answered here.
	reply := m.Reply
	if r.checkReplyTo(reply) != nil {
		reply = ""
	}
	if _, ok := events.TypeOfSubject(m.Subject); !ok {
		r.reply(reply, r.event(events.TypeCommandFailed, "", events.CommandFailure{Subject: m.Subject,
			Error: events.Errorf(events.CodeUnknownType, "subject", "%q is not a request subject (want patchbay.req.<name>, or with .<workerId> after a worker's command)", m.Subject)}))
		return
	}
	// the same name, the worker it names included, on the inbound stream
	out := nats.NewMsg(events.SubjectInPrefix + strings.TrimPrefix(m.Subject, events.SubjectReqPrefix))
	for k, v := range m.Header {
		out.Header[k] = v
	}
	// A request is always stored: JetStream's de-duplication would drop a retry and
	// leave it unanswered. The router itself applies a CloudEvent id once.
	out.Header.Del(events.HeaderMsgID)
	out.Data = m.Data
	if m.Reply != "" {
		out.Header.Set(events.HeaderReplyTo, m.Reply)
	}
	// Stored asynchronously: the subscription goroutine goes on with the next request
	// while JetStream acknowledges this one; watchForwards answers the failures.
	f, err := r.js.PublishMsgAsync(out)
	if err != nil {
		r.forwardFailed(m.Subject, reply, err)
		return
	}
	select {
	case r.forwards <- forwarded{f: f, subject: m.Subject, reply: reply}:
	default: // too many in flight: the client's retry will find room
		r.forwardFailed(m.Subject, reply, errors.New("too many requests in flight"))
	}
}

// forwarded is a request being stored on the stream; reply is where to answer a
// failure ("" for nowhere).
type forwarded struct {
	f       jetstream.PubAckFuture
	subject string
	reply   string
}

// forwardsMax bounds the requests being stored at once.
const forwardsMax = 4096

// watchForwards answers the requests that could not be stored, in the order they came.
func (r *Router) watchForwards(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case fw := <-r.forwards:
			select {
			case <-fw.f.Ok():
			case err := <-fw.f.Err():
				r.forwardFailed(fw.subject, fw.reply, err)
			case <-ctx.Done():
				return
			}
		}
	}
}

// forwardFailed answers a request that could not be stored: retryable, since sending
// it again (same CloudEvent id) may succeed once the broker is reachable.
func (r *Router) forwardFailed(subject, reply string, err error) {
	fail := events.Errorf(events.CodeInternal, "", "could not store the command: %v", err)
	fail.Retryable = true
	r.reply(reply, r.event(events.TypeCommandFailed, "", events.CommandFailure{Subject: subject, Error: fail}))
}
