package matcher

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/patchbay/patchbay/events"
)

// Activities (docs/design.md, "Activities"). A worker is always in one activity
// (TaskRouter's): a built-in one (events.BuiltinActivities) or one defined by a policy
// of kind activity. Each activity says whether its workers take offers, and a worker's
// availableForOffers is always its activity's flag: setActivity is the one place
// either changes. The flag of an activity that has workers never changes (a put that
// would change it is refused, like the delete of an activity in use), so no policy
// change moves workers in or out of offers behind their back.

// activity reports whether the activity id exists (built in, or a live activity
// policy), and whether its workers take offers.
func (e *Engine) activity(id string) (available, ok bool) {
	if a, ok := events.BuiltinActivityAvailable(id); ok {
		return a, true
	}
	if p := e.livePolicy(events.KindActivity, id); p != nil {
		return p.act.Available, true
	}
	return false, false
}

// nextActivity is the activity a worker command leaves w in, and whether it takes
// offers (w is nil for a worker registering for the first time):
//
//   - activity given: that activity, which must exist; availableForOffers, if also
//     given, must be its flag;
//   - availableForOffers alone: available (true) or offline (false), except that an
//     update leaves a worker whose activity already has that flag where it is;
//   - neither: a register is available (it replaces the whole worker, its activity
//     included), an update changes nothing.
func (e *Engine) nextActivity(w *Worker, d *events.WorkerRegister, register bool) (string, bool, error) {
	if d.Activity != "" {
		if err := events.CheckID("activity", d.Activity); err != nil {
			return "", false, err
		}
		available, ok := e.activity(d.Activity)
		if !ok {
			return "", false, events.Errorf(events.CodeInvalidData, "activity",
				"no activity %q: the built-in ones are %v; define others with a policy of kind %s", d.Activity, events.BuiltinActivities(), events.KindActivity)
		}
		if d.AvailableForOffers != nil && *d.AvailableForOffers != available {
			return "", false, events.Errorf(events.CodeInvalidData, "availableForOffers",
				"availableForOffers %t contradicts activity %q, whose workers %s offers (send one of the two)", *d.AvailableForOffers, d.Activity, takesOrNot(available))
		}
		return d.Activity, available, nil
	}
	switch {
	case d.AvailableForOffers != nil:
		available := *d.AvailableForOffers
		if !register && w.AvailableForOffers == available {
			return w.Activity, available, nil
		}
		return activityOfFlag(available), available, nil
	case register:
		return events.ActivityAvailable, true, nil
	default:
		return w.Activity, w.AvailableForOffers, nil
	}
}

func takesOrNot(available bool) string {
	if available {
		return "take"
	}
	return "do not take"
}

// setActivity puts w in activity act, whose workers take offers or not: the one place
// a worker's activity and availableForOffers change, so that they always agree.
// Starting to take offers starts a new registration epoch (the worker's declines are
// forgotten); stopping revokes its outstanding offers.
func (e *Engine) setActivity(w *Worker, act string, available bool) {
	was := w.AvailableForOffers
	w.Activity, w.AvailableForOffers, w.attrs = act, available, nil
	switch {
	case available && !was:
		w.Epoch = e.nextEpoch()
	case !available && was:
		for _, l := range append([]Load(nil), w.Loads...) {
			if l.OfferID != "" {
				e.revoke(e.offers[l.OfferID], events.RevokedWorkerDeregistered)
			}
		}
	}
}

// activityOfFlag is the activity availableForOffers alone implies: available or
// offline. It is also the activity of a worker stored before activities existed (or
// whose stored activity does not exist or disagrees with its flag, after a hand edit).
func activityOfFlag(available bool) string {
	if available {
		return events.ActivityAvailable
	}
	return events.ActivityOffline
}

// validateActivitySpec checks what decoding cannot: available is required (a missing
// flag would silently mean "takes no offers").
func validateActivitySpec(raw json.RawMessage) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return events.Errorf(events.CodeInvalidData, "spec", "spec is not an %s: %v", events.KindActivity, err)
	}
	if v, ok := fields["available"]; !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return events.Errorf(events.CodeInvalidData, "spec/available", "spec/available is required: whether workers in the activity take offers")
	}
	return nil
}

// checkActivityPut refuses what a put of an activity may not do: redefine a built-in
// activity, or change the flag of an activity that workers are in.
func (e *Engine) checkActivityPut(id string, p, cur *policy) error {
	if _, builtin := events.BuiltinActivityAvailable(id); builtin {
		return events.Errorf(events.CodeInvalidData, "id", "activity %q is built in: it cannot be redefined (the built-in activities are %v)", id, events.BuiltinActivities())
	}
	if cur == nil || cur.Deleted || cur.act.Available == p.act.Available {
		return nil
	}
	if w := e.index.activities.someWorker(id); w != "" {
		return events.Errorf(events.CodePolicyInUse, "spec/available",
			"activity %q is the activity of worker %q: whether it takes offers can change only while no worker is in it", id, w)
	}
	return nil
}

// checkActivityDelete refuses the delete of a built-in activity or of one that
// workers are in.
func (e *Engine) checkActivityDelete(id string) error {
	if _, builtin := events.BuiltinActivityAvailable(id); builtin {
		return events.Errorf(events.CodeInvalidData, "id", "activity %q is built in: it cannot be deleted", id)
	}
	if w := e.index.activities.someWorker(id); w != "" {
		return events.Errorf(events.CodePolicyInUse, "id", "activity %q is the activity of worker %q", id, w)
	}
	return nil
}

// activityIndex counts the workers the engine knows (offline ones included, until
// they are forgotten) by activity: the workers in each activity (so that an activity
// in use is found without a scan), and per queue how many of its workers are in each
// (QueueInfo.WorkersByActivity). It is kept up to date by workerIndex.reindex, which
// every change of a worker's queues or activity goes through; each update costs
// O(the worker's queues), and a count is read in O(activities of the queue).
type activityIndex struct {
	members  map[string]map[*Worker]struct{} // activity -> its workers
	perQueue map[string]map[string]int       // queue -> activity -> workers (none is 0)
	counted  map[*Worker]activityEntry       // what each worker is counted under
}

type activityEntry struct {
	activity string
	queues   []string
}

func newActivityIndex() activityIndex {
	return activityIndex{
		members:  map[string]map[*Worker]struct{}{},
		perQueue: map[string]map[string]int{},
		counted:  map[*Worker]activityEntry{},
	}
}

// count counts w under its activity and queues now.
func (x *activityIndex) count(w *Worker) {
	old, had := x.counted[w]
	if had && old.activity == w.Activity && slices.Equal(old.queues, w.Queues) {
		return
	}
	x.remove(w)
	set := x.members[w.Activity]
	if set == nil {
		set = map[*Worker]struct{}{}
		x.members[w.Activity] = set
	}
	set[w] = struct{}{}
	for _, q := range w.Queues {
		m := x.perQueue[q]
		if m == nil {
			m = map[string]int{}
			x.perQueue[q] = m
		}
		m[w.Activity]++
	}
	x.counted[w] = activityEntry{activity: w.Activity, queues: w.Queues}
}

// remove stops counting w (it was forgotten, or is counted again).
func (x *activityIndex) remove(w *Worker) {
	old, had := x.counted[w]
	if !had {
		return
	}
	delete(x.counted, w)
	if set := x.members[old.activity]; set != nil {
		delete(set, w)
		if len(set) == 0 {
			delete(x.members, old.activity)
		}
	}
	for _, q := range old.queues {
		m := x.perQueue[q]
		if m[old.activity]--; m[old.activity] <= 0 {
			delete(m, old.activity)
		}
		if len(m) == 0 {
			delete(x.perQueue, q)
		}
	}
}

// someWorker is the least worker id in activity id ("" when it has none).
func (x *activityIndex) someWorker(id string) string {
	least := ""
	for w := range x.members[id] {
		if least == "" || w.WorkerID < least {
			least = w.WorkerID
		}
	}
	return least
}

// inQueue is a copy of the queue's counts by activity (nil when it has no workers).
func (x *activityIndex) inQueue(queueID string) map[string]int {
	m := x.perQueue[queueID]
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]int, len(m))
	for a, n := range m {
		out[a] = n
	}
	return out
}
