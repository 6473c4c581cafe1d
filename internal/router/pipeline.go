package router

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The engine goroutine applies commands into the open record and hands records to the
// persister, one at a time (group commit): while record N is being stored, the
// commands that arrive are applied into record N+1, which is handed over the moment
// record N is complete. Records are written in order and only the last one can be
// half-done; a command is answered and acknowledged only after its record is
// complete. When storing a record fails, the commands applied since it (in it, or in
// the open record) are applied again from a reloaded engine, in order, after it.

// pending is a record being stored, with the answers it releases.
type pending struct {
	rec     *walRecord
	flush   bool // no record: make the pending KV writes (the router has nothing else to store)
	answers []answer
	bytes   int           // rec's estimated size, kept as commands are applied into it
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
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		switch {
		case r.Err() != nil:
			p.err = errDeposed
		case p.flush:
			p.err = r.flushPending(ctx)
		case p.rec != nil && (len(p.rec.Commands) > 0 || len(p.rec.Ops) > 0 || len(p.rec.Events) > 0):
			began := time.Now()
			p.err = r.commit(ctx, p.rec)
			if p.err == nil && r.spans != nil {
				r.stored(p, began, p.rec.publishing, time.Now())
			}
		}
		cancel()
		if p.err == nil {
			for _, a := range p.answers {
				r.metrics.answered(a) // before the answer, so a client that has it can see it counted
				r.reply(a.replyTo, a.reply)
				r.ack(a.m)
			}
		}
		close(p.done)
	}
}

// record is the open record, which the next commands are applied into.
func (r *Router) record() *pending {
	if r.open == nil {
		r.open = &pending{rec: &walRecord{}}
	}
	return r.open
}

// handOver hands the open record to the persister once the one before it is stored.
// A failure of the one before comes back as a *pipelineError holding its commands and
// the open record's, and nothing is handed over.
func (r *Router) handOver() error {
	if err := r.settle(); err != nil {
		return err
	}
	p := r.open
	if p.empty() {
		return nil
	}
	r.open = nil
	r.send(p)
	return nil
}

// send hands p to the persister.
func (r *Router) send(p *pending) {
	p.done = make(chan struct{})
	r.inflight = p
	r.persistQ <- p
}

// empty reports whether nothing was applied into the open record p (nil: none).
func (p *pending) empty() bool {
	return p == nil || len(p.answers) == 0 && len(p.rec.Ops) == 0 && len(p.rec.Events) == 0
}

// mayFlush reports whether the pending KV writes may be handed over: nothing is being
// stored or waits to be (the persister is done with them), and the engine is not
// stale (after a failure the reload makes them).
func (r *Router) mayFlush() bool {
	return !r.stale && r.inflight == nil && r.open.empty() && !r.pending.empty()
}

// flushIdleAfter is how long the router stays idle before it makes the pending KV
// writes: under load the commands hardly ever leave such a gap, so the writes keep
// waiting for the records after them (and a key written again is written once).
const flushIdleAfter = 5 * time.Millisecond

// flush hands over the pending KV writes when it may (mayFlush). It never waits.
func (r *Router) flush() {
	if r.mayFlush() {
		r.send(&pending{flush: true})
	}
}

// handOverIfFree hands the open record over when nothing is being stored; otherwise
// it stays open, and run hands it over when the record in flight is done.
func (r *Router) handOverIfFree() error {
	select {
	case <-r.inflightDone():
		return r.handOver()
	default:
		if r.inflight == nil {
			return r.handOver()
		}
		return nil
	}
}

// drain hands the open record over, then the pending KV writes, and waits until they
// are stored.
func (r *Router) drain() error {
	if err := r.handOver(); err != nil {
		return err
	}
	if err := r.settle(); err != nil {
		return err
	}
	r.flush()
	return r.settle()
}

// settle waits for the record in flight. When it failed, the engine holds changes
// that were not stored (it is marked stale), and the record's commands, then the open
// record's, come back in a *pipelineError.
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
	var msgs []jetstream.Msg
	for _, q := range []*pending{p, r.open} {
		if q != nil {
			for _, a := range q.answers {
				msgs = append(msgs, a.m)
			}
		}
	}
	r.open = nil
	return &pipelineError{err: p.err, msgs: msgs}
}

// inflightDone is closed when the record in flight is done (nil when there is none).
func (r *Router) inflightDone() <-chan struct{} {
	if r.inflight == nil {
		return nil
	}
	return r.inflight.done
}
