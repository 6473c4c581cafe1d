package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
)

// jsonLines decodes every line of out strictly into a new T.
func jsonLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var items []T
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var v T
		decodeStrictLine(t, line, &v)
		items = append(items, v)
	}
	return items
}

func TestListCommands(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	defer cancel()

	file := filepath.Join(t.TempDir(), "policies.yaml")
	require.NoError(t, os.WriteFile(file, []byte("queues: [{id: support, order: lifo}]\n"), 0o644))
	mustRun(ctx, t, "policy", "apply", file, "--nats-url", url)
	for _, id := range []string{"call-1", "call-2", "call-3"} {
		mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice", "--id", id)
	}
	mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "sales", "--channel", "voice", "--id", "sale-1")
	mustRun(ctx, t, "worker", "register", "--nats-url", url, "--id", "bob", "--queue", "sales", "--activity", "break")

	out := mustRun(ctx, t, "job", "list", "--nats-url", url)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5, out)
	assert.Regexp(t, `^JOB +STATUS +QUEUE +CHANNEL +PRIORITY +POSITION +WORKER +CREATED$`, lines[0])
	assert.Regexp(t, `^call-1 +queued +support +voice +0 +3 +- +\d{4}-\d\d-\d\dT`, lines[1], "oldest first; lifo: call-1 is last in its queue")
	assert.Regexp(t, `^sale-1 +queued +sales `, lines[4])

	// One page of two says how to go on; --after goes on; --all follows to the end.
	out = mustRun(ctx, t, "job", "list", "--nats-url", url, "--limit", "2", "--json")
	require.Contains(t, out, "more follow: add --after ")
	first, rest, _ := strings.Cut(out, "more follow: add --after ")
	cursor, _, _ := strings.Cut(rest, ",")
	jobs := jsonLines[events.JobInfo](t, first)
	require.Len(t, jobs, 2)
	assert.Equal(t, "call-1", jobs[0].Job.JobID)
	out = mustRun(ctx, t, "job", "list", "--nats-url", url, "--limit", "2", "--json", "--after", cursor)
	jobs = jsonLines[events.JobInfo](t, out)
	require.Len(t, jobs, 2)
	assert.Equal(t, "call-3", jobs[0].Job.JobID)
	out = mustRun(ctx, t, "job", "list", "--nats-url", url, "--limit", "1", "--all", "--json", "--status", "queued", "--queue", "support")
	jobs = jsonLines[events.JobInfo](t, out)
	require.Len(t, jobs, 3)
	assert.NotContains(t, out, "more follow")

	_, err := runOut(ctx, "job", "list", "--nats-url", url, "--status", "offered")
	require.ErrorIs(t, err, patchbay.ErrInvalidData)
	require.ErrorContains(t, err, "status")
	_, err = runOut(ctx, "job", "list", "--nats-url", url, "--limit", "1001")
	require.ErrorContains(t, err, "--limit")
	_, err = runOut(ctx, "job", "list", "--nats-url", url, "--after", "nonsense")
	require.ErrorIs(t, err, patchbay.ErrInvalidData)

	out = mustRun(ctx, t, "worker", "list", "--nats-url", url)
	assert.Regexp(t, `^WORKER +ACTIVITY +STATE +PRESENCE +CAPACITY +OFFERS +JOBS +QUEUES\n`+
		`bob +break +inactive +- +0/1 +0 +0 +sales\n$`, out)
	workers := jsonLines[events.WorkerSummary](t, mustRun(ctx, t, "worker", "list", "--nats-url", url, "--json", "--activity", "break"))
	require.Len(t, workers, 1)
	assert.Equal(t, []events.ChannelLoad{{ChannelID: "voice"}}, workers[0].Channels)
	out = mustRun(ctx, t, "worker", "list", "--nats-url", url, "--activity", "available")
	assert.Equal(t, 1, strings.Count(out, "\n"), "the header only: %s", out)

	out = mustRun(ctx, t, "queue", "list", "--nats-url", url)
	assert.Regexp(t, `^QUEUE +LENGTH +LONGEST WAIT +AVAILABLE +IDLE\n`+
		`sales +1 +\S+ +0 +0\n`+
		`support +3 +\S+ +0 +0\n$`, out)
	queues := jsonLines[events.QueueInfo](t, mustRun(ctx, t, "queue", "list", "--nats-url", url, "--json"))
	require.Len(t, queues, 2)

	out = mustRun(ctx, t, "policy", "list", "--nats-url", url)
	assert.Regexp(t, `^KIND +ID +REVISION +UPDATED\nqueue +support +1 +\d{4}-`, out)
	policies := jsonLines[events.PolicyInfo](t, mustRun(ctx, t, "policy", "list", "--nats-url", url, "--json", "--kind", "queue"))
	require.Len(t, policies, 1)
	out = mustRun(ctx, t, "policy", "list", "--nats-url", url, "--kind", "activity")
	assert.Equal(t, 1, strings.Count(out, "\n"), "the header only: %s", out)

	out = mustRun(ctx, t, "policy", "get", "--nats-url", url, "queue", "support")
	assert.Regexp(t, `^kind:     queue\nid:       support\nrevision: 1\nupdated:  \S+\nspec: \{\n  "order": "lifo"\n\}\n$`, out)
	var p events.PolicyInfo
	decodeStrict(t, mustRun(ctx, t, "policy", "get", "--nats-url", url, "queue", "support", "--json"), &p)
	assert.Equal(t, policies[0], p)
	_, err = runOut(ctx, "policy", "get", "--nats-url", url, "queue", "nope")
	require.ErrorIs(t, err, patchbay.ErrUnknownPolicy)
}

// decodeStrictLine decodes one JSON line, refusing fields v does not have.
func decodeStrictLine(t *testing.T, line string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), line)
}

func TestJobExplain(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	defer cancel()
	mustRun(ctx, t, "worker", "register", "--nats-url", url, "--id", "bob", "--queue", "support", "--label", "language=fr")
	mustRun(ctx, t, "worker", "register", "--nats-url", url, "--id", "carol", "--queue", "support", "--activity", "break")
	mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice", "--id", "call-1", "--selector", "language equal en")

	out := mustRun(ctx, t, "job", "explain", "--nats-url", url, "call-1")
	assert.Equal(t, "job:          call-1 (queued, queue support, channel voice)\n"+
		"summary:      the job waits in queue support: no worker can take it now (see each worker's reason)\n"+
		"distribution: longestIdle, 0 of at most 1 offers out (first offered to at least 1)\n"+
		"WORKER  REASON       WHY\n"+
		"bob     selector     selector language equal en fails: its language is fr\n"+
		"carol   unavailable  it is unavailable: its activity \"break\" takes no offers\n", out)

	out = mustRun(ctx, t, "job", "explain", "--nats-url", url, "call-1", "--limit", "1")
	assert.Contains(t, out, "and 1 more workers (raise --limit)\n")

	var x events.Explanation
	decodeStrict(t, mustRun(ctx, t, "job", "explain", "--nats-url", url, "call-1", "--json"), &x)
	require.Len(t, x.Workers, 2)
	assert.Equal(t, &events.SelectorMiss{Key: "language", Operator: "equal", Wanted: "en", Actual: "fr"}, x.Workers[0].Selector)

	// Once a worker can take it: offered, and why that worker.
	mustRun(ctx, t, "worker", "register", "--nats-url", url, "--id", "alice", "--queue", "support", "--label", "language=en")
	decodeStrict(t, mustRun(ctx, t, "job", "explain", "--nats-url", url, "call-1", "--json"), &x)
	require.Len(t, x.Chosen, 1)
	assert.Equal(t, "alice", x.Chosen[0].WorkerID)
	assert.Equal(t, events.ReasonOffered, x.Workers[0].Reason)
	out = mustRun(ctx, t, "job", "explain", "--nats-url", url, "call-1")
	assert.Contains(t, out, "chosen:       alice: longestIdle: the lowest load ratio, then the longest idle; load ratio 1, idle since ")

	mustRun(ctx, t, "job", "cancel", "--nats-url", url, "call-1")
	out = mustRun(ctx, t, "job", "explain", "--nats-url", url, "call-1")
	assert.Equal(t, "job:     call-1 (cancelled, queue support, channel voice)\n"+
		"summary: the job is cancelled: only queued jobs are matched, so it is offered to nobody\n", out)

	_, err := runOut(ctx, "job", "explain", "--nats-url", url, "nope")
	require.ErrorIs(t, err, patchbay.ErrUnknownJob)
	_, err = runOut(ctx, "job", "explain", "--nats-url", url, "call-1", "--limit", "1001")
	require.ErrorContains(t, err, "--limit")
}
