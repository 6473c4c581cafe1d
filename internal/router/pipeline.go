package router

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The engine goroutine applies commands and hands each record to the persister, one
// record at a time: while record N is being stored, the commands of record N+1 are
// applied. Record N+1 is handed over only once record N is complete, so records are
// written in order and only the last one can be half-done; a command is answered and
// acknowledged only after its record is complete. When storing a record fails, the
// commands applied since it (stored or not) are applied again from a reloaded
// engine, in order, after it.

// pending is a record being stored, with the answers it releases.
type pending struct {
	rec     *walRecord
	answers []answer
	err     error         // set by the persister before done closes
	done    chan struct{} // closed when the record is stored, or failed
}

// pipelineError is a record that could not be stored: its commands are to be
// applied again, before anything that came after them.
type pipelineError struct {
	err  error
	msgs []jetstream.Msg
}

func (e *pipelineError) Error() string { return e.err.Error() }
func (e *pipelineError) Unwrap() error { return e.err }

// persister stores the records handed over, in order, until the queue is closed.
func (r *Router) persister() {
	for p := range r.persistQ {
		if r.Err() != nil {
			p.err = errDeposed
		} else if p.rec != nil && (len(p.rec.Commands) > 0 || len(p.rec.Ops) > 0 || len(p.rec.Events) > 0) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			p.err = r.commit(ctx, p.rec)
			cancel()
		}
		if p.err == nil {
			for _, a := range p.answers {
				r.reply(a.replyTo, a.reply)
				r.ack(a.m)
			}
		}
		close(p.done)
	}
}

// submit hands a record to the persister once the one before it is stored. A failure
// of the one before comes back as a *pipelineError, and p is not handed over.
func (r *Router) submit(p *pending) error {
	if err := r.settle(); err != nil {
		return err
	}
	p.done = make(chan struct{})
	r.inflight = p
	r.persistQ <- p
	return nil
}

// settle waits for the record in flight. When it failed, the engine holds changes
// that were not stored (it is marked stale) and the record's commands come back in a
// *pipelineError.
func (r *Router) settle() error {
	p := r.inflight
	if p == nil {
		return nil
	}
	<-p.done
	r.inflight = nil
	if p.err == nil {
		return nil
	}
	r.stale = true
	msgs := make([]jetstream.Msg, 0, len(p.answers))
	for _, a := range p.answers {
		msgs = append(msgs, a.m)
	}
	return &pipelineError{err: p.err, msgs: msgs}
}

// inflightDone is closed when the record in flight is done (nil when there is none).
func (r *Router) inflightDone() <-chan struct{} {
	if r.inflight == nil {
		return nil
	}
	return r.inflight.done
}
