package matcher

import (
	"sort"
	"time"

	"github.com/patchbay/patchbay/events"
)

// Worker is a worker as the engine keeps it (and as it is stored in KV).
type Worker struct {
	events.Worker
	// Epoch is the worker's registration epoch: it grows when a deregistered worker
	// registers again, which forgets its earlier declines. New epochs come from
	// Engine.nextEpoch, so a worker forgotten and registered again still starts an
	// epoch greater than any a live job's declines recorded.
	Epoch uint64 `json:"epoch"`
	// Loads are what holds the worker's capacity: outstanding offers and held jobs.
	Loads []Load `json:"loads,omitempty"`
	// InactiveSince is when the worker last became inactive (not available for
	// offers, holding nothing); the engine forgets it Retention later. Workers stored
	// before it existed use inactiveSince().
	InactiveSince *time.Time `json:"inactiveSince,omitempty"`

	// attrs is the worker as expressions see it, made on first use (exprAttrs) and
	// dropped whenever its labels or activity change.
	attrs map[string]any
}

// exprAttrs is the worker. root of the expressions evaluated against w (workflow
// target expressions, scoring rules): its labels, and "activity", its activity (which
// takes the place of a label of that name, as the implicit "id" label does for
// selectors).
func (w *Worker) exprAttrs() map[string]any {
	if w.attrs == nil {
		m := make(map[string]any, len(w.Labels)+1)
		for k, v := range w.Labels {
			m[k] = v
		}
		m[attrActivity] = w.Activity
		w.attrs = m
	}
	return w.attrs
}

// attrActivity is the key of a worker's activity in expressions: worker.activity.
const attrActivity = "activity"

// Load is one claim on a worker's capacity.
type Load struct {
	JobID     string `json:"jobId"`
	OfferID   string `json:"offerId,omitempty"` // set while it is an outstanding offer
	ChannelID string `json:"channelId"`
	Cost      int    `json:"cost"`
}

func (w *Worker) channel(id string) (events.ChannelConfig, bool) {
	for _, c := range w.Channels {
		if c.ChannelID == id {
			return c, true
		}
	}
	return events.ChannelConfig{}, false
}

func (w *Worker) used() int {
	n := 0
	for _, l := range w.Loads {
		n += l.Cost
	}
	return n
}

func (w *Worker) onChannel(id string) int {
	n := 0
	for _, l := range w.Loads {
		if l.ChannelID == id {
			n++
		}
	}
	return n
}

func (w *Worker) loadRatio() float64 {
	if w.TotalCapacity <= 0 {
		return 1
	}
	return float64(w.used()) / float64(w.TotalCapacity)
}

// fits reports whether w has room for one more job on channel ch, and at what cost.
func (w *Worker) fits(ch string) (int, bool) {
	r := w.room(ch)
	return r.Cost, r.Why == WhyNone
}

// room is the capacity rule of eligibility: whether w has room for one more job on
// channel ch (WhyNone, with the job's Cost), or why not: it does not serve ch, the
// cost does not fit in its total capacity, or ch holds its maxNumberOfJobs.
func (w *Worker) room(ch string) Reason {
	c, ok := w.channel(ch)
	if !ok {
		return Reason{Why: WhyNoChannel}
	}
	r := Reason{Cost: c.CapacityCostPerJob}
	if used := w.used(); used+c.CapacityCostPerJob > w.TotalCapacity {
		r.Why, r.Used, r.Limit = WhyNoCapacity, used, w.TotalCapacity
		return r
	}
	if c.MaxNumberOfJobs > 0 {
		if n := w.onChannel(ch); n >= c.MaxNumberOfJobs {
			r.Why, r.Used, r.Limit = WhyChannelFull, n, c.MaxNumberOfJobs
		}
	}
	return r
}

// overloaded reports whether w holds more than it may: more than its total capacity,
// more jobs on channel ch than the channel's maxNumberOfJobs, or anything on a channel
// it does not serve.
func (w *Worker) overloaded(ch string) bool {
	c, ok := w.channel(ch)
	if !ok {
		return true
	}
	return w.used() > w.TotalCapacity || (c.MaxNumberOfJobs > 0 && w.onChannel(ch) > c.MaxNumberOfJobs)
}

// offers counts the worker's outstanding offers.
func (w *Worker) offers() int {
	n := 0
	for _, l := range w.Loads {
		if l.OfferID != "" {
			n++
		}
	}
	return n
}

// hasRoom reports whether w could take one more job on any of its channels.
func (w *Worker) hasRoom() bool {
	if w.MaxConcurrentOffers > 0 && w.offers() >= w.MaxConcurrentOffers {
		return false
	}
	for _, c := range w.Channels {
		if _, ok := w.fits(c.ChannelID); ok {
			return true
		}
	}
	return false
}

// idleSince is when w last got a job, or registered.
func (w *Worker) idleSince() time.Time {
	if w.LastAssignedAt != nil {
		return *w.LastAssignedAt
	}
	return w.RegisteredAt
}

func (w *Worker) inQueue(q string) bool {
	for _, x := range w.Queues {
		if x == q {
			return true
		}
	}
	return false
}

func (w *Worker) removeLoad(jobID, offerID string) {
	for i, l := range w.Loads {
		if l.JobID == jobID && l.OfferID == offerID {
			w.Loads = append(w.Loads[:i:i], w.Loads[i+1:]...)
			return
		}
	}
}

// refreshState recomputes the derived public fields.
func (w *Worker) refreshState() {
	w.UsedCapacity = w.used()
	w.LoadRatio = w.loadRatio()
	w.OfferIDs, w.AssignedJobIDs = nil, nil
	for _, l := range w.Loads {
		if l.OfferID != "" {
			w.OfferIDs = append(w.OfferIDs, l.OfferID)
		} else {
			w.AssignedJobIDs = append(w.AssignedJobIDs, l.JobID)
		}
	}
	switch {
	case w.AvailableForOffers:
		w.State = events.WorkerActive
	case len(w.AssignedJobIDs) > 0:
		w.State = events.WorkerDraining
	default:
		w.State = events.WorkerInactive
	}
}

func (w *Worker) snapshot() events.Worker {
	s := w.Worker
	s.Labels = cloneMap(w.Labels)
	s.Queues = append([]string{}, w.Queues...)
	s.Channels = append([]events.ChannelConfig{}, w.Channels...)
	return s
}

func cloneMap[M ~map[string]any](m M) M {
	if m == nil {
		return nil
	}
	out := make(M, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// before is the longest-idle order: lowest load ratio, then longest since the last
// assignment (or registration), then worker id.
func before(a, b *Worker) bool {
	if ra, rb := a.loadRatio(), b.loadRatio(); ra != rb {
		return ra < rb
	}
	if ia, ib := a.idleSince(), b.idleSince(); !ia.Equal(ib) {
		return ia.Before(ib)
	}
	return a.WorkerID < b.WorkerID
}

func sortWorkers(ws []*Worker) { sort.Slice(ws, func(i, j int) bool { return before(ws[i], ws[j]) }) }
