package bench

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

func TestRunEmbedded(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Jobs: 50, Workers: 5})
	require.NoError(t, err, rep.String())

	assert.True(t, rep.Embedded)
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
		assert.LessOrEqual(t, l.P99, l.Max, name)
		assert.LessOrEqual(t, l.Max, rep.Duration, name)
	}
	assert.LessOrEqual(t, rep.CreatedToOffer.P50, rep.CreatedToAssigned.P50)

	s := rep.String()
	assert.Contains(t, s, "50/50 jobs")
	assert.Contains(t, s, "jobs/s")
	assert.Contains(t, s, "created -> offer")
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
		rep, err := Run(ctx, Config{Jobs: 20, Workers: 3, Capacity: 2, Producers: 4, URL: url})
		require.NoError(t, err, rep.String())
		assert.False(t, rep.Embedded)
		assert.Equal(t, 20, rep.Closed)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	assert.NoError(t, Config{}.Validate())
	assert.ErrorContains(t, Config{Jobs: -1}.Validate(), "jobs must be positive")
	assert.ErrorContains(t, Config{Workers: -1, Capacity: -2}.Validate(), "capacity must be positive (got -2)")
	_, err := Run(context.Background(), Config{Producers: -1})
	assert.ErrorContains(t, err, "producers")
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(100-i) * time.Millisecond
	}
	l := latency(ds)
	assert.Equal(t, Latency{Count: 100, P50: 50 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}, l)
	assert.Equal(t, Latency{Count: 1, P50: time.Second, P99: time.Second, Max: time.Second}, latency([]time.Duration{time.Second}))
	assert.Equal(t, Latency{}, latency(nil))
}

func startRouter(tb testing.TB) string {
	tb.Helper()
	ns := natstest.RunServer(tb)
	nc := natstest.Connect(tb, ns.ClientURL())
	r, err := router.New(nc, router.Config{})
	require.NoError(tb, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(tb, r.Start(ctx))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
	})
	return ns.ClientURL()
}

// BenchmarkLifecycle runs b.N jobs through their whole lifecycle on one router and
// reports the throughput and the create-to-offer latency.
func BenchmarkLifecycle(b *testing.B) {
	url := startRouter(b)
	ctx := context.Background()
	b.ResetTimer()
	rep, err := Run(ctx, Config{Jobs: b.N, Workers: 20, URL: url})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rep.Throughput, "jobs/s")
	b.ReportMetric(float64(rep.CreatedToOffer.P50.Microseconds()), "p50-offer-µs")
	b.ReportMetric(float64(rep.CreatedToOffer.P99.Microseconds()), "p99-offer-µs")
}
