package matcher

import (
	"time"

	"github.com/patchbay/patchbay/expr"
)

// Why names the rule of eligibility a job and a worker fail: the first one, in the
// order Engine.ineligible checks them. WhyNone: the worker may be offered the job.
type Why uint8

// The rules of eligibility, in the order they are checked.
const (
	WhyNone Why = iota
	// WhyUnavailable: the worker's activity takes no offers.
	WhyUnavailable
	// WhyLost: the worker's presence is lost (it missed its heartbeats).
	WhyLost
	// WhyNotInQueue: the worker does not serve the job's queue.
	WhyNotInQueue
	// WhyOffered: the worker already has an outstanding offer for the job (checked
	// before capacity, which that very offer takes).
	WhyOffered
	// WhyMaxOffers: the worker has its maxConcurrentOffers outstanding (Used of Limit).
	WhyMaxOffers
	// WhyNoChannel: the worker does not serve the job's channel.
	WhyNoChannel
	// WhyNoCapacity: the job's cost (Cost) does not fit in what is left of the
	// worker's total capacity (Used of Limit).
	WhyNoCapacity
	// WhyChannelFull: the worker holds the channel's maxNumberOfJobs (Used of Limit).
	WhyChannelFull
	// WhySelector: the job's worker selector number Selector fails for the worker.
	WhySelector
	// WhyDeclined: the worker declined the job in this registration (Until: the
	// decline's retryOfferAt, nil when it never expires).
	WhyDeclined
	// WhyKnownWorker: the job's workflow target routes it to another, known worker.
	WhyKnownWorker
	// WhyTarget: the job's workflow target expression does not hold for the worker.
	WhyTarget
)

// Reason is why a job may not be offered to a worker now, with the numbers that rule
// compared. It is a small value and building it allocates nothing: the matcher asks
// for it on every candidate (through eligible), explain turns it into words.
type Reason struct {
	Why Why
	// Cost is the capacity the job takes on the worker (set whenever the channel
	// check ran: for WhyNone, and the rules from WhyNoCapacity on).
	Cost int
	// Used and Limit: offers out and the worker's cap (WhyMaxOffers), capacity used
	// and total (WhyNoCapacity), jobs on the channel and its max (WhyChannelFull).
	Used, Limit int
	// Selector is the index of the failing selector in the job's WorkerSelectors.
	Selector int
	// Until is when a decline lets the job be offered again (nil: never, in this
	// registration).
	Until *time.Time
}

// ineligible is THE eligibility rule: whether j may be offered to w now, and if not,
// the first condition it fails. w must be available (its activity takes offers) and
// present, serve j's queue, not hold an offer for j already, be under its cap of
// concurrent offers, have room on j's channel (capacity and the channel's
// maxNumberOfJobs), satisfy every selector of j (unless the distribution bypasses
// them), not have declined j (in this registration, before its retry time), and be
// allowed by j's workflow target t (its known worker, its expression). The matcher (eligible) and
// explain both call it, so what explain says cannot drift from what is matched.
func (e *Engine) ineligible(j *Job, w *Worker, t *wfTarget, bypassSelectors bool) Reason {
	switch {
	case !w.AvailableForOffers:
		return Reason{Why: WhyUnavailable}
	case w.lost():
		return Reason{Why: WhyLost}
	case !w.inQueue(j.QueueID):
		return Reason{Why: WhyNotInQueue}
	}
	for _, id := range j.OfferIDs {
		if o := e.offers[id]; o != nil && o.WorkerID == w.WorkerID {
			return Reason{Why: WhyOffered}
		}
	}
	if w.MaxConcurrentOffers > 0 {
		if n := w.offers(); n >= w.MaxConcurrentOffers {
			return Reason{Why: WhyMaxOffers, Used: n, Limit: w.MaxConcurrentOffers}
		}
	}
	r := w.room(j.ChannelID)
	if r.Why != WhyNone {
		return r
	}
	if !bypassSelectors {
		for i, s := range j.WorkerSelectors {
			if !Matches(s, w.WorkerID, w.Labels) {
				r.Why, r.Selector = WhySelector, i
				return r
			}
		}
	}
	if d, ok := j.Declined[w.WorkerID]; ok && j.declinedBy(w, e.now) {
		r.Why, r.Until = WhyDeclined, d.RetryAt
		return r
	}
	if t != nil {
		if t.known != nil && e.knownWorker(j, *t) != w.WorkerID {
			r.Why = WhyKnownWorker
			return r
		}
		if t.expr != nil && !t.expr.Eval(expr.Env{Roots: map[string]any{
			expr.RootTask:   map[string]any(j.Labels),
			expr.RootWorker: w.exprAttrs(),
		}, Default: expr.RootWorker}) {
			r.Why = WhyTarget
			return r
		}
	}
	return r
}

// eligible reports whether j may be offered to w now (ineligible finds no reason),
// and at what capacity cost; t is j's workflow target (e.target(j)).
func (e *Engine) eligible(j *Job, w *Worker, t *wfTarget, bypassSelectors bool) (int, bool) {
	r := e.ineligible(j, w, t, bypassSelectors)
	return r.Cost, r.Why == WhyNone
}
