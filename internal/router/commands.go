package router

import (
	"context"
	"encoding/json"
	"fmt"
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
// type's JSON Schema and decodes into the type's payload.
func decodeCommand(subject string, header nats.Header, body []byte) (matcher.Command, events.CommandFailure) {
	fail := events.CommandFailure{Subject: subject}
	t, ok := events.TypeOfSubject(subject)
	if !ok {
		fail.Error = events.Errorf(events.CodeUnknownType, "subject", "%q is not an inbound subject (want patchbay.in.<name> or patchbay.req.<name>)", subject)
		return matcher.Command{}, fail
	}
	fail.CommandType = string(t)
	ev, err := events.Decode(header, body)
	fail.CommandID = ev.ID()
	if err != nil {
		fail.Error = events.AsError(err)
		return matcher.Command{}, fail
	}
	if events.Type(ev.Type()) != t {
		fail.Error = events.Errorf(events.CodeUnknownType, "type",
			"event type %q does not belong on %q (want %q)", ev.Type(), subject, t)
		return matcher.Command{}, fail
	}
	if err := schemas.ValidateData(t, ev.Data()); err != nil {
		fail.Error = events.AsError(err)
		return matcher.Command{}, fail
	}
	data := events.Payload(t)
	if err := events.DecodeData(ev, data); err != nil {
		fail.Error = events.AsError(err)
		return matcher.Command{}, fail
	}
	return matcher.Command{ID: ev.ID(), Type: t, Source: ev.Source(), Data: data}, fail
}

// handleBatch applies the commands in hand, in stream order, and acknowledges them
// once their results are durable: one write-ahead record for the batch, then the KV
// writes and the events, then the replies and the acks. Bad input is answered and
// acknowledged, never retried. When the results cannot be persisted the engine is
// reloaded and the same batch is applied again, so later commands never overtake it.
func (r *Router) handleBatch(msgs []jetstream.Msg) {
	for attempt := 0; ; attempt++ {
		if r.Err() != nil {
			return // another router took over: leave the messages to it
		}
		if r.ensureLease() && r.applyBatch(msgs) {
			return
		}
		for _, m := range msgs {
			_ = m.InProgress()
		}
		time.Sleep(CommitRetryDefault) // back off while storage is unavailable
	}
}

// answer is what to send back for one message once its batch is durable.
type answer struct {
	m       jetstream.Msg
	replyTo string
	reply   []byte
}

// applyBatch runs the batch through the engine and commits it; false means nothing
// was acknowledged and the engine was reloaded from storage.
func (r *Router) applyBatch(msgs []jetstream.Msg) bool {
	rec := &walRecord{}
	var answers []answer
	flush := func() bool {
		if len(answers) == 0 {
			return true
		}
		if len(rec.Commands) > 0 || len(rec.Ops) > 0 || len(rec.Events) > 0 {
			if !r.commitOrReload(context.Background(), rec) {
				return false
			}
		}
		for _, a := range answers {
			r.reply(a.replyTo, a.reply)
			r.ack(a.m)
		}
		rec, answers = &walRecord{}, nil
		return true
	}
	for _, m := range msgs {
		replyTo := m.Headers().Get(events.HeaderReplyTo)
		cmd, fail := decodeCommand(m.Subject(), m.Headers(), m.Data())
		if fail.Error != nil {
			if fail.CommandType == string(events.TypeJobCreated) {
				rec.Events = append(rec.Events, r.rejectedJob(fail, m.Headers(), m.Data()))
			}
			answers = append(answers, answer{m, replyTo, r.refusal(rec, fail)})
			continue
		}
		if w, ok := r.lastWAL.command(cmd.ID, cmd.Source); ok {
			// Redelivered after it was applied (the ack was lost): answer from the record.
			answers = append(answers, answer{m, replyTo, r.duplicateReply(w)})
			continue
		}
		res, panicked := r.apply(cmd)
		if panicked != nil {
			// The engine may be half-changed: keep what the batch did before this
			// command, reload, and refuse this one.
			if !flush() {
				return false
			}
			if err := r.reload(context.Background()); err != nil {
				r.log.Error().Err(err).Msg("reload after panic failed")
				return false
			}
			fail.CommandID, fail.Error = cmd.ID, events.Errorf(events.CodeInternal, "", "the router failed on this command: %v", panicked)
			answers = append(answers, answer{m, replyTo, r.refusal(rec, fail)})
			continue
		}
		if res.Err != nil {
			fail.CommandID, fail.Error = cmd.ID, res.Err
			rec.Events = append(rec.Events, res.Events...)
			answers = append(answers, answer{m, replyTo, r.refusal(rec, fail)})
			continue
		}
		reply := r.event(events.TypeCommandSucceeded, replySubject(res.Reply), res.Reply)
		rec.Commands = append(rec.Commands, walCommand{ID: cmd.ID, Source: cmd.Source, Reply: reply})
		rec.Ops = append(rec.Ops, res.Ops...)
		rec.Events = append(rec.Events, res.Events...)
		answers = append(answers, answer{m, replyTo, reply})
		if rec.size() > maxRecordBytes {
			if !flush() {
				return false
			}
		}
	}
	return flush()
}

// refusal adds a command.failed event to the record and returns it as the reply.
func (r *Router) refusal(rec *walRecord, fail events.CommandFailure) []byte {
	id, body := r.eventWithID(events.TypeCommandFailed, fail.CommandID, fail)
	rec.Events = append(rec.Events, matcher.Outbound{Subject: events.SubjectCommandFailed, ID: id, Body: body})
	r.log.Info().Str("subject", fail.Subject).Str("code", string(fail.Error.Code)).Str("field", fail.Error.Field).Msg(fail.Error.Message)
	return body
}

// rejectedJob is the job.rejected event for a job.created message the router could
// not accept, carrying what can be read of the job (its id falls back to the
// CloudEvent id, then to "_").
func (r *Router) rejectedJob(fail events.CommandFailure, header nats.Header, body []byte) matcher.Outbound {
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
	return matcher.Outbound{Subject: events.JobSubject(job.QueueID, job.JobID, events.TypeJobRejected), ID: id, Body: body}
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

func (r *Router) eventWithID(t events.Type, subject string, data any) (string, []byte) {
	id := nuid.Next()
	ev, err := events.New(t, id, events.RouterSource, subject, r.cfg.Now(), data)
	if err != nil {
		panic(fmt.Sprintf("router: build %s: %v", t, err))
	}
	b, err := events.Structured(ev)
	if err != nil {
		panic(fmt.Sprintf("router: encode %s: %v", t, err))
	}
	return id, b
}

// duplicateReply is the answer to a command that was already applied: the recorded
// result, marked as a duplicate.
func (r *Router) duplicateReply(w walCommand) []byte {
	ev, err := events.Decode(nil, w.Reply)
	if err != nil {
		return w.Reply
	}
	var res events.CommandResult
	if err := ev.DataAs(&res); err != nil {
		return w.Reply
	}
	res.Duplicate = true
	return r.event(events.TypeCommandSucceeded, replySubject(&res), &res)
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
	t, ok := events.TypeOfSubject(m.Subject)
	if !ok {
		r.reply(m.Reply, r.event(events.TypeCommandFailed, "", events.CommandFailure{Subject: m.Subject,
			Error: events.Errorf(events.CodeUnknownType, "subject", "%q is not a request subject (want patchbay.req.<name>)", m.Subject)}))
		return
	}
	out := nats.NewMsg(events.InSubject(t))
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r.js.PublishMsg(ctx, out); err != nil {
		r.reply(m.Reply, r.event(events.TypeCommandFailed, "", events.CommandFailure{Subject: m.Subject,
			Error: events.Errorf(events.CodeInternal, "", "could not store the command: %v", err)}))
	}
}
