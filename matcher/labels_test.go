package matcher

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

// jsonLabels decodes labels as the router does.
func jsonLabels(t testing.TB, s string) events.Labels {
	t.Helper()
	var l events.Labels
	require.NoError(t, json.Unmarshal([]byte(s), &l))
	return l
}

// TestMatchesJSONLabels: worker selectors on array, object and nested labels.
func TestMatchesJSONLabels(t *testing.T) {
	t.Parallel()
	l := jsonLabels(t, `{
		"skills": ["support", "sales"],
		"levels": [3, 7],
		"empty": [],
		"customer": {"tier": "gold", "langs": ["en", "fr"]},
		"skills.finance": 10,
		"finance": {"level": 4},
		"lang": "en"
	}`)
	tests := []struct {
		key, op string
		value   any
		want    bool
	}{
		// Scalars work as before.
		{"lang", events.OpEqual, "en", true},
		{"lang", events.OpNotEqual, "en", false},
		{"lang", events.OpNotEqual, 1.0, true}, // different kinds
		// An array: equal and the ordering operators when an element satisfies them.
		{"skills", events.OpEqual, "support", true},
		{"skills", events.OpEqual, "sales", true},
		{"skills", events.OpEqual, "billing", false},
		{"skills", events.OpEqual, "supp", false},
		{"levels", events.OpGreaterThan, 5.0, true},
		{"levels", events.OpGreaterThan, 7.0, false},
		{"levels", events.OpLessThanOrEqual, 3.0, true},
		{"levels", events.OpLessThan, 3.0, false},
		{"levels", events.OpEqual, "3", false},
		// ... notEqual when no element is equal: the negation of equal.
		{"skills", events.OpNotEqual, "support", false},
		{"skills", events.OpNotEqual, "billing", true},
		{"levels", events.OpNotEqual, "3", true},
		{"empty", events.OpEqual, "x", false},
		{"empty", events.OpNotEqual, "x", true},
		// An object is a different kind from the value: only notEqual holds.
		{"customer", events.OpEqual, "gold", false},
		{"customer", events.OpGreaterThan, 1.0, false},
		{"customer", events.OpNotEqual, "gold", true},
		// Dotted keys read nested values; a flat label of that key wins.
		{"customer.tier", events.OpEqual, "gold", true},
		{"customer.langs", events.OpEqual, "fr", true},
		{"customer.langs", events.OpNotEqual, "fr", false},
		{"finance.level", events.OpEqual, 4.0, true},
		{"skills.finance", events.OpEqual, 10.0, true}, // the flat label
		{"customer.missing", events.OpNotEqual, "x", false},
		{"lang.x", events.OpNotEqual, "x", false}, // through a string: missing
		{"skills.0", events.OpEqual, "support", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s %v", tt.key, tt.op, tt.value), func(t *testing.T) {
			require.Equal(t, tt.want, Matches(sel(tt.key, tt.op, tt.value), "w", l))
		})
	}
}

// TestSelectorsOnJSONLabelsRouteJobs: equal selectors on array and nested labels
// find their workers through the index (pools walked in order and compared whole),
// and the pool never misses a worker that matches.
func TestSelectorsOnJSONLabelsRouteJobs(t *testing.T) {
	for _, walk := range []bool{false, true} {
		t.Run(fmt.Sprint("walk every pool ", walk), func(t *testing.T) {
			if walk {
				walkEveryPool(t)
			}
			h := newHarness(t, Config{})
			for i := range 20 { // more than smallPool
				requireOK(t, h.register(fmt.Sprintf("filler%02d", i), wLabels(jsonLabels(t, `{"skills": ["sales"], "customer": {"tier": "silver"}}`))))
			}
			requireOK(t, h.register("ada", wCapacity(10), wLabels(jsonLabels(t, `{"skills": ["sales", "support"], "langs": {"spoken": ["en", "fr"]}}`))))
			requireOK(t, h.register("bob", wCapacity(10), wLabels(jsonLabels(t, `{"skills": "support", "customer": {"tier": "gold"}}`))))
			requireOK(t, h.register("cy", wCapacity(10), wLabels(jsonLabels(t, `{"customer.tier": "gold", "customer": {"tier": "bronze"}}`))))

			requireOK(t, h.create("fr", "q1", jSelectors(sel("langs.spoken", events.OpEqual, "fr"))))
			require.Equal(t, "ada", h.offeredTo("fr"), "a nested array")
			requireOK(t, h.create("gold", "q1", jSelectors(sel("customer.tier", events.OpEqual, "gold"))))
			require.Contains(t, []string{"bob", "cy"}, h.offeredTo("gold"), "nested, or a flat dotted label")
			requireOK(t, h.create("gold2", "q1", jSelectors(sel("customer.tier", events.OpEqual, "gold"))))
			require.Contains(t, []string{"bob", "cy"}, h.offeredTo("gold2"))
			requireOK(t, h.create("bronze", "q1", jSelectors(sel("customer.tier", events.OpEqual, "bronze"))))
			require.Equal(t, "", h.offeredTo("bronze"), "cy's flat label shadows its nested one")
			requireOK(t, h.create("support", "q1", jSelectors(sel("skills", events.OpEqual, "support"))))
			require.Contains(t, []string{"ada", "bob"}, h.offeredTo("support"), "an array holding it, or the scalar")
			checkInvariants(t, h.e)

			// A worker whose labels change is indexed again: fillers no longer sell.
			requireOK(t, h.create("legal", "q1", jSelectors(sel("skills", events.OpEqual, "legal"))))
			require.Equal(t, "", h.offeredTo("legal"))
			out := h.update(events.WorkerRegister{WorkerID: "filler07", Labels: jsonLabels(t, `{"skills": ["legal", "legal"]}`)})
			require.Equal(t, "legal", out.issued()[0].JobID)
			require.Equal(t, "filler07", out.issued()[0].WorkerID)
			checkInvariants(t, h.e)
		})
	}
}

// TestNestedLabelsSurviveReload: jobs and workers with array and object labels are
// stored and loaded back the same, and route the same afterwards.
func TestNestedLabelsSurviveReload(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("ada", wLabels(jsonLabels(t, `{"skills": ["support"], "levels": {"finance": 10, "langs": ["en"]}}`))))
	requireOK(t, h.create("j1", "q1", jSelectors(sel("levels.langs", events.OpEqual, "de")), func(d *events.JobCreated) {
		d.Labels = jsonLabels(t, `{"skills": ["support"], "customer": {"tier": "gold", "history": [{"id": 1}]}}`)
	}))
	require.Equal(t, "", h.offeredTo("j1"))

	h2 := h.reload()
	requireSameEngine(t, h.e, h2.e)
	require.Equal(t, jsonLabels(t, `{"skills": ["support"], "customer": {"tier": "gold", "history": [{"id": 1}]}}`), h2.job("j1").Labels)
	require.Equal(t, jsonLabels(t, `{"skills": ["support"], "levels": {"finance": 10, "langs": ["en"]}}`), h2.worker("ada").Labels)
	out := h2.update(events.WorkerRegister{WorkerID: "ada", Labels: jsonLabels(t, `{"skills": ["support"], "levels": {"langs": ["en", "de"]}}`)})
	require.Equal(t, "j1", out.issued()[0].JobID, "the reloaded index finds the nested value")
	checkInvariants(t, h2.e)
}

// TestClassificationNestedLabels: conditions read nested and array labels, and
// passThrough attachments take a dotted key; an array passes no selector through.
func TestClassificationNestedLabels(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindClassificationPolicy, "nested", nil, `{
	  "queueSelectorAttachments": [
	    {"kind": "conditional", "condition": "customer.tier == 'gold' AND skills HAS 'support'", "queueId": "gold-support"},
	    {"kind": "passThrough", "key": "routing.queue"}
	  ],
	  "workerSelectorAttachments": [
	    {"kind": "passThrough", "key": "customer.language", "labelOperator": "equal"},
	    {"kind": "passThrough", "key": "skills", "labelOperator": "equal"}
	  ]
	}`))
	job := func(id, labels string) *events.JobCreated {
		return &events.JobCreated{JobID: id, ClassificationPolicyID: "nested", ChannelID: "voice", Labels: jsonLabels(t, labels)}
	}
	requireOK(t, h.do(events.TypeJobCreated, job("g", `{"skills": ["support"], "customer": {"tier": "gold", "language": "fr"}}`)))
	require.Equal(t, "gold-support", h.job("g").QueueID)
	require.Equal(t, []events.WorkerSelector{{Key: "customer.language", Operator: "equal", Value: "fr"}}, h.job("g").WorkerSelectors)
	requireOK(t, h.do(events.TypeJobCreated, job("r", `{"skills": ["sales"], "routing": {"queue": "sales"}}`)))
	require.Equal(t, "sales", h.job("r").QueueID, "passed through from a nested label")

	// The passed-through selector reads the worker's nested label.
	out := h.register("fr", wQueues("gold-support"), wLabels(jsonLabels(t, `{"customer": {"language": "fr"}}`)))
	require.Equal(t, "g", out.issued()[0].JobID)
}

// TestOrderByOnJSONLabels: order_by reads nested integers with dots; an array or an
// object where it wants an integer makes the order_by not applicable (ignored), as
// any value that is not an integer does.
func TestOrderByOnJSONLabels(t *testing.T) {
	t.Parallel()
	o, err := ParseOrderBy("worker.skills.finance DESC")
	require.NoError(t, err)
	ten := orderWorker("ten", jsonLabels(t, `{"skills": {"finance": 10, "langs": ["en"]}}`), 0)
	two := orderWorker("two", jsonLabels(t, `{"skills": {"finance": 2}}`), 0)
	none := orderWorker("none", jsonLabels(t, `{"skills": ["finance"]}`), 0) // no object: lacks it
	require.True(t, o.Applicable([]*Worker{ten, two, none}))
	ws := []*Worker{none, two, ten}
	SortWorkers(o, ws)
	require.Equal(t, []*Worker{ten, two, none}, ws)

	list := orderWorker("list", jsonLabels(t, `{"skills": {"finance": [1, 2]}}`), 0)
	require.False(t, o.Applicable([]*Worker{ten, list}))
	obj := orderWorker("obj", jsonLabels(t, `{"skills": {"finance": {"level": 1}}}`), 0)
	require.False(t, o.Applicable([]*Worker{ten, obj}))
}

// TestBestWorkerDefaultScoreJSONLabels: by default a label counts as in common when
// the worker has the same value, arrays and objects included.
func TestBestWorkerDefaultScoreJSONLabels(t *testing.T) {
	t.Parallel()
	j := &Job{Job: events.Job{Labels: jsonLabels(t, `{"skills": ["a", "b"], "customer": {"tier": "gold"}, "lang": "en"}`)}}
	w := func(labels string) *Worker {
		return &Worker{Worker: events.Worker{WorkerID: "w", Labels: jsonLabels(t, labels)}}
	}
	require.Equal(t, 3.0, score(j, w(`{"skills": ["a", "b"], "customer": {"tier": "gold"}, "lang": "en"}`), nil))
	require.Equal(t, 1.0, score(j, w(`{"skills": ["b", "a"], "customer": {"tier": "silver"}, "lang": "en"}`), nil))
	require.Equal(t, 0.0, score(j, w(`{"skills": "a", "customer": "gold"}`), nil))
}
