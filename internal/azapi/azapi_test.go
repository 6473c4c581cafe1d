package azapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/azapi"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// waitFor bounds every wait: generous, for a loaded 2-core machine under -race.
const waitFor = 30 * time.Second

const version = "?api-version=" + azapi.APIVersion

// env is a router on its own server, a client, and the API on an HTTP test server.
type env struct {
	t   *testing.T
	nc  *nats.Conn
	c   *patchbay.Client
	url string
}

func start(t *testing.T, cfg router.Config, opts ...azapi.Option) *env {
	t.Helper()
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns.ClientURL())
	natstest.StartRouter(t, nc, cfg)
	c, err := patchbay.New(nc)
	require.NoError(t, err)
	srv := httptest.NewServer(azapi.Mount(http.NotFoundHandler(), azapi.Handler(c, opts...)))
	t.Cleanup(srv.Close)
	return &env{t: t, nc: nc, c: c, url: srv.URL}
}

// answer is an HTTP answer: status, ETag and the JSON body.
type answer struct {
	status int
	etag   string
	body   map[string]any
	raw    string
}

func (a answer) errorCode() string {
	e, _ := a.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (a answer) errorTarget() string {
	e, _ := a.body["error"].(map[string]any)
	c, _ := e["target"].(string)
	return c
}

// do sends a request; body is JSON-encoded unless it is a string. Headers come in
// pairs.
func (e *env) do(method, path string, body any, headers ...string) answer {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.url+path, rd)
	require.NoError(e.t, err)
	if method == http.MethodPatch {
		req.Header.Set("Content-Type", "application/merge-patch+json")
	} else if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	out := answer{status: resp.StatusCode, etag: resp.Header.Get("ETag"), raw: string(raw)}
	if len(raw) > 0 {
		require.NoError(e.t, json.Unmarshal(raw, &out.body), "body %s", raw)
	}
	return out
}

func (e *env) must(status int, a answer) answer {
	e.t.Helper()
	require.Equal(e.t, status, a.status, "answer: %s", a.raw)
	return a
}

// offers records the offers issued to a worker, from its events.
func (e *env) offers(workerID string) chan events.Offer {
	e.t.Helper()
	ch := make(chan events.Offer, 16)
	sub, err := e.nc.Subscribe(events.OfferTypeAll(workerID, events.TypeOfferIssued), func(m *nats.Msg) {
		ev, err := events.Decode(m.Header, m.Data)
		if err != nil {
			return
		}
		var o events.Offer
		if ev.DataAs(&o) == nil {
			ch <- o
		}
	})
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(e.t, e.nc.Flush())
	return ch
}

func (e *env) nextOffer(ch chan events.Offer, jobID string) events.Offer {
	e.t.Helper()
	select {
	case o := <-ch:
		require.Equal(e.t, jobID, o.JobID)
		return o
	case <-time.After(waitFor):
		e.t.Fatalf("no offer of %s within %s", jobID, waitFor)
		return events.Offer{}
	}
}

func (e *env) putQueue(id string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err := e.c.PutPolicy(ctx, events.KindQueue, id, events.QueueSpec{}, nil)
	require.NoError(e.t, err)
}

func worker(queue string, capacity int, available bool) map[string]any {
	return map[string]any{
		"capacity": capacity, "queues": []string{queue}, "availableForOffers": available,
		"channels": []map[string]any{{"channelId": "voice", "capacityCostPerJob": 1}},
		"labels":   map[string]any{"language": "en", "skill": 5},
	}
}

// The ACS quickstart over HTTP: a distribution policy, a queue, a worker, a job; the
// worker's offer shows on the worker; accept, complete, close with "Resolved".
func TestQuickstartFlow(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	p := e.must(http.StatusCreated, e.do("PATCH", "/routing/distributionPolicies/policy-1"+version, map[string]any{
		"name": "My distribution policy", "offerExpiresAfterSeconds": 60, "mode": map[string]any{"kind": "longestIdle"},
	}))
	require.Equal(t, "policy-1", p.body["id"])
	q := e.must(http.StatusCreated, e.do("PATCH", "/routing/queues/support"+version, map[string]any{
		"name": "My queue", "distributionPolicyId": "policy-1",
	}))
	require.Equal(t, "policy-1", q.body["distributionPolicyId"])
	issued := e.offers("alice")

	wk := e.must(http.StatusCreated, e.do("PATCH", "/routing/workers/alice"+version, worker("support", 1, true)))
	require.Equal(t, "active", wk.body["state"])
	require.NotEmpty(t, wk.etag)
	require.Equal(t, wk.etag, wk.body["etag"])

	job := e.must(http.StatusCreated, e.do("PATCH", "/routing/jobs/job-1"+version, map[string]any{
		"channelId": "voice", "queueId": "support", "priority": 1,
		"requestedWorkerSelectors": []map[string]any{{"key": "skill", "labelOperator": "greaterThan", "value": 3}},
	}))
	require.Equal(t, "job-1", job.body["id"])
	o := e.nextOffer(issued, "job-1")
	require.WithinDuration(t, o.IssuedAt.Add(time.Minute), o.ExpiresAt, time.Second, "the policy's offer expiry")

	got := e.must(http.StatusOK, e.do("GET", "/routing/workers/alice"+version, nil))
	offers := got.body["offers"].([]any)
	require.Len(t, offers, 1)
	require.Equal(t, o.OfferID, offers[0].(map[string]any)["offerId"])
	require.Equal(t, "job-1", offers[0].(map[string]any)["jobId"])

	acc := e.must(http.StatusOK, e.do("POST", "/routing/workers/alice/offers/"+o.OfferID+":accept"+version, nil))
	assignment := acc.body["assignmentId"].(string)
	require.NotEmpty(t, assignment)
	require.Equal(t, "job-1", acc.body["jobId"])
	require.Equal(t, "alice", acc.body["workerId"])
	j := e.must(http.StatusOK, e.do("GET", "/routing/jobs/job-1"+version, nil))
	require.Equal(t, "assigned", j.body["status"])
	require.Contains(t, j.body["assignments"], assignment)

	e.must(http.StatusOK, e.do("POST", "/routing/jobs/job-1/assignments/"+assignment+":complete"+version, map[string]any{"note": "done"}))
	require.Equal(t, "completed", e.do("GET", "/routing/jobs/job-1"+version, nil).body["status"])
	e.must(http.StatusOK, e.do("POST", "/routing/jobs/job-1/assignments/"+assignment+":close"+version, map[string]any{"dispositionCode": "Resolved"}))
	j = e.must(http.StatusOK, e.do("GET", "/routing/jobs/job-1"+version, nil))
	require.Equal(t, "closed", j.body["status"])
	require.Equal(t, "Resolved", j.body["dispositionCode"])
	a := j.body["assignments"].(map[string]any)[assignment].(map[string]any)
	require.Equal(t, "alice", a["workerId"])
	require.NotEmpty(t, a["closedAt"])

	e.must(http.StatusNoContent, e.do("DELETE", "/routing/jobs/job-1"+version, nil))
	w := e.must(http.StatusOK, e.do("GET", "/routing/workers/alice"+version, nil))
	require.Empty(t, w.body["assignedJobs"])
	require.Equal(t, 0.0, w.body["loadRatio"])
}
