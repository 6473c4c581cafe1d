package azapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/internal/router"
	"github.com/patchbay/patchbay/matcher"
)

// A merge patch changes what it names: null deletes a label, the rest stays; the
// ETag follows the worker, and If-Match with the current one succeeds.
func TestWorkerMergePatch(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	e.putQueue("support")
	e.putQueue("sales")
	created := e.must(http.StatusCreated, e.do("PATCH", "/routing/workers/alice"+version, worker("support", 2, false)))
	require.Equal(t, "inactive", created.body["state"])
	require.Equal(t, false, created.body["availableForOffers"])

	upd := e.must(http.StatusOK, e.do("PATCH", "/routing/workers/alice"+version, map[string]any{
		"labels": map[string]any{"skill": nil, "level": 3}, "queues": []string{"support", "sales"}, "availableForOffers": true,
	}, "If-Match", created.etag))
	require.Equal(t, map[string]any{"language": "en", "level": 3.0}, upd.body["labels"])
	require.ElementsMatch(t, []any{"support", "sales"}, upd.body["queues"])
	require.Equal(t, 2.0, upd.body["capacity"])
	require.Equal(t, "active", upd.body["state"])
	require.NotEqual(t, created.etag, upd.etag)

	// the old ETag is stale now
	e.must(http.StatusPreconditionFailed, e.do("PATCH", "/routing/workers/alice"+version, map[string]any{"capacity": 3}, "If-Match", created.etag))
	// If-Match: * holds for an existing worker
	e.must(http.StatusOK, e.do("PATCH", "/routing/workers/alice"+version, map[string]any{"capacity": 3}, "If-Match", "*"))
	// an unchanged body changes nothing, ETag included
	same := e.must(http.StatusOK, e.do("PATCH", "/routing/workers/alice"+version, map[string]any{"capacity": 3}))
	require.Equal(t, same.etag, e.must(http.StatusOK, e.do("GET", "/routing/workers/alice"+version, nil)).etag)
	// read-only fields cannot change, and removing every label is refused
	a := e.must(http.StatusBadRequest, e.do("PATCH", "/routing/workers/alice"+version, map[string]any{"loadRatio": 0.5}))
	require.Equal(t, "loadRatio", a.errorTarget())
	a = e.must(http.StatusBadRequest, e.do("PATCH", "/routing/workers/alice"+version, map[string]any{"labels": nil}))
	require.Equal(t, "labels", a.errorTarget())

	// delete deregisters
	e.must(http.StatusNoContent, e.do("DELETE", "/routing/workers/alice"+version, nil))
	require.Equal(t, "inactive", e.must(http.StatusOK, e.do("GET", "/routing/workers/alice"+version, nil)).body["state"])
}

// An existing job changes only its matchingMode: suspend takes it out of its queue,
// queueAndMatch puts it back; any other change is refused with the field.
func TestJobUpsertAndPosition(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	e.putQueue("support")
	for _, id := range []string{"j1", "j2"} {
		e.must(http.StatusCreated, e.do("PATCH", "/routing/jobs/"+id+version, map[string]any{
			"channelId": "voice", "queueId": "support", "labels": map[string]any{"tier": "gold"},
			"notes": []map[string]any{{"message": "VIP"}},
		}))
	}
	pos := e.must(http.StatusOK, e.do("GET", "/routing/jobs/j2/position"+version, nil))
	require.Equal(t, map[string]any{"jobId": "j2", "position": 2.0, "queueId": "support", "queueLength": 2.0, "estimatedWaitTimeMinutes": 0.0}, pos.body)
	stats := e.must(http.StatusOK, e.do("GET", "/routing/queues/support/statistics"+version, nil))
	require.Equal(t, "support", stats.body["queueId"])
	require.Equal(t, 2.0, stats.body["length"])

	j := e.must(http.StatusOK, e.do("GET", "/routing/jobs/j1"+version, nil))
	require.Equal(t, []any{map[string]any{"message": "VIP", "addedAt": j.body["notes"].([]any)[0].(map[string]any)["addedAt"]}}, j.body["notes"])
	a := e.must(http.StatusBadRequest, e.do("PATCH", "/routing/jobs/j1"+version, map[string]any{"labels": map[string]any{"tier": nil}}))
	require.Equal(t, "labels", a.errorTarget())
	// sending the job back as it is changes nothing
	e.must(http.StatusOK, e.do("PATCH", "/routing/jobs/j1"+version, map[string]any{"queueId": "support", "id": "j1"}, "If-Match", j.etag))

	s := e.must(http.StatusOK, e.do("PATCH", "/routing/jobs/j1"+version, map[string]any{"matchingMode": map[string]any{"kind": "suspend"}}, "If-Match", j.etag))
	require.Equal(t, "waitingForActivation", s.body["status"])
	require.Equal(t, map[string]any{"kind": "suspend"}, s.body["matchingMode"])
	e.must(http.StatusPreconditionFailed, e.do("PATCH", "/routing/jobs/j1"+version, map[string]any{"matchingMode": map[string]any{"kind": "queueAndMatch"}}, "If-Match", j.etag))
	require.Equal(t, 1.0, e.must(http.StatusOK, e.do("GET", "/routing/jobs/j2/position"+version, nil)).body["position"])
	e.must(http.StatusBadRequest, e.do("GET", "/routing/jobs/j1/position"+version, nil))

	q := e.must(http.StatusOK, e.do("PATCH", "/routing/jobs/j1"+version, map[string]any{"matchingMode": map[string]any{"kind": "queueAndMatch"}}, "If-Match", s.etag))
	require.Equal(t, "queued", q.body["status"])

	// a queued job cannot be deleted; a cancelled one can
	e.must(http.StatusConflict, e.do("DELETE", "/routing/jobs/j1"+version, nil))
	e.must(http.StatusOK, e.do("POST", "/routing/jobs/j1:cancel"+version, map[string]any{"dispositionCode": "NoLongerNeeded", "note": "bye"}))
	c := e.must(http.StatusOK, e.do("GET", "/routing/jobs/j1"+version, nil))
	require.Equal(t, "cancelled", c.body["status"])
	require.Equal(t, "NoLongerNeeded", c.body["dispositionCode"])
	e.must(http.StatusConflict, e.do("POST", "/routing/jobs/j1:cancel"+version, nil))
	e.must(http.StatusNoContent, e.do("DELETE", "/routing/jobs/j1"+version, nil))
}

// Unassign sends the job back to its queue and counts; decline with retryOfferAt.
func TestUnassignAndDecline(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{Engine: matcher.Config{OfferExpiry: time.Minute}})
	e.putQueue("support")
	issued := e.offers("alice")
	e.must(http.StatusCreated, e.do("PATCH", "/routing/workers/alice"+version, worker("support", 1, true)))
	e.must(http.StatusCreated, e.do("PATCH", "/routing/jobs/j"+version, map[string]any{"channelId": "voice", "queueId": "support"}))
	o := e.nextOffer(issued, "j")
	acc := e.must(http.StatusOK, e.do("POST", "/routing/workers/alice/offers/"+o.OfferID+":accept"+version, nil))
	un := e.must(http.StatusOK, e.do("POST", "/routing/jobs/j/assignments/"+acc.body["assignmentId"].(string)+":unassign"+version, map[string]any{"suspendMatching": false}))
	require.Equal(t, map[string]any{"jobId": "j", "unassignmentCount": 1.0}, un.body)

	o = e.nextOffer(issued, "j")
	retry := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	e.must(http.StatusOK, e.do("POST", "/routing/workers/alice/offers/"+o.OfferID+":decline"+version, map[string]any{"retryOfferAt": retry}))
	require.Equal(t, "queued", e.must(http.StatusOK, e.do("GET", "/routing/jobs/j"+version, nil)).body["status"])
	require.Empty(t, e.must(http.StatusOK, e.do("GET", "/routing/workers/alice"+version, nil)).body["offers"])
}
