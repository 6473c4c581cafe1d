package matcher

import (
	"container/heap"
	"time"

	"github.com/patchbay/patchbay/lifecycle"
)

type timerKind uint8

const (
	timerOfferExpiry    timerKind = iota + 1 // id: offer id
	timerRetryOffer                          // id: job id
	timerCloseAt                             // id: job id
	timerSelectorExpiry                      // id: job id
	timerTargetTimeout                       // id: job id
	timerJobTTL                              // id: job id
	timerExceptionWait                       // id: job id
	timerActivate                            // id: job id (scheduleAt of a scheduled job)
	timerForgetJob                           // id: job id (Retention after it ended)
	timerForgetWorker                        // id: worker id (Retention after it became inactive)
	timerPresence                            // id: worker id (its presence timeout; soft state, see presence.go)
)

type timer struct {
	at   time.Time
	kind timerKind
	id   string
}

// timerHeap is a min-heap of timers. Entries are never removed early: when one fires
// the engine checks that it still applies (the offer is still issued, the close is
// still scheduled), so a stale entry does nothing.
type timerHeap []timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

func (e *Engine) schedule(at time.Time, k timerKind, id string) {
	heap.Push(&e.timers, timer{at: at, kind: k, id: id})
}

// NextDeadline is when Tick next has something to do. Timers that no longer apply
// (the offer was answered or revoked, the job left the queue, the close happened) are
// dropped on the way, so the answer depends only on the state, as after Load.
func (e *Engine) NextDeadline() (time.Time, bool) {
	for len(e.timers) > 0 && !e.live(e.timers[0]) {
		heap.Pop(&e.timers)
	}
	if len(e.timers) == 0 {
		return time.Time{}, false
	}
	return e.timers[0].at, true
}

// live reports whether firing t would still do something: whether Load would have
// scheduled it.
func (e *Engine) live(t timer) bool {
	switch t.kind {
	case timerOfferExpiry:
		o := e.offers[t.id]
		return o != nil && o.status() == lifecycle.OfferIssued && o.ExpiresAt.Equal(t.at)
	case timerRetryOffer:
		j := e.jobs[t.id]
		if j == nil || j.status() != lifecycle.JobQueued {
			return false
		}
		for _, d := range j.Declined {
			if d.RetryAt != nil && d.RetryAt.Equal(t.at) {
				return true
			}
		}
	case timerCloseAt:
		j := e.jobs[t.id]
		return j != nil && j.status() == lifecycle.JobCompleted && j.ScheduledCloseAt != nil && j.ScheduledCloseAt.Equal(t.at)
	case timerExceptionWait:
		return e.exceptionTimerLive(e.jobs[t.id], t.at)
	case timerActivate:
		return activationLive(e.jobs[t.id], t.at)
	case timerForgetJob:
		return e.forgetJobLive(e.jobs[t.id], t.at)
	case timerForgetWorker:
		return e.forgetWorkerLive(e.workers[t.id], t.at)
	case timerPresence:
		w := e.workers[t.id]
		return w != nil && e.presenceLive(w, t.at)
	case timerJobTTL:
		j := e.jobs[t.id]
		return j != nil && j.status() == lifecycle.JobQueued && j.ExpiresAt != nil && j.ExpiresAt.Equal(t.at)
	case timerTargetTimeout:
		j := e.jobs[t.id]
		return j != nil && j.status() == lifecycle.JobQueued && j.Workflow != nil &&
			j.Workflow.TargetExpiresAt != nil && j.Workflow.TargetExpiresAt.Equal(t.at)
	case timerSelectorExpiry:
		j := e.jobs[t.id]
		if j == nil || j.status() != lifecycle.JobQueued {
			return false
		}
		for _, at := range j.selectorExpiries() {
			if at.Equal(t.at) {
				return true
			}
		}
	}
	return false
}

// Tick fires every timer due at now: offers expire, declines whose retry time has
// come make their job eligible again, scheduled closes happen, jobs and workers whose
// retention ran out are forgotten. It returns nil when nothing changed.
func (e *Engine) Tick(now time.Time) *Result {
	e.begin(now)
	e.rates.prune(e.now)
	e.fireDue()
	return e.finishQuiet()
}

func (e *Engine) fireDue() {
	for len(e.timers) > 0 && !e.timers[0].at.After(e.now) {
		t := heap.Pop(&e.timers).(timer)
		switch t.kind {
		case timerOfferExpiry:
			e.expireOffer(t.id)
		case timerRetryOffer:
			if j := e.jobs[t.id]; j != nil && j.status() == lifecycle.JobQueued {
				e.touchedJobs[j.JobID] = true
			}
		case timerCloseAt:
			e.closeScheduled(t.id)
		case timerSelectorExpiry:
			e.expireSelectors(t.id)
		case timerTargetTimeout:
			e.targetTimeout(t.id)
		case timerJobTTL:
			e.expireJob(t.id)
		case timerExceptionWait:
			e.exceptionWait(t.id)
		case timerActivate:
			e.activateJob(t.id)
		case timerForgetJob:
			e.forgetJob(t.id)
		case timerForgetWorker:
			e.forgetWorker(t.id)
		case timerPresence:
			e.presenceDue(t.id, t.at)
		}
	}
}

// finishQuiet is finish, returning nil when nothing changed.
func (e *Engine) finishQuiet() *Result {
	res := e.finish()
	if len(res.Ops) == 0 && len(res.Events) == 0 {
		return nil
	}
	return res
}
