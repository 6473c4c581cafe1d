package matcher

import (
	"fmt"
	"strings"
	"time"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// whyCodes is the explain reason code of each Why: one table, read by Explain only.
var whyCodes = [...]string{
	WhyUnavailable: events.ReasonUnavailable,
	WhyLost:        events.ReasonLost,
	WhyNotInQueue:  events.ReasonNotInQueue,
	WhyMaxOffers:   events.ReasonMaxConcurrentOffers,
	WhyNoChannel:   events.ReasonNoChannel,
	WhyNoCapacity:  events.ReasonNoCapacity,
	WhyChannelFull: events.ReasonChannelFull,
	WhySelector:    events.ReasonSelector,
	WhyDeclined:    events.ReasonDeclined,
	WhyOffered:     events.ReasonOffered,
	WhyKnownWorker: events.ReasonKnownWorker,
	WhyTarget:      events.ReasonTarget,
}

// Code is the explain reason code of w ("" for WhyNone).
func (w Why) Code() string {
	if int(w) < len(whyCodes) {
		return whyCodes[w]
	}
	return ""
}

// Explain answers an explain query at time now: for a queued job, each worker of its
// queue (and any worker an id selector of the job names), the first limit by id,
// with the reason the matcher's eligibility rule (ineligible) gives for it, or what
// keeps an eligible worker from the job; for an offered or assigned job also what
// chose its workers; for any other status, that the job is not matched. maxBytes,
// when positive, bounds the answer's JSON encoding: workers are left out (counted in
// MoreWorkers, Truncated set) to fit. The read costs time linear in the workers the
// engine knows.
func (e *Engine) Explain(jobID string, limit int, now time.Time, maxBytes int) (events.Explanation, error) {
	switch {
	case limit == 0:
		limit = events.DefaultExplainWorkers
	case limit < 0 || limit > events.MaxExplainWorkers:
		return events.Explanation{}, events.Errorf(events.CodeInvalidData, "limit", "limit must be between 1 and %d (got %d)", events.MaxExplainWorkers, limit)
	}
	j, ok := e.jobs[jobID]
	if !ok {
		return events.Explanation{}, events.Errorf(events.CodeUnknownJob, "jobId", "no job %q", jobID)
	}
	x := events.Explanation{JobID: j.JobID, Status: j.Status, QueueID: j.QueueID, ChannelID: j.ChannelID, Workers: []events.WorkerExplained{}}
	status := j.status()
	holder := ""
	if j.Assignment != nil && status.HoldsCapacity() {
		holder = j.Assignment.WorkerID
	}
	if status != lifecycle.JobQueued && holder == "" {
		x.Summary = fmt.Sprintf("the job is %s: only queued jobs are matched, so it is offered to nobody", j.Status)
		return x, nil
	}

	e.now = now // the time declines are judged at, as in Apply
	d := e.distributionOf(j.QueueID)
	t := e.target(j)
	x.Distribution = &events.DistributionExplained{Mode: d.mode, MinConcurrentOffers: d.min, MaxConcurrentOffers: d.max,
		BypassSelectors: d.bypass, OffersOut: len(j.OfferIDs)}
	if t != nil && len(t.orderBy.Clauses) > 0 {
		x.Distribution.OrderBy = t.orderBy.String()
	}

	// The workers to describe, and the reason of each: every one is judged (the
	// minimum of concurrent offers counts the eligible ones), the first limit by id
	// are described.
	named := map[string]bool{}
	for _, s := range j.WorkerSelectors {
		if id, ok := s.Value.(string); ok && s.Key == "id" && s.Operator == events.OpEqual {
			named[id] = true
		}
	}
	type judged struct {
		w *Worker
		r Reason
	}
	var all []judged
	eligible := 0
	for _, w := range e.workers {
		if !w.inQueue(j.QueueID) && !named[w.WorkerID] {
			continue
		}
		r := e.ineligible(j, w, t, d.bypass)
		if r.Why == WhyNone {
			eligible++
		}
		all = append(all, judged{w, r})
	}

	switch {
	case holder != "":
		x.Summary = fmt.Sprintf("the job is %s to worker %s: it is no longer matched", j.Status, holder)
		if w := e.workers[holder]; w != nil {
			x.Chosen = append(x.Chosen, e.chosen(j, w, t, d, "", j.Assignment.AssignmentID))
		}
	case len(j.OfferIDs) > 0:
		var to []string
		for _, id := range j.OfferIDs {
			if o := e.offers[id]; o != nil {
				to = append(to, o.WorkerID)
				if w := e.workers[o.WorkerID]; w != nil {
					x.Chosen = append(x.Chosen, e.chosen(j, w, t, d, o.OfferID, ""))
				}
			}
		}
		x.Summary = fmt.Sprintf("the job is offered to %s (%d of at most %d offers at once)", strings.Join(to, ", "), len(j.OfferIDs), d.max)
	case eligible == 0:
		x.Summary = fmt.Sprintf("the job waits in queue %s: no worker can take it now (see each worker's reason)", j.QueueID)
	case eligible < d.min:
		x.Summary = fmt.Sprintf("the job waits in queue %s: %d workers can take it, and the queue first offers a job to at least %d at once (minConcurrentOffers)", j.QueueID, eligible, d.min)
	default:
		x.Summary = fmt.Sprintf("the job waits in queue %s: %d workers can take it and will be offered it at the next match", j.QueueID, eligible)
	}

	room := -1
	if maxBytes > 0 {
		room = maxBytes - len(mustJSON(x)) - len(`,"moreWorkers":,"truncated":true`) - 10
		if room < 0 {
			return events.Explanation{}, events.Errorf(events.CodeInternal, "", "the explanation of job %q alone does not fit in %d bytes", jobID, maxBytes)
		}
	}
	inOrder(all, func(a, b judged) bool { return a.w.WorkerID < b.w.WorkerID }, func(it judged) bool {
		if len(x.Workers) == limit {
			return false
		}
		we := e.explainWorker(j, it.w, it.r, holder, eligible, d)
		if room >= 0 {
			n := len(mustJSON(we))
			if len(x.Workers) > 0 {
				n++
			}
			if n > room {
				x.Truncated = true
				return false
			}
			room -= n
		}
		x.Workers = append(x.Workers, we)
		return true
	})
	x.MoreWorkers = len(all) - len(x.Workers)
	return x, nil
}

// explainWorker turns a worker's reason into the answer: the code, the values the
// rule compared, and a sentence.
func (e *Engine) explainWorker(j *Job, w *Worker, r Reason, holder string, eligible int, d distribution) events.WorkerExplained {
	we := events.WorkerExplained{WorkerID: w.WorkerID, Reason: r.Why.Code()}
	if holder == w.WorkerID { // it holds the job's capacity: the rule says no room
		we.Reason, we.Message = events.ReasonAssigned, fmt.Sprintf("the job is %s to it", j.Status)
		return we
	}
	switch r.Why {
	case WhyNone:
		switch {
		case holder != "":
			we.Reason, we.Message = events.ReasonEligible, fmt.Sprintf("it could take the job now, but the job is %s to %s", j.Status, holder)
		case len(j.OfferIDs) >= d.max:
			we.Reason, we.Message = events.ReasonJobOffersFull, fmt.Sprintf("it could take the job, but the job has its %d offers out (maxConcurrentOffers %d)", len(j.OfferIDs), d.max)
		case len(j.OfferIDs) == 0 && eligible < d.min:
			we.Reason, we.Message = events.ReasonMinOffers, fmt.Sprintf("it could take the job, but only %d workers can, and the queue first offers a job to at least %d at once", eligible, d.min)
		default:
			we.Reason, we.Message = events.ReasonWouldBeOffered, "nothing stops it: it would be offered the job"
		}
	case WhyUnavailable:
		we.Activity = w.Activity
		we.Message = fmt.Sprintf("it is unavailable: its activity %q takes no offers", w.Activity)
	case WhyLost:
		we.Message = "its presence is lost: it missed its heartbeats"
		if w.PresenceChangedAt != nil {
			we.Message += " (since " + w.PresenceChangedAt.UTC().Format(time.RFC3339) + ")"
		}
	case WhyNotInQueue:
		we.Message = fmt.Sprintf("it does not serve queue %s (its queues: %s)", j.QueueID, strings.Join(w.Queues, ", "))
	case WhyMaxOffers:
		we.Capacity = &events.CapacityMiss{Used: r.Used, Limit: r.Limit}
		we.OutrankedBy = outranking(w, "")
		we.Message = fmt.Sprintf("it has %d offers out, its maxConcurrentOffers", r.Used)
	case WhyNoChannel:
		we.Message = fmt.Sprintf("it does not serve channel %s", j.ChannelID)
	case WhyNoCapacity:
		we.Capacity = &events.CapacityMiss{ChannelID: j.ChannelID, Cost: r.Cost, Used: r.Used, Limit: r.Limit}
		we.OutrankedBy = outranking(w, j.ChannelID)
		we.Message = fmt.Sprintf("no capacity: %d of %d used, and the job costs %d on %s", r.Used, r.Limit, r.Cost, j.ChannelID)
	case WhyChannelFull:
		we.Capacity = &events.CapacityMiss{ChannelID: j.ChannelID, Cost: r.Cost, Used: r.Used, Limit: r.Limit}
		we.OutrankedBy = outranking(w, j.ChannelID)
		we.Message = fmt.Sprintf("channel %s is full: %d of at most %d jobs", j.ChannelID, r.Used, r.Limit)
	case WhySelector:
		s := j.WorkerSelectors[r.Selector]
		miss := &events.SelectorMiss{Key: s.Key, Operator: s.Operator, Wanted: s.Value}
		if s.Key == "id" {
			miss.Actual = w.WorkerID
		} else if v, ok := w.Labels[s.Key]; ok {
			miss.Actual = v
		}
		we.Selector = miss
		if miss.Actual == nil {
			we.Message = fmt.Sprintf("selector %s %s %v fails: it has no label %s", s.Key, s.Operator, s.Value, s.Key)
		} else {
			we.Message = fmt.Sprintf("selector %s %s %v fails: its %s is %v", s.Key, s.Operator, s.Value, s.Key, miss.Actual)
		}
	case WhyDeclined:
		we.DeclinedUntil = r.Until
		if r.Until != nil {
			we.Message = "it declined the job; it may be offered it again from " + r.Until.UTC().Format(time.RFC3339)
		} else {
			we.Message = "it declined the job: it is not offered it again unless it registers again"
		}
	case WhyOffered:
		we.Message = "it holds an offer for the job"
		for _, id := range j.OfferIDs {
			if o := e.offers[id]; o != nil && o.WorkerID == w.WorkerID {
				we.Message = "it holds offer " + o.OfferID + " for the job"
			}
		}
	case WhyKnownWorker:
		we.Message = "the job's workflow target routes it to its known worker, another one"
	case WhyTarget:
		we.Message = "the job's workflow target expression does not hold for it"
		if t := e.target(j); t != nil {
			we.Message = fmt.Sprintf("the job's workflow target expression %q does not hold for it", t.spec.Expression)
		}
	}
	if we.OutrankedBy != "" {
		we.Message += "; outranked by job " + we.OutrankedBy + ", offered to it first"
	}
	return we
}

// outranking is a job whose outstanding offer to w takes the room j would need: one
// on channel ch first (any channel when ch is ""), "" when only held jobs take it.
func outranking(w *Worker, ch string) string {
	other := ""
	for _, l := range w.Loads {
		if l.OfferID == "" {
			continue
		}
		if ch == "" || l.ChannelID == ch {
			return l.JobID
		}
		if other == "" {
			other = l.JobID
		}
	}
	return other
}

// chosen says what put w first for j: the distribution's values for it, now.
func (e *Engine) chosen(j *Job, w *Worker, t *wfTarget, d distribution, offerID, assignmentID string) events.ChosenWorker {
	c := events.ChosenWorker{WorkerID: w.WorkerID, OfferID: offerID, AssignmentID: assignmentID,
		LoadRatio: w.loadRatio(), IdleSince: w.idleSince(), ExpiryRank: j.expiryRank(w.WorkerID)}
	var why []string
	if t != nil && len(t.orderBy.Clauses) > 0 {
		for i, k := range t.orderBy.keys(w) {
			v := events.OrderValue{Clause: OrderBy{Clauses: t.orderBy.Clauses[i : i+1]}.String()}
			if k.state == attrInt {
				n := k.n
				v.Value = &n
				why = append(why, fmt.Sprintf("%s = %d", v.Clause, n))
			} else {
				why = append(why, v.Clause+" (no integer value)")
			}
			c.OrderBy = append(c.OrderBy, v)
		}
		why = []string{"the workflow target's order_by: " + strings.Join(why, ", ")}
	} else {
		switch d.mode {
		case events.ModeBestWorker:
			s := score(j, w, d.scoring)
			c.Score = &s
			why = append(why, fmt.Sprintf("bestWorker: score %g of at most %g", s, topScore(j, d.scoring)))
		case events.ModeRoundRobin:
			why = append(why, "roundRobin: the next worker by id after the one offered last")
		default:
			why = append(why, "longestIdle: the lowest load ratio, then the longest idle")
		}
	}
	why = append(why, fmt.Sprintf("load ratio %g, idle since %s", c.LoadRatio, c.IdleSince.UTC().Format(time.RFC3339)))
	if c.ExpiryRank > 0 {
		why = append(why, "it let an earlier offer for the job expire, so it came after the others")
	}
	if assignmentID != "" {
		why = append(why, "it accepted the offer")
	}
	c.Message = strings.Join(why, "; ")
	return c
}
