package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// testTimeout bounds every wait; generous, for a loaded machine under -race.
const testTimeout = 30 * time.Second

// startRouter starts a NATS server and a router on it for one test and returns the
// server's URL.
func startRouter(t *testing.T) string {
	t.Helper()
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns.ClientURL())
	natstest.StartRouter(t, nc, router.Config{})
	return ns.ClientURL()
}

// syncBuffer is an output buffer that a running command writes to while the test
// reads it and waits for what it expects.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{written: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	select {
	case s.written <- struct{}{}:
	default:
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the output contains want.
func (s *syncBuffer) waitFor(ctx context.Context, t *testing.T, want string) {
	t.Helper()
	for !strings.Contains(s.String(), want) {
		select {
		case <-s.written:
		case <-ctx.Done():
			t.Fatalf("output never contained %q; got:\n%s", want, s.String())
		}
	}
}

// run runs the patchbay command line in-process with args, writing to out.
func run(ctx context.Context, out io.Writer, args ...string) error {
	root := newRootCmd()
	root.SetOut(out)
	root.SetErr(out)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// runOut runs the command line and returns what it printed.
func runOut(ctx context.Context, args ...string) (string, error) {
	out := newSyncBuffer()
	err := run(ctx, out, args...)
	return out.String(), err
}

// mustRun runs the command line and fails the test when it fails.
func mustRun(ctx context.Context, t *testing.T, args ...string) string {
	t.Helper()
	out, err := runOut(ctx, args...)
	require.NoError(t, err, "patchbay %s\n%s", strings.Join(args, " "), out)
	return out
}

// waitEvent follows the events on subject (from the start of the stream) until one
// satisfies match, and returns it.
func waitEvent(ctx context.Context, t *testing.T, url, subject string, match func(patchbay.Event) bool) patchbay.Event {
	t.Helper()
	nc := natstest.Connect(t, url)
	c, err := patchbay.New(nc)
	require.NoError(t, err)
	w, err := c.Watch(ctx, patchbay.WatchOptions{Subjects: []string{subject}, FromStart: true})
	require.NoError(t, err)
	defer w.Stop()
	stop := context.AfterFunc(ctx, w.Stop)
	defer stop()
	for {
		ev, _, err := w.Next()
		if err != nil {
			t.Fatalf("waiting for an event on %s: %v (context: %v)", subject, err, ctx.Err())
		}
		if match == nil || match(ev) {
			return ev
		}
	}
}

func jobOf(t *testing.T, ev patchbay.Event) patchbay.Job {
	t.Helper()
	var j patchbay.Job
	require.NoError(t, ev.DataAs(&j))
	return j
}

func TestJobCreate(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	out := mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice")
	m := regexp.MustCompile(`^created job (\S+) \(queued\)\n$`).FindStringSubmatch(out)
	require.NotNil(t, m, "output %q", out)
	assert.True(t, events.ValidID(m[1]), "job id %q", m[1])

	args := []string{"job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice",
		"--id", "call-1", "--priority", "10", "--label", "skill=5", "--label", "lang=en", "--label", "vip=true",
		"--label", "ratio=0.5", "--tag", `crm="42"`, "--selector", "skill >= 3", "--selector", "lang==en",
		"--selector", "vip equal true", "--notes", "call back"}
	assert.Equal(t, "created job call-1 (queued)\n", mustRun(ctx, t, args...))
	assert.Equal(t, "job call-1 already exists (queued)\n", mustRun(ctx, t, args...), "same id again")

	ev := waitEvent(ctx, t, url, events.JobSubject("support", "call-1", events.TypeJobQueued), nil)
	j := jobOf(t, ev)
	assert.Equal(t, 10, j.Priority)
	assert.Equal(t, "call back", j.Notes)
	assert.Equal(t, patchbay.Labels{"skill": 5.0, "lang": "en", "vip": true, "ratio": 0.5}, j.Labels)
	assert.Equal(t, map[string]any{"crm": "42"}, j.Tags)
	assert.Equal(t, []patchbay.WorkerSelector{
		{Key: "skill", Operator: events.OpGreaterThanOrEqual, Value: 3.0},
		{Key: "lang", Operator: events.OpEqual, Value: "en"},
		{Key: "vip", Operator: events.OpEqual, Value: true},
	}, j.WorkerSelectors)

	// scheduled, suspended, with a time to live
	assert.Equal(t, "created job sched-x (scheduled)\n", mustRun(ctx, t, "job", "create", "--nats-url", url,
		"--queue", "support", "--channel", "voice", "--id", "sched-x", "--schedule-at", "+1h"))
	assert.Equal(t, "created job susp-x (suspended)\n", mustRun(ctx, t, "job", "create", "--nats-url", url,
		"--queue", "support", "--channel", "voice", "--id", "susp-x", "--suspend"))
	mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice", "--id", "ttl-1", "--ttl", "10m")
	ev = waitEvent(ctx, t, url, events.JobSubject("support", "ttl-1", events.TypeJobQueued), nil)
	require.NotNil(t, jobOf(t, ev).ExpiresAt, "a job with --ttl expires")

	out = mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "chat", "-q")
	assert.Regexp(t, `^[A-Za-z0-9]\S*\n$`, out, "--quiet prints only the id")

	out = mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "chat", "--json")
	var res patchbay.Result
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	assert.Equal(t, events.TypeJobCreated, res.CommandType)
	assert.Equal(t, "queued", res.Status)
	assert.NotEmpty(t, res.JobID)

	_, err := runOut(ctx, "job", "cancel", "--nats-url", url, "no-such-job")
	require.ErrorIs(t, err, patchbay.ErrUnknownJob)
	assert.Contains(t, err.Error(), "cancel job no-such-job")

	// Suspend and resume (no worker: the job just leaves and re-enters its queue).
	mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "chat", "--id", "later-1")
	assert.Equal(t, "job later-1 suspended\n", mustRun(ctx, t, "job", "suspend", "--nats-url", url, "later-1"))
	_, err = runOut(ctx, "job", "suspend", "--nats-url", url, "later-1")
	require.ErrorIs(t, err, patchbay.ErrInvalidTransition)
	assert.Equal(t, "job later-1 queued\n", mustRun(ctx, t, "job", "resume", "--nats-url", url, "later-1"))
	_, err = runOut(ctx, "job", "unassign", "--nats-url", url, "later-1", "nope")
	require.ErrorIs(t, err, patchbay.ErrInvalidTransition)
}

func TestWorkerRunClosesJob(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	wout, done, stopWorker := runWorker(ctx, t, "--nats-url", url, "--id", "alice", "--queue", "support",
		"--label", "skill=7", "--capacity", "2", "--channel", "voice:1:2", "--work", "0", "--wrap-up", "0")
	defer stopWorker()

	for _, id := range []string{"job-1", "job-2", "job-3"} {
		mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice",
			"--id", id, "--selector", "skill >= 5")
	}
	for _, id := range []string{"job-1", "job-2", "job-3"} {
		j := jobOf(t, waitEvent(ctx, t, url, events.JobSubject("support", id, events.TypeJobClosed), nil))
		assert.Equal(t, "closed", j.Status)
		assert.Equal(t, "Resolved", j.DispositionCode)
		require.NotNil(t, j.Assignment)
		assert.Equal(t, "alice", j.Assignment.WorkerID)
		wout.waitFor(ctx, t, "closed job "+id)
	}

	stopWorker() // Ctrl-C
	select {
	case err := <-done:
		require.NoError(t, err, wout.String())
	case <-ctx.Done():
		t.Fatalf("worker run did not stop after its context ended:\n%s", wout.String())
	}
	out := wout.String()
	assert.Contains(t, out, "accepted offer")
	assert.Contains(t, out, "deregistered; 3 jobs closed")
	var w patchbay.Worker
	ev := waitEvent(ctx, t, url, events.WorkerSubject("alice", events.TypeWorkerDeregistered), nil)
	require.NoError(t, ev.DataAs(&w))
	assert.False(t, w.AvailableForOffers)
	assert.Zero(t, w.UsedCapacity)
}

func TestWorkerDeclinesAndJobCancel(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	wctx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	wout := newSyncBuffer()
	done := make(chan error, 1)
	go func() {
		done <- run(wctx, wout, "worker", "run", "--nats-url", url, "--id", "carol", "--queue", "sales",
			"--decline-every", "1")
	}()
	mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "sales", "--channel", "voice", "--id", "lead-1")
	ev := waitEvent(ctx, t, url, events.OfferWorkerAll("carol"), func(ev patchbay.Event) bool {
		return ev.Type() == string(events.TypeOfferDeclined)
	})
	assert.Equal(t, "lead-1", ev.Subject())
	wout.waitFor(ctx, t, "declined offer")

	out := mustRun(ctx, t, "job", "cancel", "--nats-url", url, "lead-1", "--disposition", "Abandoned", "--note", "gone")
	assert.Equal(t, "job lead-1 cancelled\n", out)
	j := jobOf(t, waitEvent(ctx, t, url, events.JobSubject("sales", "lead-1", events.TypeJobCancelled), nil))
	assert.Equal(t, "Abandoned", j.DispositionCode)
	assert.Equal(t, "gone", j.CancelNote)

	stopWorker()
	select {
	case err := <-done:
		require.NoError(t, err, wout.String())
	case <-ctx.Done():
		t.Fatal("worker run did not stop")
	}
}

func TestWorkerOneShotsAndJobCompleteClose(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, offers := offersOf(t, url, "bob")

	out := mustRun(ctx, t, "worker", "register", "--nats-url", url, "--id", "bob", "--queue", "support", "--label", "skill=3")
	assert.Equal(t, "worker bob registered (active)\n", out)
	accept := func(jobID string) string {
		mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice", "--id", jobID)
		o, err := offers.Next(ctx)
		require.NoError(t, err)
		require.Equal(t, jobID, o.JobID)
		aid, err := c.Accept(ctx, o)
		require.NoError(t, err)
		return aid
	}

	a1 := accept("j1")
	assert.Equal(t, "job j1 completed\n", mustRun(ctx, t, "job", "complete", "--nats-url", url, "j1", a1))
	out = mustRun(ctx, t, "job", "close", "--nats-url", url, "j1", a1, "--disposition", "Done", "--close-at", "+1h")
	assert.Regexp(t, `^job j1 closes at \S+ \(completed until then\)\n$`, out)
	_, err := runOut(ctx, "job", "complete", "--nats-url", url, "j1", "not-the-assignment")
	require.ErrorIs(t, err, patchbay.ErrAssignmentMismatch)

	// j1 holds bob's only capacity until its scheduled close: give bob room for one more.
	out = mustRun(ctx, t, "worker", "update", "--nats-url", url, "--id", "bob", "--capacity", "2", "--channel", "voice:1:2")
	assert.Equal(t, "worker bob updated (active)\n", out)
	ev := waitEvent(ctx, t, url, events.WorkerSubject("bob", events.TypeWorkerUpdated), nil)
	var w patchbay.Worker
	require.NoError(t, ev.DataAs(&w))
	assert.Equal(t, 2, w.TotalCapacity)
	assert.Equal(t, patchbay.Labels{"skill": 3.0}, w.Labels, "labels are kept when --label is not given")

	a2 := accept("j2")
	mustRun(ctx, t, "job", "complete", "--nats-url", url, "j2", a2, "--note", "fixed")
	out = mustRun(ctx, t, "job", "close", "--nats-url", url, "j2", a2, "--disposition", "Resolved", "--json")
	var res patchbay.Result
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	assert.Equal(t, "closed", res.Status)
	assert.Equal(t, a2, res.AssignmentID)

	out = mustRun(ctx, t, "worker", "deregister", "--nats-url", url, "bob")
	assert.Equal(t, "worker bob deregistered (draining)\n", out, "j1 is still held until its close")
	out = mustRun(ctx, t, "worker", "deregister", "--nats-url", url, "--id", "bob")
	assert.Equal(t, "worker bob was already deregistered (draining)\n", out)
}

// --activity on register, update and run: the worker's activity decides whether it
// takes offers; an unknown activity is refused by the router, a malformed one by the
// command; activities defined in a policy file can be named at once.
func TestWorkerActivityFlags(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	workerEvent := func(typ events.Type, id, activity string) patchbay.Worker {
		t.Helper()
		var w patchbay.Worker
		waitEvent(ctx, t, url, events.WorkerSubject(id, typ), func(ev patchbay.Event) bool {
			require.NoError(t, ev.DataAs(&w))
			return w.Activity == activity
		})
		return w
	}

	out := mustRun(ctx, t, "worker", "register", "--nats-url", url, "--id", "carol", "--queue", "support", "--activity", "break")
	assert.Equal(t, "worker carol registered (inactive)\n", out)
	assert.False(t, workerEvent(events.TypeWorkerRegistered, "carol", "break").AvailableForOffers)

	out = mustRun(ctx, t, "worker", "update", "--nats-url", url, "--id", "carol", "--activity", "available")
	assert.Equal(t, "worker carol updated (active)\n", out)
	assert.True(t, workerEvent(events.TypeWorkerRegistered, "carol", "available").AvailableForOffers, "taking offers again is a registration")

	_, err := runOut(ctx, "worker", "update", "--nats-url", url, "--id", "carol", "--activity", "nap")
	require.ErrorIs(t, err, patchbay.ErrInvalidData)
	assert.Contains(t, err.Error(), `no activity "nap"`)
	_, err = runOut(ctx, "worker", "update", "--nats-url", url, "--id", "carol", "--activity", "on break")
	require.ErrorContains(t, err, "--activity")
	_, err = runOut(ctx, "worker", "update", "--nats-url", url, "--id", "carol", "--activity", "break", "--available=true")
	require.ErrorIs(t, err, patchbay.ErrInvalidData)

	file := filepath.Join(t.TempDir(), "activities.yaml")
	require.NoError(t, os.WriteFile(file, []byte("activities: [{id: lunch, name: Lunch, available: false}]\n"), 0o644))
	assert.Contains(t, mustRun(ctx, t, "policy", "apply", file, "--nats-url", url), "activity lunch: created, revision 1\n")
	out = mustRun(ctx, t, "worker", "update", "--nats-url", url, "--id", "carol", "--activity", "lunch")
	assert.Equal(t, "worker carol updated (inactive)\n", out)
	workerEvent(events.TypeWorkerDeregistered, "carol", "lunch")

	wout, done, stopWorker := runWorker(ctx, t, "--nats-url", url, "--id", "dave", "--queue", "support", "--activity", "lunch", "--heartbeat", "0")
	defer stopWorker()
	assert.Contains(t, wout.String(), "registered (inactive, activity lunch)")
	workerEvent(events.TypeWorkerRegistered, "dave", "lunch")
	assert.Contains(t, mustRun(ctx, t, "queue", "stats", "--nats-url", url, "support"), "workers by activity:    lunch 2\n")
	stopWorker()
	waitStopped(ctx, t, wout, done)
}

func TestEventsCommand(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice", "--id", "ev-1")

	out := mustRun(ctx, t, "events", "--nats-url", url, "--json", "--from-start", "--count", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, out)
	var types []string
	for _, l := range lines {
		var ev patchbay.Event
		require.NoError(t, json.Unmarshal([]byte(l), &ev), l)
		require.NoError(t, ev.Validate(), l)
		assert.Equal(t, "1.0", ev.SpecVersion())
		assert.Equal(t, events.RouterSource, ev.Source())
		assert.Equal(t, "ev-1", ev.Subject())
		assert.Equal(t, "ev-1", jobOf(t, ev).JobID)
		types = append(types, ev.Type())
	}
	assert.Equal(t, []string{string(events.TypeJobReceived), string(events.TypeJobQueued)}, types)

	out = mustRun(ctx, t, "events", "--nats-url", url, "--from-start", "--count", "2", "--queue", "support")
	assert.Regexp(t, `^\d\d:\d\d:\d\d\.\d{3} job\.received +ev-1 queue=support channel=voice status=queued\n`+
		`\d\d:\d\d:\d\d\.\d{3} job\.queued +ev-1 queue=support channel=voice status=queued\n$`, out)

	// Following: stops cleanly (nil error) when the context ends, as on Ctrl-C.
	ectx, stop := context.WithCancel(ctx)
	defer stop()
	eout := newSyncBuffer()
	done := make(chan error, 1)
	go func() {
		done <- run(ectx, eout, "events", "--nats-url", url, "--from-start", "--subject", "job.support.>")
	}()
	eout.waitFor(ctx, t, "job.queued")
	stop()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("events did not stop after its context ended")
	}
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	// Nothing listens here: a command that got past its flags would fail to connect.
	const nowhere = "nats://127.0.0.1:1"
	create := []string{"job", "create", "--nats-url", nowhere, "--queue", "q", "--channel", "c"}
	with := func(base []string, more ...string) []string { return append(append([]string(nil), base...), more...) }
	runW := []string{"worker", "run", "--nats-url", nowhere, "--id", "w", "--queue", "q"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad operator", with(create, "--selector", "skill ~ 5"), `--selector "skill ~ 5": unknown operator "~" (want one of equal, notEqual`},
		{"selector without value", with(create, "--selector", "skill >="), `no value after the operator ">="`},
		{"selector without key", with(create, "--selector", ">= 5"), `no key before the operator ">="`},
		{"selector one word", with(create, "--selector", "skill"), `want "key operator value"`},
		{"label without =", with(create, "--label", "vip"), `--label "vip": want key=value`},
		{"label without key", with(create, "--label", "=5"), `--label "=5": the key must not be empty`},
		{"label twice", with(create, "--label", "a=1", "--label", "a=2"), `key "a" is given twice`},
		{"tag without =", with(create, "--tag", "x"), `--tag "x": want key=value`},
		{"missing queue", []string{"job", "create", "--channel", "c"}, `at least one of the flags in the group [queue workflow classification-policy] is required`},
		{"queue and workflow", with(create, "--workflow", "w"), `[queue workflow] were all set`},
		{"bad workflow id", []string{"job", "create", "--workflow", "a b", "--channel", "c"}, `--workflow "a b"`},
		{"ttl", with(create, "--ttl", "-1s"), `--ttl -1s: want a positive duration`},
		{"schedule-at", with(create, "--schedule-at", "later"), `--schedule-at "later": want an RFC 3339 time`},
		{"schedule and suspend", with(create, "--schedule-at", "+1h", "--suspend"), `[schedule-at suspend] were all set`},
		{"bad queue id", []string{"job", "create", "--queue", "a b", "--channel", "c"}, `--queue "a b": an id is 1-128 letters`},
		{"priority", with(create, "--priority", "500"), `--priority 500: want -100 to 100`},
		{"json and quiet", with(create, "--json", "-q"), `none of the others can be`},
		{"unknown flag", with(create, "--frobnicate"), `unknown flag: --frobnicate`},
		{"close-at", []string{"job", "close", "j", "a", "--close-at", "tomorrow"}, `--close-at "tomorrow": want an RFC 3339 time`},
		{"close-at duration", []string{"job", "close", "j", "a", "--close-at", "+soon"}, `--close-at "+soon": want +duration`},
		{"cancel without job", []string{"job", "cancel"}, `accepts 1 arg(s), received 0`},
		{"close without assignment", []string{"job", "close", "j"}, `accepts 2 arg(s), received 1`},
		{"channel cost", with(runW, "--channel", "voice:x"), `--channel "voice:x": the cost per job "x"`},
		{"channel max", with(runW, "--channel", "voice:1:-1"), `the maximum number of jobs "-1"`},
		{"channel id", with(runW, "--channel", "vo ice"), `"vo ice" is not a valid channel id`},
		{"worker without queue", []string{"worker", "run", "--id", "w"}, `--queue is required`},
		{"worker without id", []string{"worker", "register", "--queue", "q"}, `--id is required`},
		{"capacity", with(runW, "--capacity", "0"), `--capacity 0: want at least 1`},
		{"negative work", with(runW, "--work", "-1s"), `must not be negative`},
		{"deregister two ids", []string{"worker", "deregister", "a", "--id", "b"}, `differ`},
		{"events queue", []string{"events", "--queue", "a.b"}, `--queue "a.b"`},
		{"events subject", []string{"events", "--subject", "job..x"}, `not a NATS subject filter`},
		{"bench jobs", []string{"bench", "--jobs", "0"}, `must be at least 1`},
		{"timeout", with(create, "--timeout", "0s"), `--timeout must be positive`},
		{"no server", create, `no NATS server answers at ` + nowhere},
		{"no server hint", create, "is `patchbay serve` running?"},
		{"missing creds", []string{"queue", "stats", "q", "--nats-creds", "/nonexistent/x.creds"}, `--nats-creds /nonexistent/x.creds: no such file or directory`},
		{"missing tls ca", []string{"job", "get", "j", "--tls-ca", "/nonexistent/ca.pem"}, `--tls-ca /nonexistent/ca.pem: no such file`},
		{"password alone", []string{"job", "get", "j", "--nats-password", "x"}, `--nats-password needs --nats-user`},
		{"user and token", []string{"job", "get", "j", "--nats-user", "u", "--nats-token", "t"}, `give one`},
		{"serve tls files", []string{"serve", "--nats-url", nowhere, "--tls-cert", "/nonexistent/c", "--tls-key", "/nonexistent/k"}, `--tls-cert /nonexistent/c: no such file`},
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

func TestHelp(t *testing.T) {
	t.Parallel()
	client := []string{"--nats-url", "--nats-creds", "--timeout"}
	tests := []struct {
		args  []string
		flags []string
	}{
		{nil, []string{"job", "worker", "events", "bench", "serve"}},
		{[]string{"job"}, []string{"create", "cancel", "complete", "close", "suspend", "resume", "unassign"}},
		{[]string{"job", "suspend"}, append([]string{"--json"}, client...)},
		{[]string{"job", "resume"}, append([]string{"--json"}, client...)},
		{[]string{"job", "unassign"}, append([]string{"ASSIGNMENT", "--suspend", "--json"}, client...)},
		{[]string{"job", "create"}, append([]string{"--queue", "--channel", "--id", "--priority", "--label", "--tag",
			"--selector", "--notes", "--json", "lessThanOrEqual", ">="}, client...)},
		{[]string{"job", "cancel"}, append([]string{"--disposition", "--note", "--json"}, client...)},
		{[]string{"job", "complete"}, append([]string{"ASSIGNMENT", "--note"}, client...)},
		{[]string{"job", "close"}, append([]string{"--disposition", "--close-at", "RFC 3339", "+duration"}, client...)},
		{[]string{"worker"}, []string{"run", "register", "update", "deregister"}},
		{[]string{"worker", "run"}, append([]string{"--id", "--queue", "--channel", "--capacity", "--label", "--work",
			"--wrap-up", "--disposition", "--decline-every", "voice:1:1", "Ctrl-C", "resent"}, client...)},
		{[]string{"worker", "register"}, append([]string{"--id", "--queue", "--channel", "--capacity", "--label", "--unavailable"}, client...)},
		{[]string{"worker", "update"}, append([]string{"--id", "--available", "--capacity"}, client...)},
		{[]string{"worker", "deregister"}, append([]string{"--id"}, client...)},
		{[]string{"events"}, append([]string{"--json", "--from-start", "--queue", "--worker", "--subject", "--count"}, client...)},
		{[]string{"serve"}, []string{"--data-dir", "patchbay.lock", "--nats-listen", "--retention", "--lease-ttl"}},
		{[]string{"bench"}, []string{"--jobs", "--workers", "--capacity", "--max-open", "--rate", "--backlog", "--replicas", "--nats-url", "--json"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{"patchbay"}, tt.args...), " "), func(t *testing.T) {
			t.Parallel()
			out, err := runOut(context.Background(), append(tt.args, "--help")...)
			require.NoError(t, err)
			for _, f := range tt.flags {
				assert.Contains(t, out, f)
			}
		})
	}
}

func TestParseValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want any
	}{
		{"5", int64(5)}, {"-3", int64(-3)}, {"0.5", 0.5}, {"1e3", 1000.0}, {"true", true}, {"false", false},
		{"en", "en"}, {`"5"`, "5"}, {`"true"`, "true"}, {"NaN", "NaN"}, {"Inf", "Inf"}, {"0x10", "0x10"},
		{"True", "True"}, {"", ""}, {"1.2.3", "1.2.3"}, {"a b", "a b"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, parseValue(tt.in), "parseValue(%q)", tt.in)
	}
}

func TestParseKeyValuesJSON(t *testing.T) {
	t.Parallel()
	got, err := parseKeyValues("label", []string{`skills=["support","sales"]`, `levels={"finance": 10}`, "lang=en", "odd=[not json", "n=5"})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"skills": []any{"support", "sales"},
		"levels": map[string]any{"finance": 10.0},
		"lang":   "en",
		"odd":    "[not json",
		"n":      int64(5),
	}, got)
}

func TestParseSelector(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    patchbay.WorkerSelector
		wantErr string
	}{
		{in: "skill >= 5", want: patchbay.WorkerSelector{Key: "skill", Operator: events.OpGreaterThanOrEqual, Value: int64(5)}},
		{in: "skill>=5", want: patchbay.WorkerSelector{Key: "skill", Operator: events.OpGreaterThanOrEqual, Value: int64(5)}},
		{in: "skill<5", want: patchbay.WorkerSelector{Key: "skill", Operator: events.OpLessThan, Value: int64(5)}},
		{in: "  lang  ==  en ", want: patchbay.WorkerSelector{Key: "lang", Operator: events.OpEqual, Value: "en"}},
		{in: "lang != en", want: patchbay.WorkerSelector{Key: "lang", Operator: events.OpNotEqual, Value: "en"}},
		{in: "a <= 1", want: patchbay.WorkerSelector{Key: "a", Operator: events.OpLessThanOrEqual, Value: int64(1)}},
		{in: "a > 1.5", want: patchbay.WorkerSelector{Key: "a", Operator: events.OpGreaterThan, Value: 1.5}},
		{in: "vip equal true", want: patchbay.WorkerSelector{Key: "vip", Operator: events.OpEqual, Value: true}},
		{in: "team notequal night shift", want: patchbay.WorkerSelector{Key: "team", Operator: events.OpNotEqual, Value: "night shift"}},
		{in: "id == alice", want: patchbay.WorkerSelector{Key: "id", Operator: events.OpEqual, Value: "alice"}},
		{in: "skill ~ 5", wantErr: `unknown operator "~"`},
		{in: "skill greaterThan", wantErr: `no value after the operator "greaterThan"`},
		{in: "", wantErr: `want "key operator value"`},
		{in: "== 5", wantErr: `no key before the operator "=="`},
	}
	for _, tt := range tests {
		got, err := parseSelector(tt.in)
		if tt.wantErr != "" {
			assert.ErrorContains(t, err, tt.wantErr, "parseSelector(%q)", tt.in)
			continue
		}
		if assert.NoError(t, err, "parseSelector(%q)", tt.in) {
			assert.Equal(t, tt.want, got, "parseSelector(%q)", tt.in)
		}
	}
}

func TestParseChannelAndCloseAt(t *testing.T) {
	t.Parallel()
	c, err := parseChannel("voice")
	require.NoError(t, err)
	assert.Equal(t, patchbay.ChannelConfig{ChannelID: "voice", CapacityCostPerJob: 1}, c)
	c, err = parseChannel("chat:2:3")
	require.NoError(t, err)
	assert.Equal(t, patchbay.ChannelConfig{ChannelID: "chat", CapacityCostPerJob: 2, MaxNumberOfJobs: 3}, c)
	_, err = parseChannel("chat:1:2:3")
	assert.ErrorContains(t, err, "want channel:costPerJob[:maxJobs]")

	now := time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC)
	at, err := parseCloseAt("+90s", now)
	require.NoError(t, err)
	assert.Equal(t, now.Add(90*time.Second), *at)
	at, err = parseCloseAt("2031-02-03T04:05:06Z", now)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC), *at)
	at, err = parseCloseAt("", now)
	require.NoError(t, err)
	assert.Nil(t, at)
	_, err = parseCloseAt("+-5s", now)
	assert.Error(t, err)
}

// A server that wants a user and password: the client commands say that it refused
// them, and which flags to check, not that nothing is running; NATS_URL names the
// server when --nats-url is not given.
func TestConnectionRefusedSaysWhy(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, Username: "alice", Password: "s3cret", NoSigs: true})
	require.NoError(t, err)
	go ns.Start()
	require.True(t, ns.ReadyForConnections(testTimeout))
	t.Cleanup(ns.Shutdown)
	t.Setenv("NATS_URL", ns.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	_, err = runOut(ctx, "queue", "stats", "q")
	require.ErrorContains(t, err, "refused the connection")
	require.ErrorContains(t, err, "no credentials were given")
	require.ErrorContains(t, err, ns.ClientURL(), "NATS_URL was used")
	require.NotContains(t, err.Error(), "patchbay serve")

	_, err = runOut(ctx, "queue", "stats", "q", "--nats-user", "alice", "--nats-password", "wrong")
	require.ErrorContains(t, err, "check --nats-user and --nats-password")

	// The right password gets through NATS: what fails now is that no router answers.
	short, cancelShort := context.WithTimeout(ctx, time.Second)
	defer cancelShort()
	_, err = runOut(short, "queue", "stats", "q", "--nats-user", "alice", "--nats-password", "s3cret")
	require.ErrorContains(t, err, "no responders")
	require.NotContains(t, err.Error(), "refused the connection")
}

// `patchbay version` and `--version` print the version set at build time, or the
// module's.
func TestVersion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	out := mustRun(ctx, t, "version")
	require.Regexp(t, `^patchbay \S.*\n$`, out)
	require.Equal(t, out, mustRun(ctx, t, "--version"))

	old := version
	version = "v1.2.3"
	t.Cleanup(func() { version = old })
	require.Equal(t, "patchbay v1.2.3\n", mustRun(ctx, t, "version"))
	require.Equal(t, "patchbay v1.2.3\n", mustRun(ctx, t, "--version"))
}

// `job history` prints a job's whole life, its offers included, from the event stream.
func TestJobHistory(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	mustRun(ctx, t, "worker", "register", "--nats-url", url, "--id", "w1", "--queue", "support")
	mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice", "--id", "h1")
	mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice", "--id", "h2")
	waitEvent(ctx, t, url, events.OfferTypeAll("w1", events.TypeOfferIssued), nil)
	mustRun(ctx, t, "job", "cancel", "--nats-url", url, "h1")
	waitEvent(ctx, t, url, events.JobSubject("support", "h1", events.TypeJobCancelled), nil)

	out := mustRun(ctx, t, "job", "history", "--nats-url", url, "h1")
	var types []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		require.GreaterOrEqual(t, len(f), 3, line)
		require.Equal(t, "h1", f[2], "only h1's events: %s", line)
		types = append(types, f[1])
	}
	require.Equal(t, []string{"job.received", "job.queued", "offer.issued", "offer.revoked", "job.cancelled"}, types)
	require.Equal(t, out, mustRun(ctx, t, "job", "history", "--nats-url", url, "--via-router", "h1"), "the history query answers the same")

	out = mustRun(ctx, t, "job", "history", "--nats-url", url, "--limit", "2", "h1")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, "--limit 2: the first two events and a note (stderr)\n%s", out)
	require.Contains(t, lines[0], "job.received")
	require.Contains(t, lines[2], "more are stored")

	_, err := runOut(ctx, "job", "history", "--nats-url", url, "nope")
	require.ErrorContains(t, err, "no events of job nope are stored")
}
