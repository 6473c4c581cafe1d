package monitor_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/monitor"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// waitFor bounds every wait: generous, for a loaded 2-core machine under -race.
const waitFor = 30 * time.Second

// tick is how often a condition on a router's state is checked.
const tick = 10 * time.Millisecond

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return c
}

// get fetches path from h and returns the status code and body.
func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, err := io.ReadAll(rec.Result().Body)
	require.NoError(t, err)
	return rec.Code, string(body)
}

// readiness fetches /readyz.
func readiness(t *testing.T, h http.Handler) (int, monitor.Readiness) {
	t.Helper()
	code, body := get(t, h, "/readyz")
	var r monitor.Readiness
	require.NoError(t, json.Unmarshal([]byte(body), &r), body)
	return code, r
}

// scrape fetches /metrics and returns each sample's value by its name and labels,
// as written: `patchbay_offers_total{event="issued",queue="q"}`.
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	code, body := get(t, h, "/metrics")
	require.Equal(t, http.StatusOK, code, body)
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		out[line[:i]] = v
	}
	return out
}

// offers records the offer events of one worker.
func offers(t *testing.T, nc *nats.Conn, workerID string) chan patchbay.Offer {
	t.Helper()
	ch := make(chan patchbay.Offer, 16)
	sub, err := nc.Subscribe(events.OfferTypeAll(workerID, events.TypeOfferIssued), func(m *nats.Msg) {
		ev, err := events.Decode(m.Header, m.Data)
		if err != nil {
			return
		}
		var o events.Offer
		if ev.DataAs(&o) == nil {
			ch <- patchbay.Offer{OfferID: o.OfferID, JobID: o.JobID, WorkerID: o.WorkerID}
		}
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, nc.Flush())
	return ch
}

func next(t *testing.T, ch chan patchbay.Offer, jobID string) patchbay.Offer {
	t.Helper()
	select {
	case o := <-ch:
		require.Equal(t, jobID, o.JobID)
		return o
	case <-time.After(waitFor):
		t.Fatalf("no offer of %s within %s", jobID, waitFor)
		return patchbay.Offer{}
	}
}

// A known sequence of commands shows in the counters exactly, and the queues in the
// gauges.
func TestMetricsCountWhatHappened(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns.ClientURL())
	r := natstest.StartRouter(t, nc, router.Config{})
	h := monitor.Handler(r)
	c, err := patchbay.New(nc, patchbay.WithTimeout(waitFor))
	require.NoError(t, err)
	one := 1
	register := func(id string) {
		_, err := c.RegisterWorker(ctx(t), patchbay.WorkerSpec{WorkerID: id, Queues: []string{"q"}, TotalCapacity: &one,
			Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1, MaxNumberOfJobs: 1}}})
		require.NoError(t, err)
	}
	create := func(id, queue string) {
		_, err := c.CreateJob(ctx(t), patchbay.JobSpec{JobID: id, QueueID: queue, ChannelID: "voice"})
		require.NoError(t, err)
	}
	alice, bob := offers(t, nc, "alice"), offers(t, nc, "bob")

	// alice declines j1, which then goes to bob; j2 goes to alice; j3 waits in q2,
	// which no worker serves.
	register("alice")
	create("j1", "q")
	require.NoError(t, c.Decline(ctx(t), next(t, alice, "j1"), nil))
	register("bob")
	a1, err := c.Accept(ctx(t), next(t, bob, "j1"))
	require.NoError(t, err)
	create("j2", "q")
	a2, err := c.Accept(ctx(t), next(t, alice, "j2"))
	require.NoError(t, err)
	create("j3", "q2")
	// Both workers hold a job: busy, none idle.
	held := scrape(t, h)
	require.Equal(t, 2.0, held[`patchbay_queue_busy_workers{queue="q"}`])
	require.Equal(t, 0.0, held[`patchbay_queue_idle_workers{queue="q"}`])
	for _, j := range []struct{ id, asg string }{{"j1", a1}, {"j2", a2}} {
		require.NoError(t, c.Complete(ctx(t), j.id, j.asg, ""))
		require.NoError(t, c.Close(ctx(t), j.id, j.asg, patchbay.CloseOptions{DispositionCode: "Resolved"}))
	}
	err = c.Complete(ctx(t), "nope", "a", "")
	require.ErrorIs(t, err, patchbay.ErrUnknownJob)

	m := scrape(t, h)
	for name, want := range map[string]float64{
		`patchbay_offers_total{event="issued",queue="q"}`:                         3,
		`patchbay_offers_total{event="declined",queue="q"}`:                       1,
		`patchbay_offers_total{event="accepted",queue="q"}`:                       2,
		`patchbay_assignments_total{queue="q"}`:                                   2,
		`patchbay_job_closes_total{disposition="Resolved"}`:                       2,
		`patchbay_commands_applied_total{type="worker.register"}`:                 2,
		`patchbay_commands_applied_total{type="job.created"}`:                     3,
		`patchbay_commands_applied_total{type="offer.decline"}`:                   1,
		`patchbay_commands_applied_total{type="offer.accept"}`:                    2,
		`patchbay_commands_applied_total{type="job.complete"}`:                    2,
		`patchbay_commands_applied_total{type="job.close"}`:                       2,
		`patchbay_commands_refused_total{code="unknown_job",type="job.complete"}`: 1,
		`patchbay_command_latency_seconds_count{type="job.created"}`:              3,
		`patchbay_command_latency_seconds_count{type="job.complete"}`:             3,
		`patchbay_persist_failures_total`:                                         0,
		`patchbay_commands_dead_lettered_total`:                                   0,
		`patchbay_lease_held`:                                                     1,
		`patchbay_consumer_pending`:                                               0,
		`patchbay_queue_length{queue="q"}`:                                        0,
		`patchbay_queue_available_workers{queue="q"}`:                             2,
		`patchbay_queue_idle_workers{queue="q"}`:                                  2,
		`patchbay_queue_length{queue="q2"}`:                                       1,
		`patchbay_queue_available_workers{queue="q2"}`:                            0,
		`patchbay_queue_idle_workers{queue="q2"}`:                                 0,
		`patchbay_queue_busy_workers{queue="q"}`:                                  0,
	} {
		got, ok := m[name]
		require.True(t, ok, "no sample %s", name)
		require.Equal(t, want, got, name)
	}
	require.Greater(t, m[`patchbay_queue_oldest_wait_seconds{queue="q2"}`], 0.0)
	// q assigned two jobs lately: a job joining it now has an estimate; q2 assigned
	// none, so it has none.
	require.Greater(t, m[`patchbay_queue_estimated_wait_seconds{queue="q"}`], 0.0)
	_, ok := m[`patchbay_queue_estimated_wait_seconds{queue="q2"}`]
	require.False(t, ok, "q2 has no estimate")
	require.Greater(t, m[`patchbay_persist_seconds_count`], 0.0)
	require.Equal(t, m[`patchbay_persist_seconds_count`], m[`patchbay_record_commands_count`])
	for name := range m {
		require.NotContains(t, name, `event="expired"`, "nothing expired")
	}

	code, body := get(t, h, "/healthz")
	require.Equal(t, http.StatusOK, code, body)
}

// /readyz: 200 for the active router and for a standby waiting for the lease, 503
// for a router that stopped and one whose broker connection is down.
func TestReadiness(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	cfg := router.Config{LeaseTTL: time.Second}
	active := natstest.StartRouter(t, natstest.Connect(t, ns.ClientURL()), cfg)
	ha := monitor.Handler(active)
	code, rd := readiness(t, ha)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, router.StateActive, rd.State)
	require.Equal(t, "connected", rd.Broker)

	// A standby reaches the broker through a proxy the test can cut.
	proxy := natstest.StartProxy(t, strings.TrimPrefix(ns.ClientURL(), "nats://"))
	snc := natstest.Connect(t, proxy.URL())
	standby, err := router.New(snc, cfg)
	require.NoError(t, err)
	hs := monitor.Handler(standby)
	code, rd = readiness(t, hs)
	require.Equal(t, http.StatusServiceUnavailable, code, "not started yet")
	require.Equal(t, router.StateStarting, rd.State)
	started := make(chan error, 1)
	sctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { started <- standby.Start(sctx) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_ = standby.Stop(ctx)
	})
	require.Eventually(t, func() bool { return standby.Status().State == router.StateStandby }, waitFor, tick)
	code, rd = readiness(t, hs)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, router.StateStandby, rd.State)
	require.Equal(t, 0.0, scrape(t, hs)["patchbay_lease_held"])

	// The active router stops: it is not ready; the standby takes over.
	require.NoError(t, active.Stop(ctx(t)))
	code, rd = readiness(t, ha)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, router.StateStopped, rd.State)
	require.Contains(t, rd.Reason, "stopped")
	select {
	case err := <-started:
		require.NoError(t, err)
	case <-time.After(waitFor):
		t.Fatal("the standby did not take over")
	}
	code, rd = readiness(t, hs)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, router.StateActive, rd.State)

	// Its broker connection is cut: not ready, saying why; back once restored.
	proxy.Cut()
	require.Eventually(t, func() bool { return !snc.IsConnected() }, waitFor, tick)
	code, rd = readiness(t, hs)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.NotEqual(t, "connected", rd.Broker)
	require.Contains(t, rd.Reason, "broker")
	proxy.Restore()
	require.Eventually(t, snc.IsConnected, waitFor, tick)
	code, _ = readiness(t, hs)
	require.Equal(t, http.StatusOK, code)

	code, _ = get(t, hs, "/healthz")
	require.Equal(t, http.StatusOK, code)
}

// WithDashboard serves the dashboard at / and every other path, and leaves the
// probes and the metrics to the listener.
func TestWithDashboard(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns.ClientURL())
	r := natstest.StartRouter(t, nc, router.Config{})
	dash := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = w.Write([]byte("dashboard " + req.URL.Path))
	})
	h := monitor.Handler(r, monitor.WithDashboard(dash))
	for path, want := range map[string]string{
		"/":           "dashboard /",
		"/jobs/j1":    "dashboard /jobs/j1",
		"/api/events": "dashboard /api/events",
		"/healthz":    "ok\n",
		"/readyz":     `"status":"active"`,
		"/metrics":    "patchbay_lease_held 1",
	} {
		code, body := get(t, h, path)
		require.Equal(t, http.StatusOK, code, path)
		require.Contains(t, body, want, path)
	}
	code, _ := get(t, monitor.Handler(r), "/")
	require.Equal(t, http.StatusNotFound, code, "no dashboard without WithDashboard")
}
