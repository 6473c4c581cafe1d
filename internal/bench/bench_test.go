package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

func TestRunEmbedded(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Jobs: 50, Workers: 5, Baseline: 100})
	require.NoError(t, err, rep.String())

	assert.True(t, rep.Embedded)
	assert.Equal(t, ModeFlatOut, rep.Mode)
	assert.Equal(t, 50, rep.Jobs)
	assert.Equal(t, 50, rep.Closed, "every job reaches closed")
	assert.Equal(t, 5, rep.Workers)
	assert.Equal(t, CapacityDefault, rep.Capacity)
	assert.Positive(t, rep.Duration)
	assert.Positive(t, rep.Throughput)
	for name, l := range map[string]Latency{"created->offer": rep.CreatedToOffer, "created->assigned": rep.CreatedToAssigned} {
		assert.Equal(t, 50, l.Count, name)
		assert.Positive(t, l.P50, name)
		assert.LessOrEqual(t, l.P50, l.P99, name)
		assert.LessOrEqual(t, l.P99, l.P999, name)
		assert.LessOrEqual(t, l.P999, l.Max, name)
		assert.LessOrEqual(t, l.Max, rep.Duration, name)
	}
	assert.LessOrEqual(t, rep.CreatedToOffer.P50, rep.CreatedToAssigned.P50)
	// Flat out, up to 1000 jobs wait for the 5 workers: each close is followed by the
	// worker's next offer, but for the last job of each worker.
	assert.Equal(t, 45, rep.FreedToOffer.Count)

	s := rep.String()
	assert.Contains(t, s, "50/50 jobs")
	assert.Contains(t, s, "jobs/s")
	assert.Contains(t, s, "created -> offer")
	assert.Contains(t, s, "p99.9")
	assert.Contains(t, s, "% of raw async publish")
	assert.Contains(t, s, "% of the raw chain")
	assert.Contains(t, s, "raw relay chain")
	assert.Contains(t, s, "x raw p99")
	assert.Contains(t, s, "writes/job")
	assert.Contains(t, s, "KV_PATCHBAY_JOBS")

	// The baseline ran on the same server, with the replicas of patchbay's streams.
	require.NotNil(t, rep.Baseline)
	assert.Equal(t, 1, rep.Baseline.Replicas)
	assert.Equal(t, 100, rep.Baseline.AsyncMsgs)
	assert.Equal(t, 100, rep.Baseline.SyncMsgs)
	assert.Positive(t, rep.Baseline.AsyncPublish)
	assert.Equal(t, 100, rep.Baseline.PublishAck.Count)
	assert.Greater(t, rep.Baseline.MsgBytes, 200)
	assert.Positive(t, rep.ThroughputVsRaw)
	require.NotNil(t, rep.Baseline.Chain, "flat out, the raw chain runs flat out too")
	assert.Equal(t, 100, rep.Baseline.Chain.Jobs)
	assert.Equal(t, MaxOpenDefault, rep.Baseline.Chain.MaxOpen)
	assert.Equal(t, 100, rep.Baseline.Chain.CreatedToOffer.Count)
	assert.Positive(t, rep.ThroughputVsChain)
	assert.Zero(t, rep.OfferP99VsChain)
	assert.Zero(t, rep.OfferP99VsRaw, "flat out, created -> offer is the wait for a worker")
	assert.Positive(t, rep.FreedP99VsRaw)

	// Every job's four commands, and every stream counted.
	assertWrites(t, rep, 4*50)
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, rep, back)
	assert.Contains(t, string(b), `"jobsPerSecond"`)
}

func TestRunAgainstRunningRouter(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	// Two runs on one router use their own queues and workers.
	for range 2 {
		rep, err := Run(ctx, Config{Jobs: 20, Workers: 3, Capacity: 2, MaxOpen: 4, URL: url, Baseline: 50})
		require.NoError(t, err, rep.String())
		assert.False(t, rep.Embedded)
		assert.Equal(t, 20, rep.Closed)
		assert.Zero(t, rep.Errors, rep.String())
		assertWrites(t, rep, 4*20)
		// The scratch stream is gone.
		js, err := jetstream.New(natstest.Connect(t, url))
		require.NoError(t, err)
		_, err = js.Stream(ctx, rep.Baseline.Stream)
		assert.ErrorIs(t, err, jetstream.ErrStreamNotFound)
		// So are the raw chain's streams and bucket.
		names := js.StreamNames(ctx)
		for name := range names.Name() {
			assert.NotContains(t, name, "PATCHBAY_BENCH_")
		}
		require.NoError(t, names.Err())
	}
}

// assertWrites checks that the report counts every patchbay stream and that the
// inbound stream took exactly the commands the run sent.
func assertWrites(t *testing.T, rep Report, commands int) {
	t.Helper()
	var names []string
	var in uint64
	for _, s := range rep.Writes.Streams {
		names = append(names, s.Stream)
		if s.Stream == "PATCHBAY_IN" {
			in = s.Writes
		}
	}
	assert.Equal(t, []string{"PATCHBAY_IN", "PATCHBAY_EVENTS", "PATCHBAY_DEAD", "KV_PATCHBAY_JOBS", "KV_PATCHBAY_WORKERS",
		"KV_PATCHBAY_OFFERS", "KV_PATCHBAY_QUEUES", "KV_PATCHBAY_POLICIES", "KV_PATCHBAY_ROUTER"}, names)
	assert.Equal(t, uint64(commands), in, "commands on the inbound stream")
	assert.Greater(t, rep.Writes.Total, in)
	assert.InDelta(t, float64(rep.Writes.Total)/float64(rep.Jobs), rep.Writes.PerJob, 1e-9)
}

func TestRunRate(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Jobs: 40, Workers: 10, Rate: 200, Baseline: 100})
	require.NoError(t, err, rep.String())
	assert.Equal(t, ModeRate, rep.Mode)
	assert.Equal(t, 40, rep.Closed)
	assert.Zero(t, rep.MaxOpen)
	// 40 creates at 200/s take 195 ms at least.
	assert.GreaterOrEqual(t, rep.CreateDuration, 195*time.Millisecond)
	require.NotNil(t, rep.Baseline)
	assert.Equal(t, 200.0, rep.Baseline.SyncRate, "the baseline's synchronous publishes go at the run's rate")
	assert.Equal(t, 100, rep.Baseline.PublishAck.Count)
	assert.Positive(t, rep.OfferP99VsRaw)
	assert.Zero(t, rep.FreedP99VsRaw)
	require.NotNil(t, rep.Baseline.Chain)
	assert.Equal(t, 200.0, rep.Baseline.Chain.Rate, "the raw chain goes at the run's rate")
	assert.Positive(t, rep.OfferP99VsChain)
	assert.Zero(t, rep.ThroughputVsChain)
	assert.Contains(t, rep.String(), "x raw chain p99")
	assert.Contains(t, rep.String(), "created at 200 jobs/s")
	// Below the workers' capacity a freed worker waits for the next job: not a latency.
	assert.Zero(t, rep.FreedToOffer.Count)
	assert.Contains(t, rep.String(), "measured only when jobs wait for workers")
}

func TestRunBacklog(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var progress lockedBuffer
	rep, err := Run(ctx, Config{Backlog: 50, Workers: 5, Baseline: -1, Progress: &progress})
	require.NoError(t, err, rep.String())
	assert.Equal(t, ModeBacklog, rep.Mode)
	assert.Equal(t, 50, rep.Jobs)
	assert.Equal(t, 50, rep.Closed)
	assert.Zero(t, rep.Errors, rep.String())
	assert.Nil(t, rep.Baseline)
	assert.NotContains(t, rep.String(), "raw relay chain")
	assert.Positive(t, rep.BacklogQueued)
	assert.Positive(t, rep.Throughput)
	// Each worker's first offer comes with its availability; the 45 others follow a
	// close.
	assert.Equal(t, 45, rep.FreedToOffer.Count)
	assert.Positive(t, rep.FreedToOffer.P50)
	// Every job waited in the backlog longer than it took to queue them all.
	assert.Equal(t, 50, rep.CreatedToOffer.Count)
	// The jobs' commands, and one update per worker making it available.
	assertWrites(t, rep, 4*50+5)
	s := rep.String()
	assert.Contains(t, s, "drain throughput")
	assert.Contains(t, s, "backlog queued")
	assert.Contains(t, progress.String(), "bench: registering workers")
	assert.Contains(t, progress.String(), "bench: running")
}

func TestRunManyWorkers(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	nc := natstest.Connect(t, url)
	// Every worker is deregistered by the end of the run.
	deregistered := make(chan struct{}, 1000)
	sub, err := nc.Subscribe(events.WorkerSubject("*", events.TypeWorkerDeregistered), func(*nats.Msg) {
		deregistered <- struct{}{}
	})
	require.NoError(t, err)
	defer func() { _ = sub.Unsubscribe() }()
	require.NoError(t, nc.Flush())

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Jobs: 100, Workers: 200, RegisterParallel: 16, URL: url, Baseline: -1})
	require.NoError(t, err, rep.String())
	assert.Equal(t, 100, rep.Closed)
	assert.Zero(t, rep.Errors, rep.String())
	assert.Positive(t, rep.RegisterDuration)
	for i := range 200 {
		select {
		case <-deregistered:
		case <-ctx.Done():
			t.Fatalf("%d of 200 workers deregistered", i)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the progress goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestChainTakesEveryJobThroughItsLifecycle(t *testing.T) {
	t.Parallel()
	url := natstest.RunServer(t).ClientURL()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var said []string
	for _, rate := range []float64{0, 400} {
		c, err := measureChain(ctx, natstest.Connect(t, url), natstest.Connect(t, url), chainSpec{name: "PATCHBAY_BENCH_T",
			replicas: 1, jobs: 60, rate: rate, maxOpen: 7, msg: make([]byte, 300), timeout: 10 * time.Second},
			func(s string) { said = append(said, s) })
		require.NoError(t, err)
		assert.Equal(t, 60, c.Jobs)
		assert.Equal(t, 60, c.CreatedToOffer.Count, "every create's offer")
		assert.Positive(t, c.Throughput)
		// Per job: 4 commands, 7 events, 3 KV writes, and a record per batch (a
		// batch holds one command at least).
		assert.GreaterOrEqual(t, c.MsgsPerJob, 14.0)
		assert.LessOrEqual(t, c.MsgsPerJob, 18.0)
		if rate == 0 {
			assert.Equal(t, 7, c.MaxOpen)
			// With 7 jobs open, commands wait: records hold more than one.
			assert.Less(t, c.MsgsPerJob, 18.0)
		} else {
			assert.Zero(t, c.MaxOpen)
			// 60 creates at 400/s take 147 ms at least.
			assert.LessOrEqual(t, c.Throughput, 60/0.147)
		}
	}
	assert.Contains(t, said[0], "raw relay chain, 60 jobs flat out")
	assert.Contains(t, said[1], "at 400/s")
	// The scratch streams and bucket are gone: the name is free again.
	js, err := jetstream.New(natstest.Connect(t, url))
	require.NoError(t, err)
	for _, name := range []string{"PATCHBAY_BENCH_T_IN", "PATCHBAY_BENCH_T_EV", "KV_PATCHBAY_BENCH_T"} {
		_, err := js.Stream(ctx, name)
		assert.ErrorIs(t, err, jetstream.ErrStreamNotFound, name)
	}
}

func TestChainWithoutRecordWritesNone(t *testing.T) {
	t.Parallel()
	url := natstest.RunServer(t).ClientURL()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	msgs := map[bool]float64{}
	for _, noRecord := range []bool{false, true} {
		c, err := measureChain(ctx, natstest.Connect(t, url), natstest.Connect(t, url), chainSpec{name: "PATCHBAY_BENCH_R",
			replicas: 1, jobs: 40, rate: 1000, msg: make([]byte, 100), timeout: 10 * time.Second, noRecord: noRecord}, func(string) {})
		require.NoError(t, err)
		assert.Equal(t, noRecord, c.NoRecord)
		assert.Equal(t, 40, c.CreatedToOffer.Count)
		msgs[noRecord] = c.MsgsPerJob
	}
	// Without its record, a job is its 4 commands, 7 events and 3 KV writes.
	assert.Equal(t, 14.0, msgs[true])
	assert.Greater(t, msgs[false], 14.0, "a record per batch")
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	assert.NoError(t, Config{}.Validate())
	assert.ErrorContains(t, Config{Jobs: -1}.Validate(), "jobs must be positive")
	assert.ErrorContains(t, Config{Workers: -1, Capacity: -2}.Validate(), "capacity must be positive (got -2)")
	_, err := Run(context.Background(), Config{MaxOpen: -1})
	assert.ErrorContains(t, err, "max open")
	assert.ErrorContains(t, Config{Rate: 10, Backlog: 10}.Validate(), "rate and backlog exclude each other")
	assert.ErrorContains(t, Config{Replicas: 7}.Validate(), "replicas must be between 1 and 5")
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(100-i) * time.Millisecond
	}
	l := latency(ds)
	assert.Equal(t, Latency{Count: 100, P50: 50 * time.Millisecond, P99: 99 * time.Millisecond, P999: 100 * time.Millisecond, Max: 100 * time.Millisecond}, l)
	assert.Equal(t, Latency{Count: 1, P50: time.Second, P99: time.Second, P999: time.Second, Max: time.Second}, latency([]time.Duration{time.Second}))
	ds = make([]time.Duration, 2000)
	for i := range ds {
		ds[i] = time.Duration(i+1) * time.Microsecond
	}
	assert.Equal(t, Latency{Count: 2000, P50: 1000 * time.Microsecond, P99: 1980 * time.Microsecond, P999: 1998 * time.Microsecond, Max: 2000 * time.Microsecond}, latency(ds))
	assert.Equal(t, Latency{}, latency(nil))
}

func TestRunOnCluster(t *testing.T) {
	t.Parallel()
	url := natstest.ClusterURLs(natstest.RunCluster(t))
	startRouterOn(t, url, router.Config{Replicas: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	// The scratch stream has the replicas of patchbay's streams, or those asked for.
	for _, tt := range []struct{ replicas, want int }{{0, 3}, {1, 1}} {
		rep, err := Run(ctx, Config{Jobs: 20, Workers: 4, URL: url, Baseline: 50, Replicas: tt.replicas})
		require.NoError(t, err, rep.String())
		assert.Equal(t, 20, rep.Closed)
		assert.Equal(t, tt.want, rep.Replicas)
		require.NotNil(t, rep.Baseline)
		assert.Equal(t, tt.want, rep.Baseline.Replicas)
		assert.Contains(t, rep.String(), fmt.Sprintf("stream R%d", tt.want))
	}
}

func startRouter(tb testing.TB) string {
	tb.Helper()
	ns := natstest.RunServer(tb)
	startRouterOn(tb, ns.ClientURL(), router.Config{})
	return ns.ClientURL()
}

func startRouterOn(tb testing.TB, url string, cfg router.Config) {
	tb.Helper()
	natstest.StartRouter(tb, natstest.Connect(tb, url), cfg)
}

// BenchmarkLifecycle runs b.N jobs through their whole lifecycle on one router and
// reports the throughput and the create-to-offer latency.
func BenchmarkLifecycle(b *testing.B) {
	url := startRouter(b)
	ctx := context.Background()
	b.ResetTimer()
	rep, err := Run(ctx, Config{Jobs: b.N, Workers: 20, URL: url, Baseline: -1})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rep.Throughput, "jobs/s")
	b.ReportMetric(float64(rep.CreatedToOffer.P50.Microseconds()), "p50-offer-µs")
	b.ReportMetric(float64(rep.CreatedToOffer.P99.Microseconds()), "p99-offer-µs")
}
