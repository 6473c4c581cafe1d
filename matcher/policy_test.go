package matcher

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

func rev(n uint64) *uint64 { return &n }

func (h *harness) putPolicy(kind events.PolicyKind, id string, revision *uint64, spec string) outcome {
	h.t.Helper()
	return h.do(events.TypePolicyPut, &events.PolicyPut{Kind: kind, ID: id, Revision: revision, Spec: json.RawMessage(spec)})
}

func (h *harness) deletePolicy(kind events.PolicyKind, id string, revision *uint64) outcome {
	h.t.Helper()
	return h.do(events.TypePolicyDelete, &events.PolicyDelete{Kind: kind, ID: id, Revision: revision})
}

// Invariants 7 and 8: revisions grow by one per change; a stale revision is refused
// and changes nothing; an unchanged spec is a no-op.
func TestPolicyRevisions(t *testing.T) {
	h := newHarness(t, Config{})
	out := h.putPolicy(events.KindQueue, "sales", rev(0), `{"order":"fifo"}`)
	requireOK(t, out)
	require.Equal(t, uint64(1), out.Reply.Revision)
	require.Equal(t, []events.Type{events.TypePolicyUpdated}, out.types())

	out = h.putPolicy(events.KindQueue, "sales", nil, `{"order": "fifo"}`)
	requireOK(t, out)
	require.True(t, out.Reply.Duplicate, "the same spec changes nothing")
	require.Empty(t, out.Ops)
	require.Empty(t, out.Evs)

	out = h.putPolicy(events.KindQueue, "sales", rev(1), `{"order":"lifo"}`)
	requireOK(t, out)
	require.Equal(t, uint64(2), out.Reply.Revision)

	requireRefused(t, h.putPolicy(events.KindQueue, "sales", rev(1), `{"order":"fifo"}`), events.ErrRevisionMismatch)
	requireRefused(t, h.putPolicy(events.KindQueue, "new", rev(3), `{}`), events.ErrRevisionMismatch)
	requireRefused(t, h.deletePolicy(events.KindQueue, "sales", rev(1)), events.ErrRevisionMismatch)
	p, ok := h.e.Policy(events.KindQueue, "sales")
	require.True(t, ok)
	require.Equal(t, uint64(2), p.Revision)
	require.JSONEq(t, `{"order":"lifo"}`, string(p.Spec))

	out = h.deletePolicy(events.KindQueue, "sales", rev(2))
	requireOK(t, out)
	require.Equal(t, []events.Type{events.TypePolicyDeleted}, out.types())
	_, ok = h.e.Policy(events.KindQueue, "sales")
	require.False(t, ok)
	requireRefused(t, h.deletePolicy(events.KindQueue, "sales", nil), events.ErrUnknownPolicy)
	require.True(t, out.Evs[0].Policy.Deleted)
	require.Equal(t, uint64(3), out.Evs[0].Policy.Revision, "a delete is a change too")

	// Created again, it continues its revisions: an old revision number can never
	// match a new policy.
	requireRefused(t, h.putPolicy(events.KindQueue, "sales", rev(1), `{"order":"fifo"}`), events.ErrRevisionMismatch)
	out = h.putPolicy(events.KindQueue, "sales", rev(0), `{"order":"fifo"}`)
	requireOK(t, out)
	require.Equal(t, uint64(4), out.Reply.Revision)
	h2 := h.reload()
	requireSameEngine(t, h.e, h2.e)
}

// Every invalid policy is refused with the field that is wrong.
func TestPolicyValidation(t *testing.T) {
	cases := []struct {
		name  string
		kind  events.PolicyKind
		id    string
		spec  string
		field string
	}{
		{"unknown kind", "workflowish", "x", `{}`, "kind"},
		{"bad id", events.KindQueue, "a.b", `{}`, "id"},
		{"no spec", events.KindQueue, "q", `null`, "spec"},
		{"unknown field", events.KindQueue, "q", `{"ordr":"lifo"}`, "spec"},
		{"bad order", events.KindQueue, "q", `{"order":"random"}`, "spec/order"},
		{"bad distribution id", events.KindQueue, "q", `{"distributionPolicyId":"no way"}`, "spec/distributionPolicyId"},
		{"bad queue label", events.KindQueue, "q", `{"labels":{"x":[1,null]}}`, "spec/labels/x/1"},
		{"mode missing", events.KindDistributionPolicy, "d", `{"mode":{}}`, "spec/mode/kind"},
		{"mode unknown", events.KindDistributionPolicy, "d", `{"mode":{"kind":"random"}}`, "spec/mode/kind"},
		{"negative expiry", events.KindDistributionPolicy, "d", `{"offerExpiresAfterSeconds":-1,"mode":{"kind":"longestIdle"}}`, "spec/offerExpiresAfterSeconds"},
		{"min over max", events.KindDistributionPolicy, "d", `{"mode":{"kind":"longestIdle","minConcurrentOffers":3,"maxConcurrentOffers":2}}`, "spec/mode/minConcurrentOffers"},
		{"min over the default max", events.KindDistributionPolicy, "d", `{"mode":{"kind":"longestIdle","minConcurrentOffers":2}}`, "spec/mode/minConcurrentOffers"},
		{"max too high", events.KindDistributionPolicy, "d", `{"mode":{"kind":"longestIdle","maxConcurrentOffers":1000}}`, "spec/mode/maxConcurrentOffers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			out := h.putPolicy(c.kind, c.id, nil, c.spec)
			requireRefused(t, out, events.ErrInvalidData)
			require.Equal(t, c.field, out.Err.Field, out.Err.Message)
		})
	}
}

// Invariant 9: a distribution policy in use cannot be deleted; a queue may name one
// that does not exist yet (defaults apply until it does).
func TestDistributionPolicyInUse(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: 30 * time.Second})
	requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"distributionPolicyId":"fast"}`))
	requireOK(t, h.register("alice"))
	requireOK(t, h.create("j1", "q1"))
	o := h.offerFor("j1")
	require.Equal(t, 30*time.Second, o.ExpiresAt.Sub(o.IssuedAt), "defaults until the policy exists")

	requireOK(t, h.putPolicy(events.KindDistributionPolicy, "fast", nil, `{"offerExpiresAfterSeconds":5,"mode":{"kind":"longestIdle"}}`))
	out := h.deletePolicy(events.KindDistributionPolicy, "fast", nil)
	requireRefused(t, out, events.ErrPolicyInUse)
	require.Contains(t, out.Err.Message, `"q1"`)

	// The next offer uses the policy's expiry.
	requireOK(t, h.decline("j1", o.OfferID, "alice", nil))
	requireOK(t, h.register("bob"))
	o2 := h.offerFor("j1")
	require.Equal(t, 5*time.Second, o2.ExpiresAt.Sub(o2.IssuedAt))
}

// A LIFO queue offers the newest job of a priority first; priority still comes first.
func TestLIFOQueue(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"order":"lifo"}`))
	for _, id := range []string{"j1", "j2", "j3"} {
		requireOK(t, h.create(id, "q1"))
		h.advance(time.Second)
	}
	requireOK(t, h.create("urgent", "q1", jPriority(5)))
	require.Equal(t, []string{"urgent", "j3", "j2", "j1"}, h.e.QueueJobIDs("q1"))
	requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"order":"fifo"}`))
	require.Equal(t, []string{"urgent", "j1", "j2", "j3"}, h.e.QueueJobIDs("q1"))
	requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"order":"lifo"}`))
	requireOK(t, h.register("alice", wCapacity(2, ch("voice", 1, 0))))
	require.Len(t, h.outstanding("urgent"), 1)
	require.Len(t, h.outstanding("j3"), 1, "the newest job of the priority next")
	require.Empty(t, h.outstanding("j1"))
}

// Round robin offers to the worker after the one offered last, where longest idle
// would go back to the worker idle the longest.
func TestRoundRobin(t *testing.T) {
	for _, mode := range []string{events.ModeLongestIdle, events.ModeRoundRobin} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t, Config{})
			requireOK(t, h.putPolicy(events.KindDistributionPolicy, "d", nil, `{"mode":{"kind":"`+mode+`"}}`))
			requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"distributionPolicyId":"d"}`))
			for _, w := range []string{"a", "b", "c"} {
				requireOK(t, h.register(w))
				h.advance(time.Second)
			}
			requireOK(t, h.create("j1", "q1"))
			o := h.offerFor("j1")
			require.Equal(t, "a", o.WorkerID)
			requireOK(t, h.decline("j1", o.OfferID, "a", nil))
			require.Equal(t, "b", h.offeredTo("j1"))
			requireOK(t, h.create("j2", "q1"))
			want := map[string]string{events.ModeLongestIdle: "a", events.ModeRoundRobin: "c"}[mode]
			require.Equal(t, want, h.offeredTo("j2"))

			// The cursor survives a reload.
			h2 := h.reload()
			requireSameEngine(t, h.e, h2.e)
		})
	}
}

// Best worker: the highest score wins (labels the job and the worker share), ties to
// the longest idle.
func TestBestWorker(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindDistributionPolicy, "best", nil, `{"mode":{"kind":"bestWorker"}}`))
	requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"distributionPolicyId":"best"}`))
	requireOK(t, h.register("idle", wLabels(events.Labels{"language": "en"})))
	h.advance(time.Second)
	requireOK(t, h.register("gold", wLabels(events.Labels{"language": "en", "tier": "gold"})))
	h.advance(time.Second)
	requireOK(t, h.register("also", wLabels(events.Labels{"language": "en", "tier": "gold"})))
	requireOK(t, h.create("j1", "q1", func(d *events.JobCreated) { d.Labels = events.Labels{"language": "en", "tier": "gold"} }))
	require.Equal(t, "gold", h.offeredTo("j1"), "score 2 beats 1; between the two with 2, the longest idle")
}

// Concurrent offers: a job waits until minConcurrentOffers workers can take it, goes to
// at most maxConcurrentOffers at once, the first accept wins and the others are revoked.
func TestConcurrentOffers(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindDistributionPolicy, "blast", nil, `{"mode":{"kind":"longestIdle","minConcurrentOffers":2,"maxConcurrentOffers":3}}`))
	requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"distributionPolicyId":"blast"}`))
	requireOK(t, h.register("a"))
	requireOK(t, h.create("j1", "q1"))
	require.Empty(t, h.outstanding("j1"), "one worker is fewer than the minimum")
	out := h.register("b")
	require.Len(t, out.issued(), 2)
	out = h.register("c")
	require.Len(t, out.issued(), 1, "topped up to the maximum")
	requireOK(t, h.register("d"))
	offers := h.outstanding("j1")
	require.Len(t, offers, 3)

	byWorker := map[string]events.Offer{}
	for _, o := range offers {
		byWorker[o.WorkerID] = o
	}
	out = h.accept("j1", byWorker["b"].OfferID, "b")
	requireOK(t, out)
	revoked := out.ofType(events.TypeOfferRevoked)
	require.Len(t, revoked, 2)
	for _, r := range revoked {
		require.Equal(t, events.RevokedJobAssigned, r.Offer.Reason)
	}
	requireRefused(t, h.accept("j1", byWorker["a"].OfferID, "a"), events.ErrAlreadyAssigned)
}

// Bypass selectors: the job's selectors are ignored.
func TestBypassSelectors(t *testing.T) {
	for _, bypass := range []bool{false, true} {
		h := newHarness(t, Config{})
		spec := `{"mode":{"kind":"longestIdle","bypassSelectors":false}}`
		if bypass {
			spec = `{"mode":{"kind":"longestIdle","bypassSelectors":true}}`
		}
		requireOK(t, h.putPolicy(events.KindDistributionPolicy, "d", nil, spec))
		requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"distributionPolicyId":"d"}`))
		requireOK(t, h.register("en", wLabels(events.Labels{"language": "en"})))
		requireOK(t, h.create("j1", "q1", jSelectors(sel("language", events.OpEqual, "fr"))))
		require.Equal(t, bypass, len(h.outstanding("j1")) == 1, "bypass=%v", bypass)
	}
}

// A worker's maxConcurrentOffers caps its outstanding offers, not its jobs.
func TestWorkerMaxConcurrentOffers(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("w", wCapacity(5, ch("voice", 1, 0)), func(d *events.WorkerRegister) { one := 1; d.MaxConcurrentOffers = &one }))
	requireOK(t, h.create("j1", "q1"))
	requireOK(t, h.create("j2", "q1"))
	require.Len(t, h.outstanding("j1"), 1)
	require.Empty(t, h.outstanding("j2"), "one offer at a time")
	h.assign("j1", "w")
	require.Len(t, h.outstanding("j2"), 1, "accepting frees the offer slot")
}

// Policies and their effects survive a reload.
func TestPoliciesReload(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindDistributionPolicy, "d", nil, `{"offerExpiresAfterSeconds":7,"mode":{"kind":"roundRobin"}}`))
	requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"order":"lifo","distributionPolicyId":"d"}`))
	requireOK(t, h.create("j1", "q1"))
	h.advance(time.Second)
	requireOK(t, h.create("j2", "q1"))
	requireOK(t, h.register("a"))
	h2 := h.reload()
	requireSameEngine(t, h.e, h2.e)
	require.Equal(t, []string{"j2", "j1"}, h2.e.QueueJobIDs("q1"), "LIFO after the reload")
	require.Len(t, h2.outstanding("j2"), 1, "the newest job was offered first")
	require.Empty(t, h2.outstanding("j1"))
}

// A best-worker scoring rule: the sum of the weights of the expressions that hold.
func TestBestWorkerScoringRule(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindDistributionPolicy, "scored", nil, `{"mode":{"kind":"bestWorker","scoringRule":[
		{"expression":"language == task.language","weight":10},
		{"expression":"level >= 5","weight":3},
		{"expression":"trainee == true","weight":-20}]}}`))
	requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"distributionPolicyId":"scored"}`))
	requireOK(t, h.register("fr-expert", wLabels(events.Labels{"language": "fr", "level": float64(9)})))
	requireOK(t, h.register("en-novice", wLabels(events.Labels{"language": "en", "level": float64(1)})))
	requireOK(t, h.register("en-trainee", wLabels(events.Labels{"language": "en", "level": float64(9), "trainee": true})))
	requireOK(t, h.create("j1", "q1", func(d *events.JobCreated) { d.Labels = events.Labels{"language": "en"} }))
	require.Equal(t, "en-novice", h.offeredTo("j1"), "10 beats fr-expert's 3 and en-trainee's 10+3-20")

	out := h.putPolicy(events.KindDistributionPolicy, "bad", nil, `{"mode":{"kind":"bestWorker","scoringRule":[{"expression":"level >=","weight":1}]}}`)
	requireRefused(t, out, events.ErrInvalidData)
	require.Equal(t, "spec/mode/scoringRule/0/expression", out.Err.Field)
	out = h.putPolicy(events.KindDistributionPolicy, "bad", nil, `{"mode":{"kind":"roundRobin","scoringRule":[{"expression":"a == 1","weight":1}]}}`)
	requireRefused(t, out, events.ErrInvalidData)
	require.Equal(t, "spec/mode/scoringRule", out.Err.Field)
}
