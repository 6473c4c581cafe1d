package matcher

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// explainOf explains job "job" and returns worker id's entry.
func explainOf(t *testing.T, h *harness, id string) (events.Explanation, events.WorkerExplained) {
	t.Helper()
	x, err := h.e.Explain("job", 0, h.now, 0)
	require.NoError(t, err)
	for _, w := range x.Workers {
		if w.WorkerID == id {
			return x, w
		}
	}
	t.Fatalf("worker %s is not in the explanation %s", id, jsonString(t, x))
	return x, events.WorkerExplained{}
}

// Each reason a worker may not be offered a job, built for real and read back two
// ways: the Reason of the one eligibility rule, and the explain answer made from it.
func TestExplainReasons(t *testing.T) {
	retry := t0.Add(time.Hour)
	tests := []struct {
		name   string
		setup  func(h *harness) // builds the state: worker "w" and job "job" in q1
		why    Why              // what ineligible says about w and the job
		reason string           // the explain code
		check  func(t *testing.T, r Reason, we events.WorkerExplained)
	}{
		{name: "unavailable", why: WhyUnavailable, reason: events.ReasonUnavailable,
			setup: func(h *harness) {
				requireOK(h.t, h.register("w", wAvailable(false)))
				requireOK(h.t, h.create("job", "q1"))
			},
			check: func(t *testing.T, _ Reason, we events.WorkerExplained) {
				require.Equal(t, events.ActivityOffline, we.Activity)
				require.Contains(t, we.Message, `activity "offline"`)
			}},
		{name: "lost", why: WhyLost, reason: events.ReasonLost,
			setup: func(h *harness) {
				requireOK(h.t, h.register("w", wHeartbeat(3)))
				h.tick(h.advance(hbTimeout))
				require.Equal(h.t, events.PresenceLost, h.worker("w").Presence)
				requireOK(h.t, h.create("job", "q1"))
			}},
		{name: "not in the queue, named by an id selector", why: WhyNotInQueue, reason: events.ReasonNotInQueue,
			setup: func(h *harness) {
				requireOK(h.t, h.register("w", wQueues("q2", "q3")))
				requireOK(h.t, h.create("job", "q1", jSelectors(sel("id", events.OpEqual, "w"))))
			},
			check: func(t *testing.T, _ Reason, we events.WorkerExplained) {
				require.Contains(t, we.Message, "its queues: q2, q3")
			}},
		{name: "max concurrent offers of the worker", why: WhyMaxOffers, reason: events.ReasonMaxConcurrentOffers,
			setup: func(h *harness) {
				requireOK(h.t, h.register("w", wCapacity(10, ch("voice", 1, 0)), func(d *events.WorkerRegister) { d.MaxConcurrentOffers = intPtr(1) }))
				offerVoice(h)
				requireOK(h.t, h.create("job", "q1"))
			},
			check: func(t *testing.T, r Reason, we events.WorkerExplained) {
				require.Equal(t, Reason{Why: WhyMaxOffers, Used: 1, Limit: 1}, r)
				require.Equal(t, &events.CapacityMiss{Used: 1, Limit: 1}, we.Capacity)
				require.Equal(t, "held", we.OutrankedBy)
			}},
		{name: "no such channel", why: WhyNoChannel, reason: events.ReasonNoChannel,
			setup: func(h *harness) {
				requireOK(h.t, h.register("w"))
				requireOK(h.t, h.create("job", "q1", jChannel("chat")))
			}},
		{name: "no capacity: an offer for an earlier job takes it", why: WhyNoCapacity, reason: events.ReasonNoCapacity,
			setup: func(h *harness) {
				requireOK(h.t, h.register("w", wCapacity(2, ch("voice", 2, 0), ch("chat", 1, 0))))
				offerChat(h)
				requireOK(h.t, h.create("job", "q1"))
			},
			check: func(t *testing.T, r Reason, we events.WorkerExplained) {
				require.Equal(t, Reason{Why: WhyNoCapacity, Cost: 2, Used: 1, Limit: 2}, r)
				require.Equal(t, &events.CapacityMiss{ChannelID: "voice", Cost: 2, Used: 1, Limit: 2}, we.Capacity)
				require.Equal(t, "held", we.OutrankedBy, "the chat offer, on another channel, is all there is")
				require.Contains(t, we.Message, "1 of 2 used, and the job costs 2 on voice; outranked by job held")
			}},
		{name: "no capacity: a held job takes it", why: WhyNoCapacity, reason: events.ReasonNoCapacity,
			setup: func(h *harness) {
				requireOK(h.t, h.register("w", wCapacity(2, ch("voice", 2, 0), ch("chat", 1, 0))))
				holdChat(h)
				requireOK(h.t, h.create("job", "q1"))
			},
			check: func(t *testing.T, _ Reason, we events.WorkerExplained) {
				require.Empty(t, we.OutrankedBy, "held, not offered")
			}},
		{name: "channel full", why: WhyChannelFull, reason: events.ReasonChannelFull,
			setup: func(h *harness) {
				requireOK(h.t, h.register("w", wCapacity(10, ch("voice", 1, 1))))
				offerVoice(h)
				requireOK(h.t, h.create("job", "q1"))
			},
			check: func(t *testing.T, r Reason, we events.WorkerExplained) {
				require.Equal(t, Reason{Why: WhyChannelFull, Cost: 1, Used: 1, Limit: 1}, r)
				require.Equal(t, "held", we.OutrankedBy)
			}},
		{name: "selector fails on a value", why: WhySelector, reason: events.ReasonSelector,
			setup: func(h *harness) {
				requireOK(h.t, h.register("w", wLabels(events.Labels{"skill": float64(3), "lang": "en"})))
				requireOK(h.t, h.create("job", "q1", jSelectors(sel("lang", events.OpEqual, "en"), sel("skill", events.OpGreaterThan, float64(3)))))
			},
			check: func(t *testing.T, r Reason, we events.WorkerExplained) {
				require.Equal(t, 1, r.Selector, "the second selector")
				require.Equal(t, &events.SelectorMiss{Key: "skill", Operator: events.OpGreaterThan, Wanted: float64(3), Actual: float64(3)}, we.Selector)
				require.Equal(t, "selector skill greaterThan 3 fails: its skill is 3", we.Message)
			}},
		{name: "selector on a missing label", why: WhySelector, reason: events.ReasonSelector,
			setup: func(h *harness) {
				requireOK(h.t, h.register("w"))
				requireOK(h.t, h.create("job", "q1", jSelectors(sel("lang", events.OpEqual, "fr"))))
			},
			check: func(t *testing.T, _ Reason, we events.WorkerExplained) {
				require.Nil(t, we.Selector.Actual)
				require.Contains(t, we.Message, "it has no label lang")
			}},
		{name: "declined until a time", why: WhyDeclined, reason: events.ReasonDeclined,
			setup: func(h *harness) {
				requireOK(h.t, h.register("w"))
				requireOK(h.t, h.create("job", "q1"))
				requireOK(h.t, h.decline("job", h.offerFor("job").OfferID, "w", &retry))
			},
			check: func(t *testing.T, r Reason, we events.WorkerExplained) {
				require.True(t, retry.Equal(*r.Until))
				require.True(t, retry.Equal(*we.DeclinedUntil))
			}},
		{name: "declined for good", why: WhyDeclined, reason: events.ReasonDeclined,
			setup: func(h *harness) {
				requireOK(h.t, h.register("w"))
				requireOK(h.t, h.create("job", "q1"))
				requireOK(h.t, h.decline("job", h.offerFor("job").OfferID, "w", nil))
			},
			check: func(t *testing.T, _ Reason, we events.WorkerExplained) {
				require.Nil(t, we.DeclinedUntil)
				require.Contains(t, we.Message, "unless it registers again")
			}},
		{name: "offered", why: WhyOffered, reason: events.ReasonOffered,
			setup: func(h *harness) {
				requireOK(h.t, h.register("w"))
				requireOK(h.t, h.create("job", "q1"))
			}},
		{name: "known worker of a workflow target", why: WhyKnownWorker, reason: events.ReasonKnownWorker,
			setup: func(h *harness) {
				requireOK(h.t, h.putPolicy(events.KindWorkflow, "wf", nil, salesWorkflow))
				requireOK(h.t, h.register("w", wQueues("vip")))
				requireOK(h.t, h.do(events.TypeJobCreated, wfJob("job", events.Labels{"vip": true, "preferredAgent": "bob"})))
			}},
		{name: "workflow target expression", why: WhyTarget, reason: events.ReasonTarget,
			setup: func(h *harness) {
				requireOK(h.t, h.putPolicy(events.KindWorkflow, "wf", nil, salesWorkflow))
				requireOK(h.t, h.register("w", wQueues("sales-gold"), wLabels(events.Labels{"specializedSubField": "boats"})))
				requireOK(h.t, h.do(events.TypeJobCreated, wfJob("job", events.Labels{"type": "Sales", "subSection": "cars"})))
			},
			check: func(t *testing.T, _ Reason, we events.WorkerExplained) {
				require.Contains(t, we.Message, "task.subSection = worker.specializedSubField")
			}},
		{name: "eligible, but the job has its offers out", why: WhyNone, reason: events.ReasonJobOffersFull,
			setup: func(h *harness) {
				requireOK(h.t, h.register("v"))
				requireOK(h.t, h.create("job", "q1"))
				require.Equal(h.t, "v", h.offeredTo("job"))
				requireOK(h.t, h.register("w"))
			}},
		{name: "eligible, but fewer than minConcurrentOffers can take it", why: WhyNone, reason: events.ReasonMinOffers,
			setup: func(h *harness) {
				requireOK(h.t, h.putPolicy(events.KindDistributionPolicy, "two", nil, `{"mode":{"kind":"longestIdle","minConcurrentOffers":2,"maxConcurrentOffers":2}}`))
				requireOK(h.t, h.putPolicy(events.KindQueue, "q1", nil, `{"distributionPolicyId":"two"}`))
				requireOK(h.t, h.register("w"))
				requireOK(h.t, h.create("job", "q1"))
			}},
		{name: "assigned to it", why: WhyNoCapacity, reason: events.ReasonAssigned,
			setup: func(h *harness) {
				requireOK(h.t, h.register("w"))
				requireOK(h.t, h.create("job", "q1"))
				h.assign("job", "w")
			}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{OfferExpiry: time.Minute})
			tt.setup(h)
			j, w := h.e.jobs["job"], h.e.workers["w"]
			h.e.now = h.now
			r := h.e.ineligible(j, w, h.e.target(j), h.e.distributionOf(j.QueueID).bypass)
			require.Equal(t, tt.why, r.Why, "%+v", r)
			_, eligible := h.e.eligible(j, w, h.e.target(j), false)
			require.Equal(t, r.Why == WhyNone, eligible, "eligible is the same rule")

			x, we := explainOf(t, h, "w")
			require.Equal(t, tt.reason, we.Reason, we.Message)
			require.NotEmpty(t, we.Message)
			if tt.check != nil {
				tt.check(t, r, we)
			}
			// The answer encodes as the schema's explanation (checked in schemas).
			_, err := json.Marshal(x)
			require.NoError(t, err)
			seen[tt.reason] = true
		})
	}
	for _, code := range events.ExplainReasons() {
		if code != events.ReasonWouldBeOffered && code != events.ReasonEligible {
			require.True(t, seen[code], "no case for %s", code)
		}
	}
}

// The job's side: who it is offered or assigned to and why, the summary, and other
// statuses.
func TestExplainJob(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: time.Minute})
	_, err := h.e.Explain("nope", 0, h.now, 0)
	require.ErrorIs(t, err, events.ErrUnknownJob)
	requireOK(t, h.create("job", "q1"))
	for _, n := range []int{-1, events.MaxExplainWorkers + 1} {
		_, err = h.e.Explain("job", n, h.now, 0)
		require.ErrorIs(t, err, events.ErrInvalidData)
	}
	x, err := h.e.Explain("job", 0, h.now, 0)
	require.NoError(t, err)
	require.Contains(t, x.Summary, "no worker can take it now")
	require.Empty(t, x.Workers)
	require.NotNil(t, x.Workers, "an empty list, not null")

	// Five workers of the queue: the first two by id are described, the rest counted.
	requireOK(t, h.register("e", wLabels(events.Labels{"k": float64(1)})))
	for _, id := range []string{"d", "c", "b", "a"} {
		requireOK(t, h.register(id, wCapacity(1, ch("chat", 1, 0))))
	}
	x, err = h.e.Explain("job", 2, h.now, 0)
	require.NoError(t, err)
	require.Equal(t, "queued", x.Status)
	require.Equal(t, []string{"a", "b"}, []string{x.Workers[0].WorkerID, x.Workers[1].WorkerID})
	require.Equal(t, events.ReasonNoChannel, x.Workers[0].Reason)
	require.Equal(t, 3, x.MoreWorkers)
	require.Len(t, x.Chosen, 1)
	require.Equal(t, "e", x.Chosen[0].WorkerID)
	require.Equal(t, h.offerFor("job").OfferID, x.Chosen[0].OfferID)
	require.Contains(t, x.Chosen[0].Message, "longestIdle")
	require.Equal(t, "the job is offered to e (1 of at most 1 offers at once)", x.Summary)
	require.Equal(t, &events.DistributionExplained{Mode: events.ModeLongestIdle, MinConcurrentOffers: 1, MaxConcurrentOffers: 1, OffersOut: 1}, x.Distribution)

	// Cut to fit: fewer workers, truncated, the rest counted.
	full, err := h.e.Explain("job", 0, h.now, 0)
	require.NoError(t, err)
	size := len(jsonString(t, full))
	cut, err := h.e.Explain("job", 0, h.now, size-10)
	require.NoError(t, err)
	require.True(t, cut.Truncated)
	require.Less(t, len(cut.Workers), 5)
	require.Equal(t, 5, len(cut.Workers)+cut.MoreWorkers)
	require.LessOrEqual(t, len(jsonString(t, cut)), size-10)

	// Assigned: the worker that took it, and what the others would say.
	aid := h.assign("job", "e")
	x, err = h.e.Explain("job", 0, h.now, 0)
	require.NoError(t, err)
	require.Equal(t, "assigned", x.Status)
	require.Equal(t, aid, x.Chosen[0].AssignmentID)
	require.Contains(t, x.Chosen[0].Message, "it accepted the offer")
	require.Equal(t, events.ReasonAssigned, x.Workers[4].Reason)

	// Closed: not matched.
	requireOK(t, h.complete("job", aid))
	requireOK(t, h.close("job", aid, "", nil))
	x, err = h.e.Explain("job", 0, h.now, 0)
	require.NoError(t, err)
	require.Equal(t, "the job is closed: only queued jobs are matched, so it is offered to nobody", x.Summary)
	require.Nil(t, x.Distribution)
	require.Empty(t, x.Workers)
}

// Best-worker scores and a workflow target's order_by are what chose the worker.
func TestExplainChosenValues(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindWorkflow, "wf", nil, `{"filters":[{"name":"all","expression":"true","targets":[
		{"queue":"finance","orderBy":"worker.finance ASC, worker.support ASC"}]}]}`))
	requireOK(t, h.register("alice", wQueues("finance"), wLabels(events.Labels{"finance": float64(10), "support": float64(8)})))
	requireOK(t, h.register("bob", wQueues("finance"), wLabels(events.Labels{"finance": float64(10)})))
	requireOK(t, h.do(events.TypeJobCreated, wfJob("job", nil)))
	require.Equal(t, "alice", h.offeredTo("job"), "bob lacks support: he sorts after")
	x, err := h.e.Explain("job", 0, h.now, 0)
	require.NoError(t, err)
	require.Equal(t, "worker.finance ASC, worker.support ASC", x.Distribution.OrderBy)
	ten, eight := int64(10), int64(8)
	require.Equal(t, []events.OrderValue{{Clause: "worker.finance ASC", Value: &ten}, {Clause: "worker.support ASC", Value: &eight}}, x.Chosen[0].OrderBy)
	require.Equal(t, events.ReasonJobOffersFull, x.Workers[1].Reason)

	h = newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindDistributionPolicy, "best", nil, `{"mode":{"kind":"bestWorker"}}`))
	requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"distributionPolicyId":"best"}`))
	requireOK(t, h.register("w", wLabels(events.Labels{"lang": "en"})))
	requireOK(t, h.create("job", "q1", func(d *events.JobCreated) { d.Labels = events.Labels{"lang": "en", "tier": "gold"} }))
	x, err = h.e.Explain("job", 0, h.now, 0)
	require.NoError(t, err)
	require.Equal(t, 1.0, *x.Chosen[0].Score)
	require.Contains(t, x.Chosen[0].Message, "bestWorker: score 1 of at most 2")
}

// Explaining reads the matcher's own rule and allocates nothing there.
func TestIneligibleAllocatesNothing(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("w", wLabels(events.Labels{"skill": float64(3)})))
	requireOK(t, h.create("job", "q1", jSelectors(sel("skill", events.OpGreaterThan, float64(5)))))
	j, w := h.e.jobs["job"], h.e.workers["w"]
	h.e.now = h.now
	var r Reason
	allocs := testing.AllocsPerRun(100, func() { r = h.e.ineligible(j, w, nil, false) })
	require.Equal(t, WhySelector, r.Why)
	require.Zero(t, allocs)
}

// checkExplain is the randomized test's check that explain and the matcher agree:
// for every queued job, the workers explain finds eligible are exactly those the
// matcher's pick would choose from (pick, walking its index, asked for every one of
// them), and, when no timer is due, a job that may take another offer has none that
// "would be offered" (the matcher would have offered it already).
func (s *sim) checkExplain(i int) {
	e := s.h.e
	due := false
	if at, ok := e.NextDeadline(); ok && !at.After(s.h.now) {
		due = true
	}
	for _, q := range s.queues {
		for _, j := range e.queues[q].jobsOrNil() {
			if j.status() != lifecycle.JobQueued {
				continue
			}
			x, err := e.Explain(j.JobID, events.MaxExplainWorkers, s.h.now, 0)
			require.NoError(s.t, err)
			fromExplain := map[string]bool{}
			for _, we := range x.Workers {
				switch we.Reason {
				case events.ReasonWouldBeOffered:
					require.True(s.t, due, "step %d: job %s: %s would be offered it, but the matcher did not", i, j.JobID, we.WorkerID)
					fromExplain[we.WorkerID] = true
				case events.ReasonJobOffersFull, events.ReasonMinOffers:
					fromExplain[we.WorkerID] = true
				}
			}
			d := e.distributionOf(j.QueueID)
			fromPick := map[string]bool{}
			for _, p := range e.pick(j, nil, d, len(e.workers)+1) {
				fromPick[p.w.WorkerID] = true
			}
			require.Equal(s.t, fromExplain, fromPick, "step %d: job %s: explain's eligible workers vs the matcher's", i, j.JobID)
			if len(fromExplain) > 0 {
				s.counts["explain eligible"]++
			}
		}
	}
}
