package router

import (
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/matcher"
)

// maxPendingBeats bounds the workers whose heartbeats wait for the engine goroutine
// at once; beyond it (a flood of made-up worker ids) heartbeats are dropped until the
// engine takes the ones waiting.
const maxPendingBeats = 100_000

// beats holds the latest heartbeat of each worker until the engine goroutine takes
// them. Heartbeats are core NATS messages on patchbay.presence.<workerId>: nothing is
// stored for them, and only the presence changes they cause are (design.md,
// "Presence").
type beats struct {
	mu    sync.Mutex
	seen  map[string]time.Time
	ready chan struct{} // signalled when seen holds something
}

func newBeats() *beats {
	return &beats{seen: map[string]time.Time{}, ready: make(chan struct{}, 1)}
}

// heartbeat is the subscription's handler: it notes the time, nothing more.
func (r *Router) heartbeat(m *nats.Msg) {
	id := strings.TrimPrefix(m.Subject, events.SubjectPresencePrefix)
	if events.CheckID("workerId", id) != nil {
		return
	}
	now := r.cfg.Now()
	b := r.beats
	b.mu.Lock()
	if _, ok := b.seen[id]; ok || len(b.seen) < maxPendingBeats {
		b.seen[id] = now
	}
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// take returns the heartbeats waiting and starts afresh.
func (b *beats) take() map[string]time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := b.seen
	b.seen = make(map[string]time.Time, len(seen))
	return seen
}

// applyHeartbeats hands the waiting heartbeats to the engine (engine goroutine). A
// heartbeat of an online worker changes nothing stored; one that brings a lost worker
// back is stored in the open record, after the commands applied before it. An engine
// that may hold changes that were not stored takes none (they are soft state: the
// reload gives every worker a full timeout). A failure of the record in flight comes
// back as a *pipelineError.
func (r *Router) applyHeartbeats() error {
	seen := r.beats.take()
	if r.stale {
		return nil
	}
	for id, at := range seen {
		if res := r.engine.Heartbeat(id, at); res != nil {
			r.addResult(res)
		}
	}
	return r.handOverIfFree()
}

// addResult puts the changes and events of something that is no command (a presence
// change) in the open record.
func (r *Router) addResult(res *matcher.Result) {
	stampNewTraces(res.Events) // a heartbeat carries no trace: it starts one
	r.logDecisions("", nil, res.Events)
	p := r.record()
	mark := p.rec.mark()
	p.rec.Ops = append(p.rec.Ops, res.Ops...)
	p.rec.Events = append(p.rec.Events, res.Events...)
	p.bytes += p.rec.sizeFrom(mark)
}
