package matcher

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// The list queries read what the engine holds a page at a time. Each list has a total
// order (jobs: created at, then job id; workers and queues: id; policies: kind, then
// id) and a page starts after a cursor, the key of the last item of the previous page.
// A cursor names a place in the order, not an item, so paging is stable while items
// come and go: an item that still exists is listed once, at its place. A read costs
// time linear in what it filters (every job, worker or policy the engine holds), plus
// a logarithm per item returned (a heap, not a sort: see inOrder).

// listKey is an item's place in its list's order: at (jobs only), then the ids.
type listKey struct {
	at  time.Time
	ids []string
}

func (a listKey) less(b listKey) bool {
	if c := a.at.Compare(b.at); c != 0 {
		return c < 0
	}
	return slices.Compare(a.ids, b.ids) < 0
}

// Cursor prefixes: a cursor of one list is refused by another.
const (
	cursorJobs     = "j"
	cursorWorkers  = "w"
	cursorQueues   = "q"
	cursorPolicies = "p"
)

// encodeCursor renders a key as an opaque cursor: base64url of the list's prefix, the
// time in Unix nanoseconds (jobs) and the ids, separated by '/' (which no id holds).
func encodeCursor(list string, k listKey) string {
	parts := []string{list}
	if list == cursorJobs {
		parts = append(parts, strconv.FormatInt(k.at.UnixNano(), 10))
	}
	parts = append(parts, k.ids...)
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, "/")))
}

// decodeCursor reads a cursor of list with n ids back into a key; "" is the start.
func decodeCursor(list, cursor string, n int) (*listKey, error) {
	if cursor == "" {
		return nil, nil
	}
	bad := events.Errorf(events.CodeInvalidData, "after", "after: %q is not a cursor of this list (send the previous answer's next)", clip(cursor))
	if len(cursor) > events.MaxCursorBytes {
		return nil, events.Errorf(events.CodeInvalidData, "after", "after: a cursor is at most %d bytes (got %d)", events.MaxCursorBytes, len(cursor))
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, bad
	}
	parts := strings.Split(string(raw), "/")
	if parts[0] != list {
		return nil, bad
	}
	parts = parts[1:]
	k := &listKey{}
	if list == cursorJobs {
		if len(parts) == 0 {
			return nil, bad
		}
		ns, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			return nil, bad
		}
		k.at, parts = time.Unix(0, ns), parts[1:]
	}
	if len(parts) != n {
		return nil, bad
	}
	for _, id := range parts {
		if !events.ValidID(id) {
			return nil, bad
		}
	}
	k.ids = parts
	return k, nil
}

// clip shortens a client's string for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// listLimit is the page size a query asks for: the default when 0, else 1 to
// events.MaxListLimit.
func listLimit(n int) (int, error) {
	if n == 0 {
		return events.DefaultListLimit, nil
	}
	if n < 0 || n > events.MaxListLimit {
		return 0, events.Errorf(events.CodeInvalidData, "limit", "limit must be between 1 and %d (got %d)", events.MaxListLimit, n)
	}
	return n, nil
}

// checkFilterID checks an optional id filter.
func checkFilterID(field, id string) error {
	if id == "" {
		return nil
	}
	return events.CheckID(field, id)
}

// page takes up to limit items after the cursor, in order, while their JSON encodings
// fit in maxBytes with the answer around them (base: the answer's bytes without its
// items and cursor; maxBytes <= 0 is no bound). next is the cursor of the last item
// taken when more remain. An answer always holds at least one item when one remains:
// if even that does not fit, it is an error.
func page[S, T any](items []S, keyOf func(S) listKey, after *listKey, list string, limit, maxBytes, base int,
	item func(S) T) (out []T, next string, err error) {
	if after != nil {
		kept := items[:0:0]
		for _, s := range items {
			if after.less(keyOf(s)) {
				kept = append(kept, s)
			}
		}
		items = kept
	}
	out = []T{}
	bounded, room := maxBytes > 0, 0
	if bounded {
		// the cursor's worst case: base64 of the prefix, a time and the ids
		room = maxBytes - base - len(`,"next":""`) - base64.RawURLEncoding.EncodedLen(2+20+2*(events.MaxIDBytes+1))
	}
	var last listKey
	more := false
	inOrder(items, func(a, b S) bool { return keyOf(a).less(keyOf(b)) }, func(s S) bool {
		if len(out) == limit {
			more = true
			return false
		}
		v := item(s)
		if bounded {
			n := len(mustJSON(v))
			if len(out) > 0 {
				n++ // the comma
			}
			if n > room {
				if len(out) == 0 {
					err = events.Errorf(events.CodeInternal, "", "one item is %d bytes encoded; the answer must fit in %d", n, maxBytes)
				}
				more = true
				return false
			}
			room -= n
		}
		out = append(out, v)
		last = keyOf(s)
		return true
	})
	if err != nil {
		return nil, "", err
	}
	if more {
		next = encodeCursor(list, last)
	}
	return out, next, nil
}

// ListJobs answers a jobs query at time now: the jobs the engine holds (live, and
// ended within the retention), oldest created first, ties by job id, each as the job
// query answers it. maxBytes, when positive, bounds the answer's JSON encoding.
func (e *Engine) ListJobs(q events.QueryJobs, now time.Time, maxBytes int) (events.JobList, error) {
	limit, err := listLimit(q.Limit)
	if err != nil {
		return events.JobList{}, err
	}
	if q.Status != "" && !slices.Contains(lifecycle.JobStatuses(), lifecycle.JobStatus(q.Status)) {
		return events.JobList{}, events.Errorf(events.CodeInvalidData, "status", "status %q is not one of %v", clip(q.Status), lifecycle.JobStatuses())
	}
	if err := checkFilterID("queueId", q.QueueID); err != nil {
		return events.JobList{}, err
	}
	if err := checkFilterID("workerId", q.WorkerID); err != nil {
		return events.JobList{}, err
	}
	after, err := decodeCursor(cursorJobs, q.After, 1)
	if err != nil {
		return events.JobList{}, err
	}
	var jobs []*Job
	for _, j := range e.jobs {
		if (q.Status == "" || j.Status == q.Status) && (q.QueueID == "" || j.QueueID == q.QueueID) &&
			(q.WorkerID == "" || (j.Assignment != nil && j.Assignment.WorkerID == q.WorkerID)) {
			jobs = append(jobs, j)
		}
	}
	key := func(j *Job) listKey { return listKey{at: j.CreatedAt, ids: []string{j.JobID}} }
	list, next, err := page(jobs, key, after, cursorJobs, limit, maxBytes, len(`{"jobs":[]}`), func(j *Job) events.JobInfo {
		info, _ := e.JobInfo(j.JobID, now) // j is held: no error
		return info
	})
	return events.JobList{Jobs: list, Next: next}, err
}

// ListWorkers answers a workers query: the workers the engine knows (deregistered
// ones until they are forgotten), by worker id, each with its load.
func (e *Engine) ListWorkers(q events.QueryWorkers, maxBytes int) (events.WorkerList, error) {
	limit, err := listLimit(q.Limit)
	if err != nil {
		return events.WorkerList{}, err
	}
	if err := checkFilterID("queueId", q.QueueID); err != nil {
		return events.WorkerList{}, err
	}
	if q.Activity != "" {
		if err := events.CheckID("activity", q.Activity); err != nil {
			return events.WorkerList{}, err
		}
		if _, ok := e.activity(q.Activity); !ok {
			return events.WorkerList{}, events.Errorf(events.CodeInvalidData, "activity", "no activity %q (built in: %v; others are policies of kind activity)", q.Activity, events.BuiltinActivities())
		}
	}
	after, err := decodeCursor(cursorWorkers, q.After, 1)
	if err != nil {
		return events.WorkerList{}, err
	}
	var ws []*Worker
	for _, w := range e.workers {
		if (q.QueueID == "" || w.inQueue(q.QueueID)) && (q.Activity == "" || w.Activity == q.Activity) {
			ws = append(ws, w)
		}
	}
	key := func(w *Worker) listKey { return listKey{ids: []string{w.WorkerID}} }
	list, next, err := page(ws, key, after, cursorWorkers, limit, maxBytes, len(`{"workers":[]}`), (*Worker).summary)
	return events.WorkerList{Workers: list, Next: next}, err
}

// summary is w as a worker list shows it.
func (w *Worker) summary() events.WorkerSummary {
	s := events.WorkerSummary{Worker: w.snapshot(), Channels: make([]events.ChannelLoad, len(w.Channels))}
	s.OutstandingOffers, s.AssignedJobs = len(s.Worker.OfferIDs), len(s.Worker.AssignedJobIDs)
	s.Worker.OfferIDs, s.Worker.AssignedJobIDs = nil, nil
	for i, c := range w.Channels {
		s.Channels[i].ChannelID = c.ChannelID
		for _, l := range w.Loads {
			if l.ChannelID != c.ChannelID {
				continue
			}
			if l.OfferID != "" {
				s.Channels[i].Offers++
			} else {
				s.Channels[i].Jobs++
			}
			s.Channels[i].UsedCapacity += l.Cost
		}
	}
	return s
}

// ListQueues answers a queues query at time now: every queue the engine knows of (it
// has a queue policy, a queued job, or a worker, deregistered ones included), by id,
// each as the queue query answers it.
func (e *Engine) ListQueues(q events.QueryQueues, now time.Time, maxBytes int) (events.QueueList, error) {
	limit, err := listLimit(q.Limit)
	if err != nil {
		return events.QueueList{}, err
	}
	after, err := decodeCursor(cursorQueues, q.After, 1)
	if err != nil {
		return events.QueueList{}, err
	}
	ids := map[string]bool{}
	for id := range e.queues {
		ids[id] = true
	}
	for id := range e.index.activities.perQueue {
		ids[id] = true
	}
	for _, p := range e.policies {
		if p.Kind == events.KindQueue && !p.Deleted {
			ids[p.ID] = true
		}
	}
	all := make([]string, 0, len(ids))
	for id := range ids {
		all = append(all, id)
	}
	key := func(id string) listKey { return listKey{ids: []string{id}} }
	list, next, err := page(all, key, after, cursorQueues, limit, maxBytes, len(`{"queues":[]}`), func(id string) events.QueueInfo {
		return e.QueueInfo(id, now)
	})
	return events.QueueList{Queues: list, Next: next}, err
}

// ListPolicies answers a policies query: the stored policies (of one kind, when it
// names one), by kind then id.
func (e *Engine) ListPolicies(q events.QueryPolicies, maxBytes int) (events.PolicyList, error) {
	limit, err := listLimit(q.Limit)
	if err != nil {
		return events.PolicyList{}, err
	}
	if q.Kind != "" && !slices.Contains(events.PolicyKinds(), q.Kind) {
		return events.PolicyList{}, events.Errorf(events.CodeInvalidData, "kind", "kind %q is not one of %v", clip(string(q.Kind)), events.PolicyKinds())
	}
	after, err := decodeCursor(cursorPolicies, q.After, 2)
	if err != nil {
		return events.PolicyList{}, err
	}
	var ps []*policy
	for _, p := range e.policies {
		if !p.Deleted && (q.Kind == "" || p.Kind == q.Kind) {
			ps = append(ps, p)
		}
	}
	key := func(p *policy) listKey { return listKey{ids: []string{string(p.Kind), p.ID}} }
	list, next, err := page(ps, key, after, cursorPolicies, limit, maxBytes, len(`{"policies":[]}`), (*policy).info)
	return events.PolicyList{Policies: list, Next: next}, err
}

// PolicyInfo answers a policy query: the stored policy, or unknown_policy.
func (e *Engine) PolicyInfo(kind events.PolicyKind, id string) (events.PolicyInfo, error) {
	if !slices.Contains(events.PolicyKinds(), kind) {
		return events.PolicyInfo{}, events.Errorf(events.CodeInvalidData, "kind", "kind %q is not one of %v", clip(string(kind)), events.PolicyKinds())
	}
	if err := events.CheckID("id", id); err != nil {
		return events.PolicyInfo{}, err
	}
	p := e.livePolicy(kind, id)
	if p == nil {
		return events.PolicyInfo{}, events.Errorf(events.CodeUnknownPolicy, "id", "no %s policy %q", kind, id)
	}
	return p.info(), nil
}

func (p *policy) info() events.PolicyInfo {
	return events.PolicyInfo{Kind: p.Kind, ID: p.ID, Revision: p.Revision, Spec: p.Spec, UpdatedAt: p.UpdatedAt}
}
