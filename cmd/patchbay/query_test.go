package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/schemas"
)

// decodeStrict decodes one JSON value, refusing fields v does not have.
func decodeStrict(t *testing.T, out string, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(out)))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), out)
	// What the command prints is the wire answer, io.patchbay.query.result.
	require.NoError(t, schemas.ValidateData(events.TypeQueryResult, []byte(out)), out)
}

func TestJobGetAndQueueStats(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	defer cancel()
	create := func(id string, more ...string) {
		t.Helper()
		mustRun(ctx, t, append([]string{"job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice", "--id", id}, more...)...)
	}

	// Nobody works the queue: the jobs wait, in the order they came.
	create("call-1")
	create("call-2")
	out := mustRun(ctx, t, "job", "get", "--nats-url", url, "call-2")
	assert.Equal(t, "job:            call-2\n"+
		"status:         queued\n"+
		"queue:          support\n"+
		"channel:        voice\n"+
		"priority:       0\n"+
		"position:       2 of 2\n"+
		"estimated wait: none: no worker can take this job (patchbay job explain call-2)\n", out)

	// A job of higher priority goes before both.
	create("urgent", "--priority", "10")
	assert.Contains(t, mustRun(ctx, t, "job", "get", "--nats-url", url, "call-2"), "position:       3 of 3\n")
	assert.Contains(t, mustRun(ctx, t, "job", "get", "--nats-url", url, "urgent"), "position:       1 of 3\n")

	out = mustRun(ctx, t, "job", "get", "--nats-url", url, "call-2", "--json")
	var info events.JobInfo
	decodeStrict(t, out, &info)
	assert.Equal(t, "call-2", info.Job.JobID)
	assert.Equal(t, "queued", info.Job.Status)
	assert.Equal(t, 3, info.Position)
	assert.Equal(t, 3, info.QueueLength)
	assert.Nil(t, info.EstimatedWaitSeconds, "no assignments to estimate from")

	out = mustRun(ctx, t, "queue", "stats", "--nats-url", url, "support")
	assert.Regexp(t, `^queue:                  support\n`+
		`length:                 3\n`+
		`longest wait:           \d+(\.\d)?(ms|s|m\S*)\n`+
		`available workers:      0\n`+
		`idle workers:           0\n`+
		`assignments per minute: 0\n`+
		`priority 10:            1 ahead, estimated wait unknown\n`+
		`priority 0:             3 ahead, estimated wait unknown\n$`, out)

	out = mustRun(ctx, t, "queue", "stats", "--nats-url", url, "support", "--json")
	var q events.QueueInfo
	decodeStrict(t, out, &q)
	assert.Equal(t, "support", q.QueueID)
	assert.Equal(t, 3, q.Length)
	assert.GreaterOrEqual(t, q.LongestWaitSeconds, 0.0)
	assert.Equal(t, []events.PriorityWait{{Priority: 10, Ahead: 1}, {Priority: 0, Ahead: 3}}, q.EstimatedWait)

	// A queue nobody used is empty, not an error.
	out = mustRun(ctx, t, "queue", "stats", "--nats-url", url, "nobody-here")
	assert.Contains(t, out, "length:                 0\n")

	_, err := runOut(ctx, "job", "get", "--nats-url", url, "no-such-job")
	require.ErrorIs(t, err, patchbay.ErrUnknownJob)
	assert.Contains(t, err.Error(), "get job no-such-job")
	assert.Contains(t, err.Error(), `"no-such-job"`)
}

// Once a worker takes a job: the job shows its assignment and no place in the queue,
// and the queue has an assignment rate to estimate from.
func TestJobGetAssigned(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	defer cancel()
	c, offers := offersOf(t, url, "dave")

	mustRun(ctx, t, "worker", "register", "--nats-url", url, "--id", "dave", "--queue", "sales")
	mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "sales", "--channel", "voice", "--id", "lead-1")
	o, err := offers.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, "lead-1", o.JobID)
	aid, err := c.Accept(ctx, o)
	require.NoError(t, err)

	out := mustRun(ctx, t, "job", "get", "--nats-url", url, "lead-1")
	assert.Equal(t, "job:        lead-1\n"+
		"status:     assigned\n"+
		"queue:      sales\n"+
		"channel:    voice\n"+
		"priority:   0\n"+
		"worker:     dave\n"+
		"assignment: "+aid+"\n", out)

	out = mustRun(ctx, t, "job", "get", "--nats-url", url, "lead-1", "--json")
	var info events.JobInfo
	decodeStrict(t, out, &info)
	require.NotNil(t, info.Job.Assignment)
	assert.Equal(t, "dave", info.Job.Assignment.WorkerID)
	assert.Equal(t, aid, info.Job.Assignment.AssignmentID)
	assert.Zero(t, info.Position)

	// dave holds the job with all his capacity: available, not idle.
	out = mustRun(ctx, t, "queue", "stats", "--nats-url", url, "sales")
	assert.Regexp(t, `(?m)^length:                 0$`, out)
	assert.Regexp(t, `(?m)^available workers:      1$`, out)
	assert.Regexp(t, `(?m)^idle workers:           0$`, out)
	assert.Regexp(t, `(?m)^workers by activity:    available 1$`, out)
	assert.Regexp(t, `(?m)^priority 0:             0 ahead, estimated wait \d+(\.\d)?(ms|s|m\S*|h\S*)$`, out)
	assert.NotRegexp(t, `(?m)^assignments per minute: 0$`, out)

	out = mustRun(ctx, t, "queue", "stats", "--nats-url", url, "sales", "--json")
	var q events.QueueInfo
	decodeStrict(t, out, &q)
	assert.Greater(t, q.AssignmentsPerMinute, 0.0)
	assert.Equal(t, map[string]int{"available": 1}, q.WorkersByActivity)
	require.Len(t, q.EstimatedWait, 1)
	require.NotNil(t, q.EstimatedWait[0].EstimatedWaitSeconds)
	assert.Greater(t, *q.EstimatedWait[0].EstimatedWaitSeconds, 0.0)
}

// worker get shows a worker's outstanding offers and the jobs it holds, as a worker
// that restarted would ask for them.
func TestWorkerGet(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	defer cancel()
	c, offers := offersOf(t, url, "erin")

	_, err := runOut(ctx, "worker", "get", "--nats-url", url, "erin")
	require.ErrorIs(t, err, patchbay.ErrUnknownWorker)
	assert.Contains(t, err.Error(), "get worker erin")

	mustRun(ctx, t, "worker", "register", "--nats-url", url, "--id", "erin", "--queue", "support", "--capacity", "2", "--channel", "voice:1:2")
	mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice", "--id", "call-1")
	first, err := offers.Next(ctx)
	require.NoError(t, err)
	aid, err := c.Accept(ctx, first)
	require.NoError(t, err)
	mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice", "--id", "call-2")
	second, err := offers.Next(ctx)
	require.NoError(t, err)

	out := mustRun(ctx, t, "worker", "get", "--nats-url", url, "erin")
	assert.Regexp(t, `^worker:   erin\n`+
		`state:    active\n`+
		`capacity: 2 of 2 used\n`+
		`offer:    `+second.OfferID+` for job call-2 \(queue support, channel voice\), expires \d\d:\d\d:\d\d\n`+
		`job:      call-1 assigned \(queue support, channel voice\), assignment `+aid+`\n$`, out)

	out = mustRun(ctx, t, "worker", "get", "--nats-url", url, "erin", "--json")
	var info events.WorkerInfo
	decodeStrict(t, out, &info)
	assert.Equal(t, "erin", info.Worker.WorkerID)
	require.Len(t, info.Offers, 1)
	assert.Equal(t, second.OfferID, info.Offers[0].OfferID)
	require.NotNil(t, info.Offers[0].Job)
	assert.Equal(t, "call-2", info.Offers[0].Job.JobID)
	require.Len(t, info.Jobs, 1)
	assert.Equal(t, aid, info.Jobs[0].Assignment.AssignmentID)
	assert.False(t, info.Truncated)
}

func TestQueryCommandsBadArgs(t *testing.T) {
	t.Parallel()
	// Nothing listens here: a command that got past its arguments would fail to connect.
	const nowhere = "nats://127.0.0.1:1"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"stats without queue", []string{"queue", "stats"}, `accepts 1 arg(s), received 0`},
		{"stats bad queue", []string{"queue", "stats", "--nats-url", nowhere, "sales.emea"}, `queue "sales.emea": an id is 1-128 letters`},
		{"get without job", []string{"job", "get"}, `accepts 1 arg(s), received 0`},
		{"get bad job", []string{"job", "get", "--nats-url", nowhere, "a b"}, `job "a b": an id is 1-128 letters`},
		{"get no server", []string{"job", "get", "--nats-url", nowhere, "j"}, `no NATS server answers at ` + nowhere},
		{"stats no server", []string{"queue", "stats", "--nats-url", nowhere, "q", "--timeout", "2s"}, `no NATS server answers at ` + nowhere},
		{"worker get without worker", []string{"worker", "get"}, `accepts 1 arg(s), received 0`},
		{"worker get bad worker", []string{"worker", "get", "--nats-url", nowhere, "a.*"}, `worker "a.*": an id is 1-128 letters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			_, err := runOut(ctx, tt.args...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestQueryHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want []string
	}{
		{nil, []string{"queue"}},
		{[]string{"queue"}, []string{"stats"}},
		{[]string{"queue", "stats"}, []string{"QUEUE", "--json", "unknown", "--nats-url", "--nats-creds", "--timeout"}},
		{[]string{"job"}, []string{"get", "create", "cancel", "complete", "close"}},
		{[]string{"job", "get"}, []string{"JOB", "--json", "position", "--nats-url", "--nats-creds", "--timeout"}},
		{[]string{"worker"}, []string{"get", "run", "register"}},
		{[]string{"worker", "get"}, []string{"WORKER", "--json", "offers", "--nats-url", "--nats-creds", "--timeout"}},
	}
	for _, tt := range tests {
		out, err := runOut(context.Background(), append(tt.args, "--help")...)
		require.NoError(t, err)
		for _, w := range tt.want {
			assert.Contains(t, out, w, "patchbay %v --help", tt.args)
		}
	}
}

func TestSeconds(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{0: "0s", 0.04: "0s", 2.46: "2.5s", 9.94: "9.9s", 45: "45s", 90.4: "1m30s", 3725: "1h2m5s"} {
		assert.Equal(t, want, seconds(in), "seconds(%v)", in)
	}
	assert.Equal(t, "unknown", estimatedWait(nil))
	s := 12.0
	assert.Equal(t, "12s", estimatedWait(&s))
	for in, want := range map[float64]string{0: "0", 4: "4", 1 / 15.0: "0.07", 12.345: "12.35"} {
		assert.Equal(t, want, perMinute(in), "perMinute(%v)", in)
	}
}

// offersOf connects a client to url and follows worker id's offers until the test ends.
func offersOf(t *testing.T, url, id string) (*patchbay.Client, *patchbay.Offers) {
	t.Helper()
	c, err := patchbay.New(natstest.Connect(t, url))
	require.NoError(t, err)
	offers, err := c.Offers(id)
	require.NoError(t, err)
	t.Cleanup(func() { _ = offers.Stop() })
	return c, offers
}
