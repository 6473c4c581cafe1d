package router_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/router"
)

// labelsOf decodes labels as they travel: JSON.
func labelsOf(t *testing.T, s string) patchbay.Labels {
	t.Helper()
	var l patchbay.Labels
	require.NoError(t, json.Unmarshal([]byte(s), &l))
	return l
}

// TestAttributesAreJSON routes a job with TaskRouter-style attributes end to end: a
// workflow filter reads an array (skills HAS 'support') and a nested object
// (customer.tier), its target relates the job to array and nested worker attributes
// and orders the workers by a nested integer; labels over their limits are refused
// with the field and the limit; the nested labels are the same after a restart.
func TestAttributesAreJSON(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	_, err := e.client.PutPolicy(ctx(t), events.KindWorkflow, "support", events.WorkflowSpec{
		Filters: []events.WorkflowFilter{{
			Name:       "gold support",
			Expression: "skills HAS 'support' AND customer.tier == 'gold'",
			Targets: []events.WorkflowTarget{{
				Queue:      "gold",
				Expression: "task.language IN worker.languages",
				OrderBy:    "worker.skill_levels.support DESC",
			}},
		}},
		DefaultFilter: &events.WorkflowTarget{Queue: "general"},
	}, nil)
	require.NoError(t, err)

	e.register("ann", []string{"gold"}, labelsOf(t, `{"languages": ["en", "fr"], "skill_levels": {"support": 5}}`))
	e.register("ben", []string{"gold"}, labelsOf(t, `{"languages": ["en"], "skill_levels": {"support": 9}}`))
	e.register("cat", []string{"gold"}, labelsOf(t, `{"languages": ["de"], "skill_levels": {"support": 10}}`))

	create := func(id, labels string) error {
		_, err := e.client.CreateJob(ctx(t), patchbay.JobSpec{JobID: id, WorkflowID: "support", ChannelID: "voice", Labels: labelsOf(t, labels)})
		return err
	}
	gold := `{"skills": ["support"], "customer": {"tier": "gold"}, "language": "en"}`
	require.NoError(t, create("j1", gold))
	j := e.jobEvent(events.TypeJobQueued, "j1")
	require.Equal(t, "gold", j.QueueID)
	require.Equal(t, "gold support", j.Workflow.Filter)
	o := e.next(events.TypeOfferIssued, func(s seen) bool { return s.offer().JobID == "j1" }).offer()
	require.Equal(t, "ben", o.WorkerID, "cat speaks no English; ben's support level beats ann's")
	require.Equal(t, labelsOf(t, gold), o.Job.Labels, "the offer carries the nested labels")

	require.NoError(t, create("j2", `{"skills": ["support"], "customer": {"tier": "silver"}, "language": "en"}`))
	require.Equal(t, "general", e.jobEvent(events.TypeJobQueued, "j2").QueueID)
	require.NoError(t, create("j3", `{"skills": "support", "customer": {"tier": "gold"}}`))
	require.Equal(t, "general", e.jobEvent(events.TypeJobQueued, "j3").QueueID, "HAS wants an array")

	// Hostile labels: refused at the edge, with the field and the limit.
	for _, tt := range []struct{ labels, field, msg string }{
		{`{"x": {"a": {"b": [{"d": [1]}]}}}`, "labels/x/a/b/0/d", "more than 4 levels deep"},
		{`{"x": ["a", null]}`, "labels/x/1", "got null"},
		{`{"x": [` + repeatJSON(`"s"`, events.MaxLabelItems+1) + `]}`, "labels/x", "at most 32"},
	} {
		err := create("bad", tt.labels)
		require.ErrorIs(t, err, patchbay.ErrInvalidData, tt.labels)
		var pe *patchbay.Error
		require.ErrorAs(t, err, &pe)
		require.Equal(t, tt.field, pe.Field)
		require.Contains(t, pe.Message, tt.msg)
	}

	// The stored jobs and workers load back with their nested labels.
	require.NoError(t, e.router.Stop(ctx(t)))
	startRouter(t, e.nc, router.Config{})
	info, err := e.client.JobInfo(ctx(t), "j1")
	require.NoError(t, err)
	require.Equal(t, labelsOf(t, gold), info.Job.Labels)
	wi, err := e.client.WorkerInfo(ctx(t), "ann")
	require.NoError(t, err)
	require.Equal(t, labelsOf(t, `{"languages": ["en", "fr"], "skill_levels": {"support": 5}}`), wi.Worker.Labels)
	// ... and keep routing: ben declines, ann (English, next by support) gets it.
	require.NoError(t, e.client.Decline(ctx(t), o, nil))
	require.Equal(t, "ann", e.next(events.TypeOfferIssued, func(s seen) bool { return s.offer().JobID == "j1" }).offer().WorkerID)
}

func repeatJSON(item string, n int) string {
	b := make([]byte, 0, n*(len(item)+1))
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, item...)
	}
	return string(b)
}
