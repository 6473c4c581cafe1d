package matcher

import (
	"fmt"
	"sort"

	"github.com/patchbay/patchbay/events"
)

func validateWorker(d *events.WorkerRegister, full bool) error {
	if err := events.CheckID("workerId", d.WorkerID); err != nil {
		return err
	}
	if full && len(d.Queues) == 0 {
		return events.Errorf(events.CodeInvalidData, "queues", "queues: a worker needs at least one queue")
	}
	for i, q := range d.Queues {
		if err := events.CheckID(fmt.Sprintf("queues/%d", i), q); err != nil {
			return err
		}
	}
	if full && d.TotalCapacity == nil {
		return events.Errorf(events.CodeInvalidData, "totalCapacity", "totalCapacity is required")
	}
	if d.TotalCapacity != nil && *d.TotalCapacity < 1 {
		return events.Errorf(events.CodeInvalidData, "totalCapacity", "totalCapacity must be at least 1 (got %d)", *d.TotalCapacity)
	}
	if d.HeartbeatSeconds != nil && (*d.HeartbeatSeconds < 0 || *d.HeartbeatSeconds > events.MaxHeartbeatSeconds) {
		return events.Errorf(events.CodeInvalidData, "heartbeatSeconds", "heartbeatSeconds must be 0 (not tracked) to %d (got %d)", events.MaxHeartbeatSeconds, *d.HeartbeatSeconds)
	}
	if d.MaxConcurrentOffers != nil && *d.MaxConcurrentOffers < 0 {
		return events.Errorf(events.CodeInvalidData, "maxConcurrentOffers", "maxConcurrentOffers must not be negative (got %d)", *d.MaxConcurrentOffers)
	}
	if full && len(d.Channels) == 0 {
		return events.Errorf(events.CodeInvalidData, "channels", "channels: a worker needs at least one channel")
	}
	seen := map[string]bool{}
	for i, c := range d.Channels {
		f := fmt.Sprintf("channels/%d", i)
		if err := events.CheckID(f+"/channelId", c.ChannelID); err != nil {
			return err
		}
		if seen[c.ChannelID] {
			return events.Errorf(events.CodeInvalidData, f+"/channelId", "%s: channel %q is listed twice", f, c.ChannelID)
		}
		seen[c.ChannelID] = true
		if c.CapacityCostPerJob < 1 {
			return events.Errorf(events.CodeInvalidData, f+"/capacityCostPerJob", "%s: capacityCostPerJob must be at least 1 (got %d)", f, c.CapacityCostPerJob)
		}
		if c.MaxNumberOfJobs < 0 {
			return events.Errorf(events.CodeInvalidData, f+"/maxNumberOfJobs", "%s: maxNumberOfJobs must not be negative (got %d)", f, c.MaxNumberOfJobs)
		}
	}
	return validateLabels("labels", d.Labels)
}

// registerWorker creates or replaces a worker and puts it in its activity: the one
// given, else available (or offline when availableForOffers is false). A worker that
// registers again after it deregistered starts a new epoch, which forgets its declines.
func (e *Engine) registerWorker(_ Command, d *events.WorkerRegister) error {
	if err := validateWorker(d, true); err != nil {
		return err
	}
	w, existed := e.workers[d.WorkerID]
	act, available, err := e.nextActivity(w, d, true)
	if err != nil {
		return err
	}
	if !existed {
		w = &Worker{Worker: events.Worker{WorkerID: d.WorkerID, RegisteredAt: e.now}}
		e.workers[d.WorkerID] = w
	}
	w.Labels, w.Tags, w.attrs = d.Labels, d.Tags, nil
	w.Queues = dedupe(d.Queues)
	e.revokeOutsideQueues(w)
	w.TotalCapacity = *d.TotalCapacity
	w.Channels = d.Channels
	w.MaxConcurrentOffers = 0
	if d.MaxConcurrentOffers != nil {
		w.MaxConcurrentOffers = *d.MaxConcurrentOffers
	}
	e.revokeUnfit(w)
	e.setActivity(w, act, available)
	w.HeartbeatSeconds = 0
	if d.HeartbeatSeconds != nil {
		w.HeartbeatSeconds = *d.HeartbeatSeconds
	}
	e.track(w)
	e.finishWorker(w, events.TypeWorkerRegistered)
	return nil
}

// updateWorker changes the fields the update carries. Turning availableForOffers on
// (directly, or by moving to an activity that takes offers) is a registration,
// turning it off a deregistration; a change of activity alone is an update.
func (e *Engine) updateWorker(_ Command, d *events.WorkerRegister) error {
	if err := validateWorker(d, false); err != nil {
		return err
	}
	w, ok := e.workers[d.WorkerID]
	if !ok {
		return events.Errorf(events.CodeUnknownWorker, "workerId", "no worker %q: register it first", d.WorkerID)
	}
	act, available, err := e.nextActivity(w, d, false)
	if err != nil {
		return err
	}
	if d.Labels != nil {
		w.Labels, w.attrs = d.Labels, nil
	}
	if d.Tags != nil {
		w.Tags = d.Tags
	}
	if d.Queues != nil {
		w.Queues = dedupe(d.Queues)
		e.revokeOutsideQueues(w)
	}
	if d.TotalCapacity != nil {
		w.TotalCapacity = *d.TotalCapacity
	}
	if d.Channels != nil {
		w.Channels = d.Channels
	}
	if d.MaxConcurrentOffers != nil {
		w.MaxConcurrentOffers = *d.MaxConcurrentOffers
	}
	e.revokeUnfit(w)
	t := events.TypeWorkerUpdated
	if available != w.AvailableForOffers {
		t = events.TypeWorkerDeregistered
		if available {
			t = events.TypeWorkerRegistered
		}
	}
	e.setActivity(w, act, available)
	if d.HeartbeatSeconds != nil {
		w.HeartbeatSeconds = *d.HeartbeatSeconds
	}
	e.track(w)
	e.finishWorker(w, t)
	return nil
}

// deregisterWorker moves a worker to the activity offline.
func (e *Engine) deregisterWorker(_ Command, d *events.WorkerDeregister) error {
	if err := events.CheckID("workerId", d.WorkerID); err != nil {
		return err
	}
	w, ok := e.workers[d.WorkerID]
	if !ok {
		return events.Errorf(events.CodeUnknownWorker, "workerId", "no worker %q", d.WorkerID)
	}
	if w.Activity == events.ActivityOffline {
		e.res.Reply = &events.CommandResult{WorkerID: w.WorkerID, Status: w.State, Duplicate: true}
		return nil
	}
	// A worker on a break (or in any other activity) that deregisters is offline.
	e.setActivity(w, events.ActivityOffline, false)
	e.finishWorker(w, events.TypeWorkerDeregistered)
	return nil
}

// revokeOutsideQueues revokes w's offers for jobs of queues w left.
func (e *Engine) revokeOutsideQueues(w *Worker) {
	for _, l := range append([]Load(nil), w.Loads...) {
		if o := e.offers[l.OfferID]; l.OfferID != "" && o != nil && !w.inQueue(o.QueueID) {
			e.revoke(o, events.RevokedWorkerLeftQueue)
		}
	}
}

// revokeUnfit revokes w's outstanding offers, newest first, while they do not fit
// what w now has: more than its total capacity, more jobs on a channel than its
// maxNumberOfJobs, or a channel it no longer serves. Held jobs are never taken back.
func (e *Engine) revokeUnfit(w *Worker) {
	for i := len(w.Loads) - 1; i >= 0; i-- {
		if l := w.Loads[i]; l.OfferID != "" && w.overloaded(l.ChannelID) {
			e.revoke(e.offers[l.OfferID], events.RevokedWorkerDeregistered)
		}
	}
}

func (e *Engine) finishWorker(w *Worker, t events.Type) {
	// A command about the worker restarts its retention: finish stamps it again if it
	// is still inactive, and a registration before it is forgotten cancels the forget.
	w.InactiveSince = nil
	e.announceWorker(w, t)
	e.res.Reply = &events.CommandResult{WorkerID: w.WorkerID, Status: w.State}
}

// announceWorker stores a changed worker and publishes event t about it, after
// recomputing its derived fields and its place in the indexes, and marks it for
// matching if it takes offers.
func (e *Engine) announceWorker(w *Worker, t events.Type) {
	w.refreshState()
	e.index.reindex(w)
	e.dirtyWrk[w.WorkerID] = true
	e.touchWorker(w)
	e.emit(events.WorkerSubject(w.WorkerID, t), t, w.WorkerID, w.snapshot())
}

// refresh recomputes w's derived fields after its loads changed, and its place in the
// index's orders of workers with room.
func (e *Engine) refresh(w *Worker) {
	w.refreshState()
	e.index.place(w)
}

// touchWorker marks w for matching against the jobs of its queues.
func (e *Engine) touchWorker(w *Worker) {
	if w.takesOffers() {
		e.touchedWorkers[w.WorkerID] = true
	}
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
