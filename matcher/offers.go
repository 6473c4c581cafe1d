package matcher

import (
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// issue offers job j to worker w at capacity cost.
func (e *Engine) issue(j *Job, w *Worker, cost int) {
	o := &Offer{Offer: events.Offer{
		OfferID: e.newID(), JobID: j.JobID, WorkerID: w.WorkerID, QueueID: j.QueueID,
		ChannelID: j.ChannelID, CapacityCost: cost, Status: string(lifecycle.OfferIssued),
		IssuedAt: e.now, ExpiresAt: e.now.Add(e.offerExpiry(j.QueueID)),
	}}
	e.addOffer(o)
	j.OfferIDs = append(j.OfferIDs, o.OfferID)
	e.reslot(j)
	w.Loads = append(w.Loads, Load{JobID: j.JobID, OfferID: o.OfferID, ChannelID: j.ChannelID, Cost: cost})
	e.refresh(w)
	e.dirtyOffer[o.OfferID], e.dirtyJobs[j.JobID], e.dirtyWrk[w.WorkerID] = true, true, true
	e.schedule(o.ExpiresAt, timerOfferExpiry, o.OfferID)
	snap := o.Offer
	js := j.snapshot()
	snap.Job = &js
	e.emitOffer(events.TypeOfferIssued, snap)
}

// emitOffer publishes event t about an offer (snapshot o), with its queue.
func (e *Engine) emitOffer(t events.Type, o events.Offer) {
	e.emit(events.OfferSubject(o.WorkerID, o.JobID, t), t, o.JobID, o)
	e.res.Events[len(e.res.Events)-1].Queue = o.QueueID
}

// end moves an issued offer to a terminal status, frees the worker's capacity it
// held, takes it off the job, emits the event and marks the queue for matching. The
// offer replaces the job's earlier ended offers to the same worker, which are
// deleted: a job keeps at most one ended offer per worker (see retention.go), so its
// offers are bounded by the workers, not by how many times it was offered.
func (e *Engine) end(o *Offer, to lifecycle.OfferStatus, t events.Type, reason string) {
	o.Status = string(to)
	o.Reason = reason
	e.dirtyOffer[o.OfferID] = true
	e.dropEndedOffers(o)
	if j := e.jobs[o.JobID]; j != nil {
		j.removeOffer(o.OfferID)
		e.reslot(j)
		e.dirtyJobs[j.JobID] = true
		e.touchedJobs[j.JobID] = true
	}
	if w := e.workers[o.WorkerID]; w != nil {
		w.removeLoad(o.JobID, o.OfferID)
		e.refresh(w)
		e.dirtyWrk[w.WorkerID] = true
		e.touchWorker(w)
	}
	e.emitOffer(t, o.Offer)
}

func (e *Engine) revoke(o *Offer, reason string) {
	if o == nil || o.status() != lifecycle.OfferIssued {
		return
	}
	e.end(o, lifecycle.OfferRevoked, events.TypeOfferRevoked, reason)
}

func (e *Engine) revokeOffers(j *Job, reason string) {
	for _, id := range append([]string(nil), j.OfferIDs...) {
		e.revoke(e.offers[id], reason)
	}
}

func (e *Engine) expireOffer(id string) {
	o := e.offers[id]
	if o == nil || o.status() != lifecycle.OfferIssued || o.ExpiresAt.After(e.now) {
		return
	}
	if j := e.jobs[o.JobID]; j != nil {
		j.noteExpiry(o.WorkerID)
	}
	e.end(o, lifecycle.OfferExpired, events.TypeOfferExpired, "")
	if w := e.workers[o.WorkerID]; w != nil && w.AvailableForOffers && e.distributionOf(o.QueueID).unavailableOnExpiry {
		// Azure Job Router's behaviour: an absent person stops receiving work
		e.setActivity(w, events.ActivityOffline, false)
		w.InactiveSince = nil
		e.announceWorker(w, events.TypeWorkerDeregistered)
	}
}

// answeredOffer finds the offer a worker answers and checks it is theirs.
func (e *Engine) answeredOffer(jobID, offerID, workerID string) (*Job, *Offer, error) {
	j, ok := e.jobs[jobID]
	if !ok {
		return nil, nil, events.Errorf(events.CodeUnknownJob, "jobId", "no job %q", jobID)
	}
	o, ok := e.offers[offerID]
	if !ok || o.JobID != jobID {
		return nil, nil, events.Errorf(events.CodeUnknownOffer, "offerId", "job %q has no offer %q", jobID, offerID)
	}
	if o.WorkerID != workerID {
		return nil, nil, events.Errorf(events.CodeNotYourOffer, "workerId", "offer %q was issued to another worker, not %q", offerID, workerID)
	}
	return j, o, nil
}

func (e *Engine) acceptOffer(_ Command, d *events.OfferAccept) error {
	j, o, err := e.answeredOffer(d.JobID, d.OfferID, d.WorkerID)
	if err != nil {
		return err
	}
	if o.status() == lifecycle.OfferAccepted {
		e.res.Reply = &events.CommandResult{JobID: j.JobID, OfferID: o.OfferID, WorkerID: o.WorkerID,
			AssignmentID: o.AssignmentID, Status: j.Status, Duplicate: true}
		return nil
	}
	if o.status() == lifecycle.OfferRevoked && o.Reason == events.RevokedJobAssigned {
		return events.Errorf(events.CodeAlreadyAssigned, "offerId", "job %q was accepted by another worker", j.JobID)
	}
	if _, err := o.status().Next(lifecycle.OfferAccept); err != nil {
		return err
	}
	if !e.now.Before(o.ExpiresAt) {
		// The offer timed out but its timer has not fired yet (timers fire late): it is
		// expired all the same. The next Tick expires it and moves the job on.
		return &lifecycle.TransitionError{Entity: "offer", From: string(lifecycle.OfferExpired), Action: string(lifecycle.OfferAccept), Err: events.ErrOfferExpired}
	}
	// An issued offer belongs to a queued job: the engine revokes or ends every
	// outstanding offer when the job leaves queued.
	next, err := j.status().Next(lifecycle.JobAssign)
	if err != nil {
		return err
	}
	w := e.workers[o.WorkerID]
	o.AssignmentID = e.newID()
	e.end(o, lifecycle.OfferAccepted, events.TypeOfferAccepted, "")
	e.dequeue(j)
	j.Status = string(next)
	j.Cost = o.CapacityCost
	j.Assignment = &events.Assignment{AssignmentID: o.AssignmentID, WorkerID: w.WorkerID, OfferID: o.OfferID, AssignedAt: e.now}
	w.Loads = append(w.Loads, Load{JobID: j.JobID, ChannelID: j.ChannelID, Cost: o.CapacityCost})
	w.LastAssignedAt = timePtr(e.now)
	e.rates.record(j.QueueID, e.now)
	e.refresh(w)
	e.dirtyWrk[w.WorkerID] = true
	e.revokeOffers(j, events.RevokedJobAssigned)
	e.emitJob(j, events.TypeJobAssigned)
	e.res.Reply = &events.CommandResult{JobID: j.JobID, OfferID: o.OfferID, WorkerID: w.WorkerID,
		AssignmentID: o.AssignmentID, Status: j.Status}
	return nil
}

func (e *Engine) declineOffer(_ Command, d *events.OfferDecline) error {
	j, o, err := e.answeredOffer(d.JobID, d.OfferID, d.WorkerID)
	if err != nil {
		return err
	}
	if o.status() == lifecycle.OfferDeclined {
		e.res.Reply = &events.CommandResult{JobID: j.JobID, OfferID: o.OfferID, WorkerID: o.WorkerID, Status: j.Status, Duplicate: true}
		return nil
	}
	if _, err := o.status().Next(lifecycle.OfferDecline); err != nil {
		return err
	}
	w := e.workers[o.WorkerID]
	dec := Decline{Epoch: w.Epoch}
	if d.RetryOfferAt != nil {
		at := d.RetryOfferAt.UTC()
		dec.RetryAt = &at
		o.RetryOfferAt = &at
		if at.After(e.now) {
			e.schedule(at, timerRetryOffer, j.JobID)
		}
	}
	if j.Declined == nil {
		j.Declined = map[string]Decline{}
	}
	j.Declined[w.WorkerID] = dec
	e.end(o, lifecycle.OfferDeclined, events.TypeOfferDeclined, "")
	e.res.Reply = &events.CommandResult{JobID: j.JobID, OfferID: o.OfferID, WorkerID: o.WorkerID, Status: j.Status}
	return nil
}
