package azapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/azapi"
	"github.com/patchbay/patchbay/internal/router"
	"github.com/patchbay/patchbay/matcher"
)

// Each error status, in Azure's error body.
func TestErrorStatuses(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{Engine: matcher.Config{OfferExpiry: time.Minute}})
	e.putQueue("support")
	e.must(http.StatusCreated, e.do("PATCH", "/routing/workers/alice"+version, worker("support", 1, false)))

	cases := []struct {
		name           string
		method, path   string
		body           any
		headers        []string
		status         int
		code, target   string
		messageContain string
	}{
		{"no api-version", "GET", "/routing/workers/alice", nil, nil, 400, "MissingApiVersionParameter", "api-version", "required"},
		{"other api-version", "GET", "/routing/workers/alice?api-version=2022-07-18-preview", nil, nil, 400, "UnsupportedApiVersion", "api-version", "2023-11-01"},
		{"unknown job", "GET", "/routing/jobs/nope" + version, nil, nil, 404, "NotFound", "", "nope"},
		{"unknown worker", "GET", "/routing/workers/nope" + version, nil, nil, 404, "NotFound", "", "nope"},
		{"unknown offer", "POST", "/routing/workers/alice/offers/nope:accept" + version, nil, nil, 404, "NotFound", "", "no offer"},
		{"unknown path", "GET", "/routing/nothing" + version, nil, nil, 404, "NotFound", "", "no operation"},
		{"bad id", "GET", "/routing/jobs/a%20b" + version, nil, nil, 400, "BadRequest", "jobId", ""},
		{"method", "PUT", "/routing/jobs/j" + version, nil, nil, 405, "MethodNotAllowed", "", "PUT"},
		{"unknown field", "PATCH", "/routing/jobs/j" + version, map[string]any{"channelId": "voice", "queueId": "support", "colour": "red"}, nil, 400, "BadRequest", "colour", "colour"},
		{"wrong type", "PATCH", "/routing/jobs/j" + version, map[string]any{"channelId": "voice", "queueId": "support", "priority": "high"}, nil, 400, "BadRequest", "priority", "priority"},
		{"not JSON", "PATCH", "/routing/jobs/j" + version, "{nope", nil, 400, "BadRequest", "", "not JSON"},
		{"not an object", "PATCH", "/routing/jobs/j" + version, "[1]", nil, 400, "BadRequest", "", "object"},
		{"read-only field", "PATCH", "/routing/jobs/j" + version, map[string]any{"channelId": "voice", "queueId": "support", "status": "closed"}, nil, 400, "BadRequest", "status", "read-only"},
		{"router refuses", "PATCH", "/routing/jobs/j" + version, map[string]any{"queueId": "support"}, nil, 400, "InvalidRequest", "channelId", ""},
		{"two notes", "PATCH", "/routing/jobs/j" + version, map[string]any{"channelId": "voice", "queueId": "support", "notes": []map[string]any{{"message": "a"}, {"message": "b"}}}, nil, 400, "BadRequest", "notes", "one note"},
		{"action body", "POST", "/routing/jobs/j:cancel" + version, map[string]any{"reason": "x"}, nil, 400, "BadRequest", "reason", "reason"},
		{"content type", "POST", "/routing/jobs/j:cancel" + version, "<x/>", []string{"Content-Type", "application/xml"}, 415, "UnsupportedMediaType", "", "application/xml"},
		{"too big", "PATCH", "/routing/jobs/j" + version, `{"notes":"` + strings.Repeat("x", azapi.MaxBodyBytes) + `"}`, nil, 413, "RequestEntityTooLarge", "", "65536"},
		{"if-match on a new job", "PATCH", "/routing/jobs/j" + version, map[string]any{"channelId": "voice", "queueId": "support"}, []string{"If-Match", `"abc"`}, 412, "PreconditionFailed", "If-Match", "does not exist"},
		{"stale if-match", "PATCH", "/routing/workers/alice" + version, map[string]any{"capacity": 2}, []string{"If-Match", `"abc"`}, 412, "PreconditionFailed", "If-Match", "changed"},
		{"if-unmodified-since", "PATCH", "/routing/workers/alice" + version, map[string]any{"capacity": 2}, []string{"If-Unmodified-Since", "Sat, 05 Dec 2026 10:00:00 GMT"}, 400, "BadRequest", "If-Unmodified-Since", ""},
		{"deep nesting", "PATCH", "/routing/jobs/j" + version, `{"channelId": "voice", "queueId": "support", "tags": {"t": ` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}}`, nil, 400, "InvalidRequest", "data", strconv.Itoa(events.MaxJSONDepth) + " levels"},
		{"too deep for JSON", "PATCH", "/routing/jobs/j" + version, strings.Repeat("[", 20000) + strings.Repeat("]", 20000), nil, 400, "BadRequest", "", ""},
		{"reclassify unknown", "POST", "/routing/jobs/nope:reclassify" + version, nil, nil, 404, "NotFound", "jobId", ""},
		{"cancel unknown", "POST", "/routing/jobs/nope:cancel" + version, nil, nil, 404, "NotFound", "jobId", ""},
		{"complete unknown assignment", "POST", "/routing/jobs/nope/assignments/x:complete" + version, nil, nil, 404, "NotFound", "jobId", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(tc.method, tc.path, tc.body, tc.headers...)
			require.Equal(t, tc.status, a.status, "answer: %s", a.raw)
			require.Equal(t, tc.code, a.errorCode(), "answer: %s", a.raw)
			require.Equal(t, tc.target, a.errorTarget(), "answer: %s", a.raw)
			require.Contains(t, a.raw, tc.messageContain)
		})
	}
	// the failed upserts created nothing
	e.must(http.StatusNotFound, e.do("GET", "/routing/jobs/j"+version, nil))
}

// An offer another worker accepted first is 409, as Azure answers it.
func TestAcceptAfterAnotherWorkerIs409(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{Engine: matcher.Config{OfferExpiry: time.Minute}})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err := e.c.PutPolicy(ctx, events.KindDistributionPolicy, "two", events.DistributionPolicySpec{
		Mode: events.DistributionMode{Kind: events.ModeLongestIdle, MinConcurrentOffers: 2, MaxConcurrentOffers: 2},
	}, nil)
	require.NoError(t, err)
	_, err = e.c.PutPolicy(ctx, events.KindQueue, "support", events.QueueSpec{DistributionPolicyID: "two"}, nil)
	require.NoError(t, err)
	toAlice, toBob := e.offers("alice"), e.offers("bob")
	e.must(http.StatusCreated, e.do("PATCH", "/routing/workers/alice"+version, worker("support", 1, true)))
	e.must(http.StatusCreated, e.do("PATCH", "/routing/workers/bob"+version, worker("support", 1, true)))
	e.must(http.StatusCreated, e.do("PATCH", "/routing/jobs/j"+version, map[string]any{"channelId": "voice", "queueId": "support"}))
	oa, ob := e.nextOffer(toAlice, "j"), e.nextOffer(toBob, "j")
	// bob sees his offer, then alice takes the job
	require.Len(t, e.must(http.StatusOK, e.do("GET", "/routing/workers/bob"+version, nil)).body["offers"], 1)
	e.must(http.StatusOK, e.do("POST", "/routing/workers/alice/offers/"+oa.OfferID+":accept"+version, nil))
	a := e.do("POST", "/routing/workers/bob/offers/"+ob.OfferID+":accept"+version, nil)
	require.Equal(t, http.StatusConflict, a.status, a.raw)
	require.Equal(t, "Conflict", a.errorCode())
	require.Contains(t, a.raw, `"innererror":{"code":"already_assigned"}`)
	// and a declined offer cannot be declined by another worker: it is not theirs
	e.must(http.StatusNotFound, e.do("POST", "/routing/workers/bob/offers/"+oa.OfferID+":decline"+version, nil))
}

// With a token, a request without it is 401.
func TestBearerToken(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{}, azapi.WithToken("s3cret"))
	a := e.do("GET", "/routing/workers/alice"+version, nil)
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.Equal(t, "Unauthorized", a.errorCode())
	a = e.do("GET", "/routing/workers/alice"+version, nil, "Authorization", "Bearer wrong")
	require.Equal(t, http.StatusUnauthorized, a.status)
	a = e.do("GET", "/routing/workers/alice"+version, nil, "Authorization", "Bearer s3cret")
	require.Equal(t, http.StatusNotFound, a.status)
}
