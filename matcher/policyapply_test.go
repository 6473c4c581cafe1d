package matcher

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

func put(kind events.PolicyKind, id, spec string) events.PolicyPut {
	return events.PolicyPut{Kind: kind, ID: id, Spec: json.RawMessage(spec)}
}

func (h *harness) apply(d events.PolicyApply) outcome {
	h.t.Helper()
	return h.do(events.TypePolicyApply, &d)
}

// problemFields lists the fields of a refused apply's problems, in order.
func problemFields(t *testing.T, o outcome) []string {
	t.Helper()
	require.NotNil(t, o.Err, "expected a refusal")
	var out []string
	for _, p := range o.Err.Problems {
		out = append(out, p.Field)
	}
	return out
}

// The scenario: a queue is pointed at a new distribution policy whose mode is
// invalid. Nothing of the apply is kept: the queue keeps its 2 s offers.
func TestApplyMixedValidInvalidChangesNothing(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.apply(events.PolicyApply{Puts: []events.PolicyPut{
		put(events.KindDistributionPolicy, "fast", `{"offerExpiresAfterSeconds":2,"mode":{"kind":"longestIdle"}}`),
		put(events.KindQueue, "support", `{"distributionPolicyId":"fast"}`),
	}}))
	require.Equal(t, 2*time.Second, h.e.offerExpiry("support"))
	before := dump(h.e)

	out := h.apply(events.PolicyApply{Puts: []events.PolicyPut{
		put(events.KindDistributionPolicy, "fast", `{"offerExpiresAfterSeconds":2,"mode":{"kind":"longestIdle"}}`),
		put(events.KindDistributionPolicy, "slow", `{"offerExpiresAfterSeconds":60,"mode":{"kind":"fastest"}}`),
		put(events.KindQueue, "support", `{"distributionPolicyId":"slow"}`),
	}})
	requireRefused(t, out, events.ErrInvalidData)
	require.Empty(t, out.Evs, "a refused apply publishes nothing")
	require.Equal(t, []string{"puts/1/spec/mode/kind"}, problemFields(t, out),
		"the queue's reference to the refused policy is not reported twice")
	require.Contains(t, out.Err.Message, `distributionPolicy "slow"`)
	require.Equal(t, before, dump(h.e), "nothing changed")
	require.Equal(t, 2*time.Second, h.e.offerExpiry("support"), "the queue keeps its 2 s offers")

	// A job of the queue is offered for 2 s.
	h.register("alice", wQueues("support"))
	h.create("j1", "support")
	o := h.offerFor("j1")
	require.Equal(t, h.now.Add(2*time.Second), o.ExpiresAt)
}

// A valid set is applied whole, in any order, with one event per changed policy and a
// reply naming each; the same set again changes nothing.
func TestApplyWholeAndIdempotent(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindWorkflow, "old", nil, `{"defaultFilter":{"queue":"support"}}`))
	set := events.PolicyApply{
		Puts: []events.PolicyPut{ // the queue before the policies it names
			put(events.KindQueue, "support", `{"distributionPolicyId":"fast","exceptionPolicyId":"spill"}`),
			put(events.KindDistributionPolicy, "fast", `{"offerExpiresAfterSeconds":2,"mode":{"kind":"roundRobin"}}`),
			put(events.KindExceptionPolicy, "spill", `{"rules":[{"id":"long","trigger":{"kind":"waitTime","thresholdSeconds":60},"actions":[{"kind":"reclassify","classificationPolicyId":"by-lang"}]}]}`),
			put(events.KindClassificationPolicy, "by-lang", `{"fallbackQueueId":"support"}`),
		},
		Deletes: []events.PolicyDelete{{Kind: events.KindWorkflow, ID: "old"}},
	}
	out := h.apply(set)
	requireOK(t, out)
	require.Equal(t, []events.PolicyChange{
		{Kind: events.KindQueue, ID: "support", Action: events.PolicyCreated, Revision: 1},
		{Kind: events.KindDistributionPolicy, ID: "fast", Action: events.PolicyCreated, Revision: 1},
		{Kind: events.KindExceptionPolicy, ID: "spill", Action: events.PolicyCreated, Revision: 1},
		{Kind: events.KindClassificationPolicy, ID: "by-lang", Action: events.PolicyCreated, Revision: 1},
		{Kind: events.KindWorkflow, ID: "old", Action: events.PolicyDeleted, Revision: 2},
	}, out.Reply.Policies)
	require.Equal(t, events.TypePolicyApply, out.Reply.CommandType)
	require.Equal(t, []events.Type{events.TypePolicyUpdated, events.TypePolicyUpdated, events.TypePolicyUpdated,
		events.TypePolicyUpdated, events.TypePolicyDeleted}, out.types())
	require.Len(t, out.Ops, 5, "one KV write per changed policy")
	require.Equal(t, 2*time.Second, h.e.offerExpiry("support"))
	checkInvariants(t, h.e)

	set.Deletes = nil
	again := h.apply(set)
	requireOK(t, again)
	require.Empty(t, again.Ops)
	require.Empty(t, again.Evs)
	for _, c := range again.Reply.Policies {
		require.Equal(t, events.PolicyUnchanged, c.Action, "%s %s", c.Kind, c.ID)
		require.Equal(t, uint64(1), c.Revision)
	}
	requireSameEngine(t, h.e, h.reload().e)
}

// The refusal names every problem, each with its field in the command's data.
func TestApplyNamesEveryProblem(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindDistributionPolicy, "used", nil, `{"mode":{"kind":"longestIdle"}}`))
	requireOK(t, h.putPolicy(events.KindQueue, "keeps", nil, `{"distributionPolicyId":"used"}`))
	requireOK(t, h.putPolicy(events.KindQueue, "rev", nil, `{}`))
	before := dump(h.e)
	out := h.apply(events.PolicyApply{
		Puts: []events.PolicyPut{
			put(events.KindQueue, "bad-order", `{"order":"random"}`),
			{Kind: events.KindQueue, ID: "rev", Revision: rev(5), Spec: json.RawMessage(`{"order":"lifo"}`)},
			put(events.KindQueue, "dangling", `{"distributionPolicyId":"nowhere"}`),
			put(events.KindQueue, "bad-order", `{}`),
			put(events.KindWorkflow, "wf", `{"filters":[{"name":"f","expression":"a ==","targets":[{"queue":"q"}]}]}`),
		},
		Deletes: []events.PolicyDelete{
			{Kind: events.KindWorkflow, ID: "ghost"},
			{Kind: events.KindDistributionPolicy, ID: "used"},
		},
	})
	requireRefused(t, out, events.ErrInvalidData)
	require.Equal(t, []string{
		"puts/0/spec/order",
		"puts/1/revision",
		"puts/2/spec/distributionPolicyId",
		"puts/3/id",
		"puts/4/spec/filters/0/expression",
		"deletes/0/id",
		"deletes/1/id",
	}, problemFields(t, out))
	codes := []events.Code{}
	for _, p := range out.Err.Problems {
		codes = append(codes, p.Code)
	}
	require.Equal(t, []events.Code{events.CodeInvalidData, events.CodeRevisionMismatch, events.CodeUnknownPolicy,
		events.CodeInvalidData, events.CodeInvalidData, events.CodeUnknownPolicy, events.CodePolicyInUse}, codes)
	require.Contains(t, out.Err.Message, "7 problems")
	require.Contains(t, out.Err.Message, `queue "keeps"`, "the in-use refusal names the user")
	require.Equal(t, before, dump(h.e))
}

// With prune, every stored policy the puts do not name is deleted; without it, it
// stays. A pruned policy still named by a policy that stays refuses the whole apply.
func TestApplyPrune(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.apply(events.PolicyApply{Puts: []events.PolicyPut{
		put(events.KindDistributionPolicy, "fast", `{"offerExpiresAfterSeconds":2,"mode":{"kind":"longestIdle"}}`),
		put(events.KindQueue, "support", `{"distributionPolicyId":"fast"}`),
		put(events.KindQueue, "sales", `{"order":"lifo"}`),
		put(events.KindActivity, "training", `{"available":false}`),
	}}))
	file := events.PolicyApply{Puts: []events.PolicyPut{
		put(events.KindDistributionPolicy, "fast", `{"offerExpiresAfterSeconds":2,"mode":{"kind":"longestIdle"}}`),
		put(events.KindQueue, "support", `{"distributionPolicyId":"fast"}`),
	}}

	out := h.apply(file)
	requireOK(t, out)
	require.Empty(t, out.Evs, "without prune, policies the file no longer declares stay")
	_, ok := h.e.Policy(events.KindQueue, "sales")
	require.True(t, ok)

	// Dry run: says what would go, changes nothing.
	dry := file
	dry.Prune, dry.DryRun = true, true
	out = h.apply(dry)
	requireOK(t, out)
	require.True(t, out.Reply.DryRun)
	require.Empty(t, out.Ops)
	require.Empty(t, out.Evs)
	require.Equal(t, []events.PolicyChange{
		{Kind: events.KindDistributionPolicy, ID: "fast", Action: events.PolicyUnchanged, Revision: 1},
		{Kind: events.KindQueue, ID: "support", Action: events.PolicyUnchanged, Revision: 1},
		{Kind: events.KindActivity, ID: "training", Action: events.PolicyDeleted, Revision: 2},
		{Kind: events.KindQueue, ID: "sales", Action: events.PolicyDeleted, Revision: 2},
	}, out.Reply.Policies)
	_, ok = h.e.Policy(events.KindQueue, "sales")
	require.True(t, ok, "a dry run deletes nothing")

	// An activity a worker is in cannot be pruned: the whole apply is refused.
	h.register("alice", wQueues("sales"), wActivity("training"))
	pruned := file
	pruned.Prune = true
	out = h.apply(pruned)
	requireRefused(t, out, events.ErrPolicyInUse)
	require.Equal(t, []string{"prune/id"}, problemFields(t, out))
	_, ok = h.e.Policy(events.KindQueue, "sales")
	require.True(t, ok, "nothing of a refused prune is applied")
	requireOK(t, h.deregister("alice")) // offline now

	out = h.apply(pruned)
	requireOK(t, out)
	require.ElementsMatch(t, []events.Type{events.TypePolicyDeleted, events.TypePolicyDeleted}, out.types())
	_, ok = h.e.Policy(events.KindQueue, "sales")
	require.False(t, ok, "pruned")
	_, ok = h.e.Policy(events.KindActivity, "training")
	require.False(t, ok, "pruned")

	// The file drops the distribution policy but keeps the queue naming it.
	out = h.apply(events.PolicyApply{Prune: true, Puts: []events.PolicyPut{
		put(events.KindQueue, "support", `{"distributionPolicyId":"fast"}`),
	}})
	requireRefused(t, out, events.ErrPolicyInUse)
	require.Equal(t, []string{"prune"}, problemFields(t, out))
	require.Contains(t, out.Err.Message, `queue "support"`)
	require.Equal(t, 2*time.Second, h.e.offerExpiry("support"))

	// Dropping both together is fine.
	requireOK(t, h.apply(events.PolicyApply{Prune: true}))
	require.Equal(t, h.e.cfg.OfferExpiry, h.e.offerExpiry("support"))
	checkInvariants(t, h.e)
	requireSameEngine(t, h.e, h.reload().e)
}

// A policy deleted by the apply and named by a put of the same apply: reported once,
// at the delete.
func TestApplyDeleteNamedByPut(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindExceptionPolicy, "spill", nil, `{"rules":[{"id":"r","trigger":{"kind":"queueLength","threshold":5},"actions":[{"kind":"cancel"}]}]}`))
	out := h.apply(events.PolicyApply{
		Puts:    []events.PolicyPut{put(events.KindQueue, "q", `{"exceptionPolicyId":"spill"}`)},
		Deletes: []events.PolicyDelete{{Kind: events.KindExceptionPolicy, ID: "spill"}},
	})
	requireRefused(t, out, events.ErrPolicyInUse)
	require.Equal(t, []string{"deletes/0/id"}, problemFields(t, out))
	_, ok := h.e.Policy(events.KindExceptionPolicy, "spill")
	require.True(t, ok)
}

// An apply changes at most MaxPolicyApplyItems policies, pruned ones included.
func TestApplyItemLimit(t *testing.T) {
	h := newHarness(t, Config{})
	var puts []events.PolicyPut
	for i := range events.MaxPolicyApplyItems {
		puts = append(puts, put(events.KindQueue, fmt.Sprintf("q%d", i), `{}`))
	}
	requireOK(t, h.apply(events.PolicyApply{Puts: puts}))
	out := h.apply(events.PolicyApply{Prune: true, Puts: []events.PolicyPut{put(events.KindQueue, "other", `{}`)}})
	requireRefused(t, out, events.ErrInvalidData)
	require.Contains(t, out.Err.Message, fmt.Sprint(events.MaxPolicyApplyItems))
}

// A refusal with very many problems lists the first maxApplyProblems and counts the rest.
func TestApplyRefusalIsBounded(t *testing.T) {
	h := newHarness(t, Config{})
	var dels []events.PolicyDelete
	for i := range 100 {
		dels = append(dels, events.PolicyDelete{Kind: events.KindQueue, ID: fmt.Sprintf("q%d", i)})
	}
	out := h.apply(events.PolicyApply{Deletes: dels})
	requireRefused(t, out, events.ErrUnknownPolicy)
	require.Len(t, out.Err.Problems, maxApplyProblems)
	require.Contains(t, out.Err.Message, "100 problems")
	require.Contains(t, out.Err.Message, fmt.Sprintf("and %d more", 100-maxApplyProblems))
}

// A workflow's problems are all named, each at its field, in a put and in an apply.
func TestWorkflowNamesEveryProblem(t *testing.T) {
	h := newHarness(t, Config{})
	spec := `{"filters":[{"name":"","expression":"type ==","targets":[{"queue":"q","orderBy":"worker.x SIDEWAYS"},{"queue":"a b"}]}],"defaultFilter":{"queue":"q","skipIf":"("}}`
	out := h.putPolicy(events.KindWorkflow, "w", nil, spec)
	requireRefused(t, out, events.ErrInvalidData)
	var fields []string
	for _, p := range out.Err.Problems {
		fields = append(fields, p.Field)
	}
	want := []string{"spec/filters/0/name", "spec/filters/0/expression", "spec/filters/0/targets/0/orderBy", "spec/filters/0/targets/1/queue", "spec/defaultFilter/skipIf"}
	require.Equal(t, want, fields)
	require.Equal(t, "spec/filters/0/name", out.Err.Field)

	out = h.apply(events.PolicyApply{Puts: []events.PolicyPut{put(events.KindQueue, "q", `{}`), put(events.KindWorkflow, "w", spec)}})
	requireRefused(t, out, events.ErrInvalidData)
	for i := range want {
		want[i] = "puts/1/" + want[i]
	}
	require.Equal(t, want, problemFields(t, out))

	// Very many problems: the first maxApplyProblems, the rest counted.
	var targets []string
	for range 100 {
		targets = append(targets, `{"queue":"a b"}`)
	}
	out = h.putPolicy(events.KindWorkflow, "w", nil, `{"filters":[{"name":"f","expression":"1==1","targets":[`+strings.Join(targets, ",")+`]}]}`)
	requireRefused(t, out, events.ErrInvalidData)
	require.Len(t, out.Err.Problems, maxApplyProblems)
	require.Contains(t, out.Err.Message, fmt.Sprintf("and %d more", 100-maxApplyProblems))
}
