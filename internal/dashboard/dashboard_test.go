package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/dashboard"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// waitFor bounds every wait: generous, for a loaded 2-core machine under -race.
const waitFor = 30 * time.Second

// hostile is a label value a producer may send; the dashboard must never make it HTML.
const hostile = `<img src=x onerror="alert(1)">`

// env is a router, a client and a dashboard served by httptest.
type env struct {
	client *patchbay.Client
	dash   *dashboard.Dashboard
	srv    *httptest.Server
}

func start(t *testing.T, cfg dashboard.Config) *env {
	t.Helper()
	return startWith(t, cfg, nil)
}

// startWith runs before, if set, with the client before the dashboard starts.
func startWith(t *testing.T, cfg dashboard.Config, before func(*patchbay.Client)) *env {
	t.Helper()
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns.ClientURL())
	natstest.StartRouter(t, nc, router.Config{})
	c, err := patchbay.New(nc, patchbay.WithRetryDeadline(waitFor))
	require.NoError(t, err)
	if before != nil {
		before(c)
	}
	d := dashboard.New(c, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, d.Start(ctx))
	t.Cleanup(d.Stop)
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return &env{client: c, dash: d, srv: srv}
}

func (e *env) get(t *testing.T, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return c
}

// sse reads server-sent events from /api/events.
type sse struct {
	resp *http.Response
	r    *bufio.Reader
}

func (e *env) follow(t *testing.T) *sse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, e.srv.URL+"/api/events", nil)
	require.NoError(t, err)
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	return &sse{resp: resp, r: bufio.NewReader(resp.Body)}
}

// next returns the next event's data (one "data:" line, then a blank line), skipping
// comments and the retry field.
func (s *sse) next(t *testing.T) dashboard.Notice {
	t.Helper()
	for {
		line, err := s.r.ReadString('\n')
		require.NoError(t, err)
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			require.True(t, line == "\n" || strings.HasPrefix(line, ":") || strings.HasPrefix(line, "retry: "), "unexpected line %q", line)
			continue
		}
		blank, err := s.r.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "\n", blank, "one data line per event")
		var n dashboard.Notice
		require.NoError(t, json.Unmarshal([]byte(data), &n))
		return n
	}
}

// The page and its files are served with a strict CSP; the script never writes HTML.
func TestPageAndHeaders(t *testing.T) {
	t.Parallel()
	e := start(t, dashboard.Config{})
	for _, path := range []string{"/", "/jobs/j1", "/static/app.js", "/static/app.css", "/api/jobs/recent"} {
		resp, body := e.get(t, path)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Equal(t, dashboard.CSP, resp.Header.Get("Content-Security-Policy"), path)
		require.Contains(t, dashboard.CSP, "default-src 'self'")
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), path)
		require.NotEmpty(t, body, path)
	}
	_, page := e.get(t, "/")
	require.Contains(t, string(page), `<script src="/static/app.js"`)
	require.NotContains(t, string(page), "http://", "nothing from elsewhere")
	require.NotContains(t, string(page), "https://")
	_, js := e.get(t, "/static/app.js")
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
		require.NotContains(t, string(js), bad)
	}
	resp, _ := e.get(t, "/nothing-here")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, err := e.srv.Client().Post(e.srv.URL+"/api/jobs/recent", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "read-only")
}

// The JSON endpoints answer from the router and the event stream, escape what a
// producer sent, and refuse bad ids and limits; /api/events frames one notice per
// event.
func TestAPIAndEvents(t *testing.T) {
	t.Parallel()
	e := start(t, dashboard.Config{})
	s := e.follow(t)
	_, err := e.client.CreateJob(ctx(t), patchbay.JobSpec{JobID: "j1", QueueID: "q", ChannelID: "voice",
		Labels: events.Labels{"name": hostile}})
	require.NoError(t, err)
	var seen []string
	for len(seen) < 2 {
		n := s.next(t)
		require.Equal(t, "j1", n.JobID)
		require.Equal(t, "q", n.QueueID)
		seen = append(seen, n.Type+" "+n.Status)
	}
	require.Equal(t, []string{"job.received queued", "job.queued queued"}, seen)

	resp, body := e.get(t, "/api/jobs/recent")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.NotContains(t, string(body), "<img", "HTML in data is escaped")
	var recent struct{ Jobs []patchbay.JobInfo }
	require.NoError(t, json.Unmarshal(body, &recent))
	require.Len(t, recent.Jobs, 1)
	require.Equal(t, "queued", recent.Jobs[0].Job.Status)
	require.Equal(t, hostile, recent.Jobs[0].Job.Labels["name"])

	resp, body = e.get(t, "/api/jobs/j1")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	var info patchbay.JobInfo
	require.NoError(t, json.Unmarshal(body, &info))
	require.Equal(t, "j1", info.Job.JobID)

	resp, body = e.get(t, "/api/jobs/j1/history")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	var h struct {
		Events []patchbay.Event
	}
	require.NoError(t, json.Unmarshal(body, &h))
	require.Len(t, h.Events, 2)
	require.Equal(t, string(events.TypeJobReceived), h.Events[0].Type())

	// The lists, as the router's list queries answer them.
	one := 1
	_, err = e.client.RegisterWorker(ctx(t), patchbay.WorkerSpec{WorkerID: "w1", Queues: []string{"other"}, TotalCapacity: &one,
		Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}}})
	require.NoError(t, err)
	var queues patchbay.QueueList
	getJSON(t, e, "/api/queues", &queues)
	require.NotEmpty(t, queues.Queues)
	require.Equal(t, "other", queues.Queues[0].QueueID)
	require.Equal(t, "q", queues.Queues[1].QueueID)
	require.Equal(t, 1, queues.Queues[1].Length)
	var workers patchbay.WorkerList
	getJSON(t, e, "/api/workers", &workers)
	require.Len(t, workers.Workers, 1)
	require.Equal(t, "w1", workers.Workers[0].Worker.WorkerID)
	var jobs patchbay.JobList
	getJSON(t, e, "/api/jobs?status=queued&queue=q&limit=10", &jobs)
	require.Len(t, jobs.Jobs, 1)
	require.Equal(t, "j1", jobs.Jobs[0].Job.JobID)
	getJSON(t, e, "/api/jobs?status=closed", &jobs)
	require.Empty(t, jobs.Jobs)

	for path, code := range map[string]int{
		"/api/queues?limit=501":                       http.StatusBadRequest,
		"/api/workers?queue=a%20b":                    http.StatusBadRequest,
		"/api/jobs?status=x.y":                        http.StatusBadRequest,
		"/api/jobs?after=" + strings.Repeat("a", 300): http.StatusBadRequest,
		"/api/jobs/nobody":                            http.StatusNotFound,
		"/api/jobs/a.b":                               http.StatusBadRequest,
		"/api/jobs/j1/history?limit=-1":               http.StatusBadRequest,
		"/api/jobs/j1/history?limit=10001":            http.StatusBadRequest,
		"/api/jobs/j1/history?limit=x":                http.StatusBadRequest,
	} {
		resp, body := e.get(t, path)
		require.Equal(t, code, resp.StatusCode, "%s: %s", path, body)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"), path)
	}
}

func getJSON(t *testing.T, e *env, path string, v any) {
	t.Helper()
	resp, body := e.get(t, path)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
	require.NoError(t, json.Unmarshal(body, v), path)
}

// A dashboard started on a busy router lists its live jobs at once, before their
// next event.
func TestRecentJobsStartWithTheLiveJobs(t *testing.T) {
	t.Parallel()
	e := startWith(t, dashboard.Config{}, func(c *patchbay.Client) {
		for _, id := range []string{"early-1", "early-2"} {
			_, err := c.CreateJob(ctx(t), patchbay.JobSpec{JobID: id, QueueID: "q", ChannelID: "voice"})
			require.NoError(t, err)
		}
	})
	var recent struct{ Jobs []patchbay.JobInfo }
	getJSON(t, e, "/api/jobs/recent", &recent)
	require.Len(t, recent.Jobs, 2)
	require.Equal(t, "early-2", recent.Jobs[0].Job.JobID, "the most recent first")
	require.Equal(t, "queued", recent.Jobs[1].Job.Status)
}

// A cap on the pages following the events: one more is refused, and its place is
// free again once a page leaves.
func TestEventStreamsAreCapped(t *testing.T) {
	t.Parallel()
	e := start(t, dashboard.Config{MaxStreams: 1})
	req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, e.srv.URL+"/api/events", nil)
	require.NoError(t, err)
	first, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, first.StatusCode)
	_, err = bufio.NewReader(first.Body).ReadString('\n') // it is subscribed once it writes
	require.NoError(t, err)
	resp, _ := e.get(t, "/api/events")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	first.Body.Close()
	require.Eventually(t, func() bool {
		resp, err := e.srv.Client().Head(e.srv.URL + "/api/events")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, waitFor, 20*time.Millisecond, "the place is free again")
}

// Stop is safe before Start, twice, and makes a later Start return at once.
func TestStopBeforeStart(t *testing.T) {
	t.Parallel()
	e := start(t, dashboard.Config{})
	d := dashboard.New(e.client, dashboard.Config{})
	d.Stop()
	d.Stop()
	require.ErrorContains(t, d.Start(ctx(t)), "stopped")
	e.dash.Stop()
	e.dash.Stop()
}
