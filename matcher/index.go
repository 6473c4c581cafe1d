package matcher

import "strconv"

// workerIndex finds the workers that can take a job without scanning every registered
// worker: the available workers of each queue, and among them those with a given label
// value (for the job's equality selectors, including the implicit "id" label).
type workerIndex struct {
	queue map[string]map[*Worker]struct{} // queue id -> available workers
	label map[string]map[*Worker]struct{} // labelKey(queue, key, value) -> available workers
	keys  map[*Worker][]string            // what each worker is indexed under
}

func newWorkerIndex() workerIndex {
	return workerIndex{
		queue: map[string]map[*Worker]struct{}{},
		label: map[string]map[*Worker]struct{}{},
		keys:  map[*Worker][]string{},
	}
}

// valueKey renders a label or selector value so that equal values (by Matches'
// equal) have equal keys; ok is false for values that are never equal to anything.
func valueKey(v any) (string, bool) {
	switch kindOf(v) {
	case kindString:
		return "s:" + v.(string), true
	case kindNumber:
		return "n:" + strconv.FormatFloat(toFloat(v), 'g', -1, 64), true
	case kindBool:
		return "b:" + strconv.FormatBool(v.(bool)), true
	}
	return "", false
}

func labelKey(queue, key, value string) string { return queue + "\x00" + key + "\x00" + value }

// reindex puts w where it belongs now: nowhere when it is not available for offers.
func (x *workerIndex) reindex(w *Worker) {
	for _, k := range x.keys[w] {
		if set := x.label[k]; set != nil {
			delete(set, w)
			if len(set) == 0 {
				delete(x.label, k)
			}
		} else if set := x.queue[k]; set != nil {
			delete(set, w)
		}
	}
	delete(x.keys, w)
	if !w.AvailableForOffers {
		return
	}
	var keys []string
	add := func(m map[string]map[*Worker]struct{}, k string) {
		if m[k] == nil {
			m[k] = map[*Worker]struct{}{}
		}
		m[k][w] = struct{}{}
		keys = append(keys, k)
	}
	for _, q := range w.Queues {
		add(x.queue, q)
		add(x.label, labelKey(q, "id", "s:"+w.WorkerID))
		for k, v := range w.Labels {
			if vk, ok := valueKey(v); ok {
				add(x.label, labelKey(q, k, vk))
			}
		}
	}
	x.keys[w] = keys
}

// pool is where to look for workers for j: the smallest set of the queue's available
// workers that have the value one of j's equality selectors asks for, or all of the
// queue's available workers when j has none (or the distribution bypasses selectors).
// Its order does not matter: every distribution orders workers totally (ties end on
// the worker id).
func (e *Engine) pool(j *Job, bypass bool) map[*Worker]struct{} {
	set := e.index.queue[j.QueueID]
	if !bypass {
		for _, s := range j.WorkerSelectors {
			if s.Operator != "equal" {
				continue
			}
			vk, ok := valueKey(s.Value)
			if !ok {
				return nil
			}
			sub := e.index.label[labelKey(j.QueueID, s.Key, vk)]
			if len(sub) < len(set) {
				set = sub
			}
			if len(set) == 0 {
				return nil
			}
		}
	}
	return set
}
