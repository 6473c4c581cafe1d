package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/internal/bench"
)

func TestBenchCommand(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	out := mustRun(ctx, t, "bench", "--backlog", "30", "--workers", "3", "--baseline", "50", "--quiet", "--json")
	var rep bench.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	assert.Equal(t, bench.ModeBacklog, rep.Mode)
	assert.Equal(t, 30, rep.Closed)
	require.NotNil(t, rep.Baseline)
	assert.Equal(t, 50, rep.Baseline.AsyncMsgs)
	assert.Positive(t, rep.Writes.PerJob)

	// Progress and the table (both on the test's one output).
	out = mustRun(ctx, t, "bench", "--jobs", "20", "--workers", "2", "--no-baseline")
	assert.Contains(t, out, "bench: registering workers")
	assert.Contains(t, out, "bench: running")
	assert.Contains(t, out, "20/20 jobs")
	assert.Contains(t, out, "writes/job")
	assert.NotContains(t, out, "raw async publish")

	_, err := runOut(ctx, "bench", "--rate", "10", "--backlog", "10")
	assert.ErrorContains(t, err, "rate and backlog exclude each other")
}
