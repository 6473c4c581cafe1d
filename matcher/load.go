package matcher

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/patchbay/patchbay/lifecycle"
)

// State is the persisted state: KV values by key, per bucket.
type State struct {
	Jobs    map[string][]byte
	Workers map[string][]byte
	Offers  map[string][]byte
	// Policies by "<kind>.<id>".
	Policies map[string][]byte
	// Queues is the queues bucket; Load reads the round-robin cursors and the enqueue
	// sequence (SeqKey) from it (the queues themselves are rebuilt from the jobs).
	Queues map[string][]byte
}

// IsQueueStateKey says whether key is one Load reads from the queues bucket: a
// round-robin cursor or the enqueue sequence. Earlier versions also kept a key per
// queued job there, which nothing reads (the queues are rebuilt from the jobs).
func IsQueueStateKey(key string) bool {
	return key == SeqKey || strings.HasPrefix(key, CursorKey(""))
}

// Load replaces the engine's state with a persisted one and rebuilds the indexes
// (queues in dispatch order, offers by job and worker) and the timers (offer expiry,
// retry-offer-at, close-at, forgetting of ended jobs and inactive workers).
func (e *Engine) Load(s State) error {
	e.reset()
	for k, v := range s.Policies {
		p, err := loadPolicy(v)
		if err != nil {
			return fmt.Errorf("load policy %q: %w", k, err)
		}
		e.policies[policyKey(p.Kind, p.ID)] = p
	}
	for k, v := range s.Queues {
		if q, ok := strings.CutPrefix(k, CursorKey("")); ok {
			e.cursors[q] = string(v)
		}
		if k == SeqKey {
			n, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil {
				return fmt.Errorf("load %s: %w", SeqKey, err)
			}
			e.seq, e.seqStored = n, n
		}
	}
	for k, v := range s.Jobs {
		j := &Job{}
		if err := json.Unmarshal(v, j); err != nil {
			return fmt.Errorf("load job %q: %w", k, err)
		}
		e.jobs[j.JobID] = j
		if j.Seq > e.seq {
			e.seq = j.Seq
		}
		for _, d := range j.Declined {
			e.epoch = max(e.epoch, d.Epoch)
		}
	}
	for k, v := range s.Workers {
		w := &Worker{}
		if err := json.Unmarshal(v, w); err != nil {
			return fmt.Errorf("load worker %q: %w", k, err)
		}
		if a, ok := e.activity(w.Activity); !ok || a != w.AvailableForOffers {
			// stored before activities existed (or edited by hand): the flag decides
			w.Activity = activityOfFlag(w.AvailableForOffers)
		}
		e.workers[w.WorkerID] = w
		e.index.reindex(w)
		e.epoch = max(e.epoch, w.Epoch)
		if w.inactive() {
			e.schedule(e.workerForgetAt(w), timerForgetWorker, w.WorkerID)
		}
	}
	for k, v := range s.Offers {
		o := &Offer{}
		if err := json.Unmarshal(v, o); err != nil {
			return fmt.Errorf("load offer %q: %w", k, err)
		}
		e.addOffer(o)
		if o.status() == lifecycle.OfferIssued {
			e.schedule(o.ExpiresAt, timerOfferExpiry, o.OfferID)
		}
	}
	ids := make([]string, 0, len(e.jobs))
	for id := range e.jobs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		j := e.jobs[id]
		switch j.status() {
		case lifecycle.JobQueued:
			e.queue(j.QueueID).insert(j)
			e.scheduleQueuedTimers(j) // e.now is zero (reset): every retry time is in the future
		case lifecycle.JobScheduled:
			if j.MatchingMode != nil && j.MatchingMode.ScheduleAt != nil {
				e.schedule(*j.MatchingMode.ScheduleAt, timerActivate, j.JobID)
			}
		case lifecycle.JobCompleted:
			if j.ScheduledCloseAt != nil {
				e.schedule(*j.ScheduledCloseAt, timerCloseAt, j.JobID)
			}
		}
		if j.status().Terminal() {
			e.schedule(e.jobForgetAt(j), timerForgetJob, j.JobID)
		}
	}
	return nil
}

// Resume fires the timers that came due while the router was down and matches every
// queue once. The router calls it after Load. It returns nil when nothing changed.
func (e *Engine) Resume(now time.Time) *Result {
	e.rates = rates{since: now.UTC()}
	e.begin(now)
	e.fireDue()
	for q := range e.queues {
		e.touched[q] = true
	}
	return e.finishQuiet()
}
