package matcher

import (
	"time"

	"github.com/patchbay/patchbay/events"
)

// Presence (docs/design.md, "Presence"). A worker registered with heartbeatSeconds
// is tracked: the router hands the engine its heartbeats (Heartbeat), and a timer per
// tracked worker marks it lost once events.PresenceTimeout passes without one. The
// time of the last heartbeat is soft state, kept in memory only: after Load every
// tracked worker gets a full timeout from the first moment the engine is used. Only
// the transitions (online to lost and back) are stored.

// presence is the engine's soft state about tracked workers.
type presence struct {
	// seen is each tracked worker's last sign of life: its last heartbeat, its
	// registration, or the engine's first use after Load.
	seen map[string]time.Time
	// armed is the time of each tracked worker's one live presence timer.
	armed map[string]time.Time
	// unarmed is set by Load: the next begin arms every tracked worker's timer.
	unarmed bool
}

func (p *presence) reset() {
	p.seen = map[string]time.Time{}
	p.armed = map[string]time.Time{}
	p.unarmed = true
}

// tracked reports whether w's presence is watched (and matters): it registered with
// heartbeats and is available for offers.
func (w *Worker) tracked() bool { return w.HeartbeatSeconds > 0 && w.AvailableForOffers }

// lost reports whether w missed its heartbeats and has not sent one since.
func (w *Worker) lost() bool { return w.Presence == events.PresenceLost }

// takesOffers reports whether w may be offered jobs: it is available, and present
// (or not tracked).
func (w *Worker) takesOffers() bool { return w.AvailableForOffers && !w.lost() }

// Heartbeat records a heartbeat of workerID at now. It returns nil when there is
// nothing to store: the worker is online (its timer is pushed back, in memory), unknown
// or not tracked. A lost worker is online again: the Result stores that and the
// offers it gets at once.
func (e *Engine) Heartbeat(workerID string, now time.Time) *Result {
	w := e.workers[workerID]
	if w == nil || w.HeartbeatSeconds == 0 {
		return nil
	}
	e.presence.seen[workerID] = now.UTC()
	if !w.lost() {
		return nil
	}
	e.begin(now)
	e.setPresence(w, events.PresenceOnline)
	return e.finishQuiet()
}

// track starts, restarts or stops watching w after a command about it (a registration
// or an update is a sign of life).
func (e *Engine) track(w *Worker) {
	switch {
	case w.HeartbeatSeconds == 0:
		w.Presence, w.PresenceChangedAt = "", nil
		delete(e.presence.seen, w.WorkerID)
		delete(e.presence.armed, w.WorkerID)
		return
	case w.Presence != events.PresenceOnline:
		// a lost worker that registers again is online (the command's event says so)
		w.Presence, w.PresenceChangedAt = events.PresenceOnline, timePtr(e.now)
	}
	e.presence.seen[w.WorkerID] = e.now
	delete(e.presence.armed, w.WorkerID) // its heartbeat may have changed: arm afresh
	e.arm(w)
}

// arm makes sure a tracked, online worker has its presence timer. One timer per
// worker: when it fires early (heartbeats came meanwhile) it is armed again.
func (e *Engine) arm(w *Worker) {
	if !w.tracked() || w.lost() {
		return
	}
	if _, ok := e.presence.armed[w.WorkerID]; ok {
		return
	}
	seen, ok := e.presence.seen[w.WorkerID]
	if !ok {
		seen = e.now
		e.presence.seen[w.WorkerID] = seen
	}
	at := seen.Add(events.PresenceTimeout(w.HeartbeatSeconds))
	e.presence.armed[w.WorkerID] = at
	e.schedule(at, timerPresence, w.WorkerID)
}

// armAll gives every tracked worker its timer from now: the first use after Load.
func (e *Engine) armAll() {
	e.presence.unarmed = false
	for _, w := range e.workers {
		e.arm(w)
	}
}

// presenceLive reports whether a presence timer is w's current one.
func (e *Engine) presenceLive(w *Worker, at time.Time) bool {
	armed, ok := e.presence.armed[w.WorkerID]
	return w.tracked() && !w.lost() && ok && armed.Equal(at)
}

// presenceDue marks a worker lost when its timeout passed without a sign of life, and
// arms its timer again when one came meanwhile.
func (e *Engine) presenceDue(id string, at time.Time) {
	w := e.workers[id]
	if w == nil || !e.presenceLive(w, at) {
		return
	}
	delete(e.presence.armed, id)
	if due := e.presence.seen[id].Add(events.PresenceTimeout(w.HeartbeatSeconds)); due.After(e.now) {
		e.arm(w)
		return
	}
	e.setPresence(w, events.PresenceLost)
}

// setPresence moves a tracked worker between online and lost: lost revokes all its
// outstanding offers (their jobs go to the next eligible workers); online makes it
// eligible again. The jobs it holds are not touched.
func (e *Engine) setPresence(w *Worker, p string) {
	t := events.TypeWorkerReconnected
	if p == events.PresenceLost {
		t = events.TypeWorkerDisconnected
	}
	w.Presence, w.PresenceChangedAt = p, timePtr(e.now)
	if p == events.PresenceLost {
		for _, l := range append([]Load(nil), w.Loads...) {
			if l.OfferID != "" {
				e.revoke(e.offers[l.OfferID], events.RevokedWorkerDisconnected)
			}
		}
	} else {
		e.presence.seen[w.WorkerID] = e.now
		e.arm(w)
	}
	// Not finishWorker: this is no command of the worker's (no reply, and its
	// retention runs on).
	e.announceWorker(w, t)
}
