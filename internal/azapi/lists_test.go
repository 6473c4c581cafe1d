package azapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/router"
)

// follow pages through a list by its nextLink and returns the ids in order, and the
// size of each page.
func (e *env) follow(path string) (ids []string, pages []int) {
	e.t.Helper()
	for path != "" {
		a := e.must(http.StatusOK, e.do("GET", path, nil))
		items := a.body["value"].([]any)
		pages = append(pages, len(items))
		for _, it := range items {
			ids = append(ids, it.(map[string]any)["id"].(string))
		}
		next, _ := a.body["nextLink"].(string)
		require.True(e.t, next == "" || strings.HasPrefix(next, e.url+"/routing/"), "nextLink %q", next)
		path = strings.TrimPrefix(next, e.url)
	}
	return ids, pages
}

// Lists page with maxpagesize and nextLink, keep their filters across pages, and
// bound maxpagesize.
func TestListPaging(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	for _, q := range []string{"support", "sales"} {
		e.must(http.StatusCreated, e.do("PATCH", "/routing/queues/"+q+version, map[string]any{"name": q}))
	}
	for i := 1; i <= 5; i++ {
		q := "support"
		if i == 3 {
			q = "sales"
		}
		e.must(http.StatusCreated, e.do("PATCH", fmt.Sprintf("/routing/jobs/j%d%s", i, version), map[string]any{"channelId": "voice", "queueId": q}))
		e.must(http.StatusCreated, e.do("PATCH", fmt.Sprintf("/routing/workers/w%d%s", i, version), worker(q, 1, false)))
	}
	ids, pages := e.follow("/routing/jobs" + version + "&maxpagesize=2")
	require.Equal(t, []string{"j1", "j2", "j3", "j4", "j5"}, ids)
	require.Equal(t, []int{2, 2, 1}, pages)
	ids, _ = e.follow("/routing/jobs" + version + "&maxpagesize=1&queueId=support&status=queued")
	require.Equal(t, []string{"j1", "j2", "j4", "j5"}, ids)
	ids, _ = e.follow("/routing/jobs" + version + "&status=closed")
	require.Empty(t, ids)
	ids, _ = e.follow("/routing/workers" + version + "&maxpagesize=2")
	require.Equal(t, []string{"w1", "w2", "w3", "w4", "w5"}, ids)
	ids, _ = e.follow("/routing/workers" + version + "&queueId=sales")
	require.Equal(t, []string{"w3"}, ids)
	ids, _ = e.follow("/routing/workers" + version + "&state=active")
	require.Empty(t, ids)
	ids, _ = e.follow("/routing/queues" + version + "&maxpagesize=1")
	require.Equal(t, []string{"sales", "support"}, ids)

	// a listed item is the same as a GET, ETag included
	a := e.must(http.StatusOK, e.do("GET", "/routing/workers"+version+"&maxpagesize=1", nil))
	require.Equal(t, e.do("GET", "/routing/workers/w1"+version, nil).etag, a.body["value"].([]any)[0].(map[string]any)["etag"])

	for _, bad := range []struct{ query, target string }{
		{"&maxpagesize=0", "maxpagesize"},
		{"&maxpagesize=x", "maxpagesize"},
		{"&status=nope", "status"},
		{"&colour=red", "colour"},
		{"&scheduledBefore=yesterday", "scheduledBefore"},
	} {
		a := e.must(http.StatusBadRequest, e.do("GET", "/routing/jobs"+version+bad.query, nil))
		require.Equal(t, bad.target, a.errorTarget(), bad.query)
	}
	// a page is at most MaxPageSize
	a = e.must(http.StatusOK, e.do("GET", "/routing/jobs"+version+"&maxpagesize=100000", nil))
	require.Len(t, a.body["value"], 5)
}

// Policies: created 201, ETag the revision; a stale If-Match is 412; a merge patch
// changes what it names; a distribution policy a queue names cannot be deleted.
func TestPolicyUpserts(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	p := e.must(http.StatusCreated, e.do("PATCH", "/routing/distributionPolicies/blast"+version, map[string]any{
		"name": "Blast", "offerExpiresAfterSeconds": 20, "mode": map[string]any{"kind": "longestIdle", "maxConcurrentOffers": 3},
	}))
	require.Equal(t, p.etag, p.body["etag"])
	require.Equal(t, map[string]any{"kind": "longestIdle", "maxConcurrentOffers": 3.0}, p.body["mode"])
	require.Equal(t, p.etag, e.must(http.StatusOK, e.do("GET", "/routing/distributionPolicies/blast"+version, nil)).etag)

	upd := e.must(http.StatusOK, e.do("PATCH", "/routing/distributionPolicies/blast"+version, map[string]any{
		"name": nil, "mode": map[string]any{"maxConcurrentOffers": nil, "bypassSelectors": true},
	}, "If-Match", p.etag))
	require.NotEqual(t, p.etag, upd.etag)
	require.Nil(t, upd.body["name"])
	require.Equal(t, 20.0, upd.body["offerExpiresAfterSeconds"])
	require.Equal(t, map[string]any{"kind": "longestIdle", "bypassSelectors": true}, upd.body["mode"])
	a := e.must(http.StatusPreconditionFailed, e.do("PATCH", "/routing/distributionPolicies/blast"+version, map[string]any{"name": "x"}, "If-Match", p.etag))
	require.Equal(t, "PreconditionFailed", a.errorCode())
	e.must(http.StatusPreconditionFailed, e.do("PATCH", "/routing/distributionPolicies/other"+version, map[string]any{"mode": map[string]any{"kind": "roundRobin"}}, "If-Match", "*"))
	a = e.must(http.StatusBadRequest, e.do("PATCH", "/routing/distributionPolicies/blast"+version, map[string]any{"mode": map[string]any{"kind": "sideways"}}))
	require.Equal(t, "InvalidRequest", a.errorCode())

	e.must(http.StatusCreated, e.do("PATCH", "/routing/queues/support"+version, map[string]any{"distributionPolicyId": "blast", "labels": map[string]any{"region": "eu"}}))
	a = e.must(http.StatusConflict, e.do("DELETE", "/routing/distributionPolicies/blast"+version, nil))
	require.Contains(t, a.raw, "policy_in_use")
	e.must(http.StatusNoContent, e.do("DELETE", "/routing/queues/support"+version, nil))
	e.must(http.StatusNotFound, e.do("GET", "/routing/queues/support"+version, nil))
	e.must(http.StatusNoContent, e.do("DELETE", "/routing/queues/support"+version, nil))
	e.must(http.StatusNoContent, e.do("DELETE", "/routing/distributionPolicies/blast"+version, nil))
	// a deleted policy can be created again
	again := e.must(http.StatusCreated, e.do("PATCH", "/routing/queues/support"+version, map[string]any{"name": "Support"}))
	require.Equal(t, "Support", again.body["name"])

	ex := e.must(http.StatusCreated, e.do("PATCH", "/routing/exceptionPolicies/impatient"+version, map[string]any{
		"exceptionRules": []map[string]any{{"id": "too-long", "trigger": map[string]any{"kind": "waitTime", "thresholdSeconds": 600},
			"actions": []map[string]any{{"kind": "cancel", "dispositionCode": "NoAgent"}}}},
	}))
	require.Equal(t, "too-long", ex.body["exceptionRules"].([]any)[0].(map[string]any)["id"])
	ids, _ := e.follow("/routing/exceptionPolicies" + version)
	require.Equal(t, []string{"impatient"}, ids)
}

// A job created with a classification policy goes to the queue it selects.
func TestClassificationOverHTTP(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	e.must(http.StatusCreated, e.do("PATCH", "/routing/queues/gold"+version, map[string]any{"name": "Gold"}))
	e.must(http.StatusCreated, e.do("PATCH", "/routing/classificationPolicies/sorter"+version, map[string]any{
		"fallbackQueueId": "gold",
		"queueSelectorAttachments": []map[string]any{{"kind": "conditional",
			"condition":      map[string]any{"kind": "expression", "expression": "tier == 'gold'"},
			"queueSelectors": []map[string]any{{"key": "Id", "labelOperator": "equal", "value": "gold"}}}},
		"prioritizationRule": map[string]any{"kind": "static", "value": 7},
	}))
	j := e.must(http.StatusCreated, e.do("PATCH", "/routing/jobs/j"+version, map[string]any{
		"channelId": "voice", "classificationPolicyId": "sorter", "labels": map[string]any{"tier": "gold"},
	}))
	require.Equal(t, "gold", j.body["queueId"])
	require.Equal(t, 7.0, j.body["priority"])
	require.Equal(t, "sorter", j.body["classificationPolicyId"])
	ids, _ := e.follow("/routing/jobs" + version + "&classificationPolicyId=sorter")
	require.Equal(t, []string{"j"}, ids)

	// :reclassify runs the job's classification policy again: a new priority rule
	// takes effect on the queued job.
	e.must(http.StatusOK, e.do("PATCH", "/routing/classificationPolicies/sorter"+version, map[string]any{
		"prioritizationRule": map[string]any{"kind": "static", "value": 9},
	}))
	e.must(http.StatusOK, e.do("POST", "/routing/jobs/j:reclassify"+version, map[string]any{}))
	j = e.must(http.StatusOK, e.do("GET", "/routing/jobs/j"+version, nil))
	require.Equal(t, 9.0, j.body["priority"])
	// a job no classification policy classified cannot be reclassified
	e.must(http.StatusCreated, e.do("PATCH", "/routing/jobs/plain"+version, map[string]any{"channelId": "voice", "queueId": "gold"}))
	bad := e.must(http.StatusBadRequest, e.do("POST", "/routing/jobs/plain:reclassify"+version, map[string]any{}))
	require.Contains(t, bad.raw, "classificationPolicyId")

	// a policy using what Azure's representation cannot say reads without it, and
	// cannot be upserted over HTTP
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err := e.c.PutPolicy(ctx, events.KindClassificationPolicy, "label", events.ClassificationPolicySpec{
		QueueSelectors: []events.QueueSelectorAttachment{{Kind: events.AttachPassThrough, Key: "queue"}}, FallbackQueueID: "gold",
	}, nil)
	require.NoError(t, err)
	got := e.must(http.StatusOK, e.do("GET", "/routing/classificationPolicies/label"+version, nil))
	require.Nil(t, got.body["queueSelectorAttachments"])
	require.Equal(t, "gold", got.body["fallbackQueueId"])
	a := e.must(http.StatusConflict, e.do("PATCH", "/routing/classificationPolicies/label"+version, map[string]any{"name": "x"}))
	require.Contains(t, a.raw, "passThrough")
}
