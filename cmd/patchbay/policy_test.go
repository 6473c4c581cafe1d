package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
)

func TestPolicyApplyAndDelete(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	file := filepath.Join(t.TempDir(), "p.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
distributionPolicies:
  - id: fast
    offerExpiresAfterSeconds: 10
    mode: {kind: roundRobin}
queues:
  - id: support
    distributionPolicyId: fast
`), 0o644))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, "policy", "apply", file, "--nats-url", url))
	require.Equal(t, file+": applying 2 policies as a whole\n"+
		"distributionPolicy fast: created, revision 1\n"+
		"queue support: created, revision 1\n"+
		"applied: 2 created, 0 updated, 0 unchanged, 0 deleted\n", out.String())
	out.Reset()
	require.NoError(t, run(ctx, &out, "policy", "apply", file, "--nats-url", url))
	require.Contains(t, out.String(), "queue support: unchanged at revision 1")
	require.Contains(t, out.String(), "applied: 0 created, 0 updated, 2 unchanged, 0 deleted\n")

	out.Reset()
	err := run(ctx, &out, "policy", "delete", "distributionPolicy", "fast", "--nats-url", url)
	require.ErrorContains(t, err, `used by queue "support"`)
	err = run(ctx, &out, "policy", "delete", "queue", "support", "--revision", "7", "--nats-url", url)
	require.ErrorContains(t, err, "revision 1, not 7")
	require.NoError(t, run(ctx, &out, "policy", "delete", "queue", "support", "--nats-url", url))
	require.Contains(t, out.String(), "queue support: deleted at revision 2")

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("queues: [{id: q, order: sideways}]"), 0o644))
	err = run(ctx, &out, "policy", "apply", bad, "--nats-url", url)
	require.ErrorContains(t, err, "queues[0] (queue q): spec/order")
}

// serve --policies applies the file at start and again when it changes; a file that
// does not parse stops serve from starting.
func TestServePoliciesFile(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	file := filepath.Join(t.TempDir(), "p.yaml")
	require.NoError(t, os.WriteFile(file, []byte("queues: [{id: support, order: lifo}]"), 0o644))

	err := run(context.Background(), &bytes.Buffer{}, "serve", "--http", "127.0.0.1:0", "--nats-url", ns.ClientURL(), "--policies", filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorContains(t, err, "--policies")

	serveInBackground(t, "--http", "127.0.0.1:0", "--nats-url", ns.ClientURL(), "--policies", file, "--log-level", "warn", "--log-format", "json")
	c := connect(t, strings.TrimPrefix(ns.ClientURL(), "nats://"))
	register(t, c, "w", "other", 1) // waits for the router
	h := follow(t, c)
	h.waitFor(t, "queue policy applied", func(ev events.Event) bool {
		return ev.Type() == string(events.TypePolicyUpdated) && strings.Contains(string(ev.Data()), `"order":"lifo"`)
	})
	require.NoError(t, os.WriteFile(file, []byte("queues: [{id: support, order: fifo}]"), 0o644))
	h.waitFor(t, "queue policy changed", func(ev events.Event) bool {
		return ev.Type() == string(events.TypePolicyUpdated) && strings.Contains(string(ev.Data()), `"order":"fifo"`)
	})
}

// writeFile writes a policy file in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

// The edit through the command: a queue pointed at a new distribution policy
// whose mode is invalid. The refusal lists every problem, placed in the file, and
// nothing changes: the queue keeps its 2 s offers. Then pruning: a policy the file no
// longer declares stays without --prune and is deleted with it, unless a policy the
// file keeps still names it.
func TestPolicyApplyAllOrNothingAndPrune(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	dir := t.TempDir()
	base := `
distributionPolicies:
  - id: fast
    offerExpiresAfterSeconds: 2
    mode: {kind: longestIdle}
queues:
  - id: support
    distributionPolicyId: fast
  - id: sales
    order: lifo
`
	file := writeFile(t, dir, "p.yaml", base)
	mustRun(ctx, t, "policy", "apply", file, "--nats-url", url)

	edit := writeFile(t, dir, "edit.yaml", `
distributionPolicies:
  - id: fast
    offerExpiresAfterSeconds: 2
    mode: {kind: longestIdle}
  - id: slow
    offerExpiresAfterSeconds: 60
    mode: {kind: fastest}
queues:
  - id: support
    distributionPolicyId: slow
  - id: sales
    order: sideways
`)
	_, err := runOut(ctx, "policy", "apply", edit, "--nats-url", url)
	require.ErrorIs(t, err, patchbay.ErrInvalidData)
	require.ErrorContains(t, err, edit+": refused, nothing changed (2 problems):")
	require.ErrorContains(t, err, `distributionPolicies[1] (distributionPolicy slow): spec/mode/kind: must be one of longestIdle, roundRobin, bestWorker (got "fastest") [invalid_data]`)
	require.ErrorContains(t, err, `queues[1] (queue sales): spec/order: must be one of fifo, lifo (got "sideways") [invalid_data]`)

	out, err := runOut(ctx, "policy", "apply", edit, "--dry-run", "--nats-url", url)
	require.Error(t, err, "a dry run is validated the same way")
	require.NotContains(t, out, "would be")

	// Nothing changed: a job of the queue is offered for 2 s.
	mustRun(ctx, t, "worker", "register", "--nats-url", url, "--id", "alice", "--queue", "support")
	mustRun(ctx, t, "job", "create", "--nats-url", url, "--queue", "support", "--channel", "voice", "--id", "j1")
	ev := waitEvent(ctx, t, url, events.OfferSubject("alice", "j1", events.TypeOfferIssued), nil)
	var offer patchbay.Offer
	require.NoError(t, ev.DataAs(&offer))
	require.Equal(t, 2*time.Second, offer.ExpiresAt.Sub(offer.IssuedAt), "the queue keeps its 2 s offers")

	// The file drops the queue sales: without --prune it stays.
	smaller := writeFile(t, dir, "smaller.yaml", `
distributionPolicies:
  - id: fast
    offerExpiresAfterSeconds: 2
    mode: {kind: longestIdle}
queues:
  - id: support
    distributionPolicyId: fast
`)
	out = mustRun(ctx, t, "policy", "apply", smaller, "--nats-url", url)
	require.Contains(t, out, "applied: 0 created, 0 updated, 2 unchanged, 0 deleted\n")
	out = mustRun(ctx, t, "policy", "apply", smaller, "--prune", "--dry-run", "--nats-url", url)
	require.Contains(t, out, "queue sales: would be deleted at revision 2\n")
	require.Contains(t, out, "dry run, nothing changed: 0 created, 0 updated, 2 unchanged, 1 deleted\n")
	out = mustRun(ctx, t, "policy", "apply", smaller, "--prune", "--nats-url", url)
	require.Contains(t, out, smaller+": applying 2 policies as a whole, pruning the others\n")
	require.Contains(t, out, "queue sales: deleted at revision 2\n")
	require.Contains(t, out, "applied: 0 created, 0 updated, 2 unchanged, 1 deleted\n")
	_, err = runOut(ctx, "policy", "delete", "queue", "sales", "--nats-url", url)
	require.ErrorIs(t, err, patchbay.ErrUnknownPolicy, "pruned")

	// A file that drops the distribution policy but keeps the queue naming it.
	orphan := writeFile(t, dir, "orphan.yaml", "queues: [{id: support, distributionPolicyId: fast}]\n")
	_, err = runOut(ctx, "policy", "apply", orphan, "--prune", "--nats-url", url)
	require.ErrorIs(t, err, patchbay.ErrPolicyInUse)
	require.ErrorContains(t, err, `refused, nothing changed (1 problem):
  prune (distributionPolicy "fast"): cannot be deleted: queue "support", which stays, names it [policy_in_use]`)
	out = mustRun(ctx, t, "policy", "apply", smaller, "--dry-run", "--nats-url", url)
	require.Contains(t, out, "2 unchanged, 0 deleted", "the refused prune changed nothing")
}

// The TaskRouter seed example applied as is: its queues mapped with --queue-map, its
// filter routes a Sales job to the specialists' queue at the target's priority, and a
// job no filter matches goes to the default filter's queue; both reach a worker on a
// real router.
func TestPolicyApplyTaskRouterWorkflow(t *testing.T) {
	t.Parallel()
	url := startRouter(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	dir := t.TempDir()
	queueMap := writeFile(t, dir, "queues.yaml", `
WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: sales-specialists
WQbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb: sales
WQcccccccccccccccccccccccccccccccc: everyone
`)
	seed := "../../internal/policyfile/testdata/taskrouter-seed.json"
	_, err := runOut(ctx, "policy", "apply", seed, "--nats-url", url)
	require.ErrorContains(t, err, "--workflow-id")
	_, err = runOut(ctx, "policy", "apply", seed, "--workflow-id", "inbound", "--nats-url", url)
	require.ErrorContains(t, err, "task_routing.filters[0].targets[0].queue: the TaskRouter queue WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa is not in the queue map")

	out := mustRun(ctx, t, "policy", "apply", seed, "--workflow-id", "inbound", "--queue-map", queueMap, "--nats-url", url)
	require.Contains(t, out, "workflow inbound: created, revision 1\n")

	mustRun(ctx, t, "worker", "register", "--nats-url", url, "--id", "alice", "--queue", "sales-specialists",
		"--label", "specializedSubField=bonds", "--label", "level=3")
	mustRun(ctx, t, "worker", "register", "--nats-url", url, "--id", "bob", "--queue", "everyone")

	mustRun(ctx, t, "job", "create", "--nats-url", url, "--workflow", "inbound", "--channel", "voice", "--id", "sale-1",
		"--label", "type=Sales", "--label", "subSection=bonds")
	queued := jobOf(t, waitEvent(ctx, t, url, events.JobSubject("sales-specialists", "sale-1", events.TypeJobQueued), nil))
	require.Equal(t, 5, queued.Priority, "the target's priority")
	require.Equal(t, "Sales", queued.Workflow.Filter)
	waitEvent(ctx, t, url, events.OfferSubject("alice", "sale-1", events.TypeOfferIssued), nil)

	mustRun(ctx, t, "job", "create", "--nats-url", url, "--workflow", "inbound", "--channel", "voice", "--id", "other-1",
		"--label", "type=Support")
	waitEvent(ctx, t, url, events.OfferSubject("bob", "other-1", events.TypeOfferIssued), nil)

	// The transfer example: a known worker, named by a task attribute, gets the job
	// even though another worker of the queue has waited longer.
	transfer := "../../internal/policyfile/testdata/taskrouter-transfer.json"
	dMap := writeFile(t, dir, "transfer-queues.yaml", "WQdddddddddddddddddddddddddddddddd: transfers\n")
	out = mustRun(ctx, t, "policy", "apply", transfer, "--workflow-id", "transfer", "--queue-map", dMap, "--nats-url", url)
	require.Contains(t, out, "workflow transfer: created, revision 1\n")
	mustRun(ctx, t, "worker", "register", "--nats-url", url, "--id", "carol", "--queue", "transfers")
	mustRun(ctx, t, "worker", "register", "--nats-url", url, "--id", "dave", "--queue", "transfers")
	mustRun(ctx, t, "job", "create", "--nats-url", url, "--workflow", "transfer", "--channel", "voice", "--id", "xfer-1",
		"--label", "transferTargetType=worker", "--label", "transferTargetSid=dave")
	waitEvent(ctx, t, url, events.OfferSubject("dave", "xfer-1", events.TypeOfferIssued), nil)

	// A problem the router finds in a translated workflow is placed at its TaskRouter path.
	bad := writeFile(t, dir, "bad.json", `{"task_routing":{"filters":[{"filter_friendly_name":"x","expression":"type ==","targets":[{"queue":"sales"}]}]}}`)
	_, err = runOut(ctx, "policy", "apply", bad, "--workflow-id", "inbound", "--nats-url", url)
	require.ErrorIs(t, err, patchbay.ErrInvalidData)
	require.ErrorContains(t, err, `the TaskRouter workflow (workflow inbound): task_routing.filters[0].expression: expr: position 7: expected a value after "==" [invalid_data]`)
}

// serve --policies-prune: a policy removed from the watched file is deleted; an edit
// the router refuses changes nothing and the next good edit applies.
func TestServePoliciesPrune(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	file := filepath.Join(t.TempDir(), "p.yaml")
	require.NoError(t, os.WriteFile(file, []byte("queues: [{id: support, order: lifo}, {id: sales}]"), 0o644))
	serveInBackground(t, "--http", "127.0.0.1:0", "--nats-url", ns.ClientURL(), "--policies", file,
		"--policies-prune", "--log-level", "warn", "--log-format", "json")
	c := connect(t, strings.TrimPrefix(ns.ClientURL(), "nats://"))
	register(t, c, "w", "other", 1) // waits for the router
	h := follow(t, c)
	h.waitFor(t, "sales applied", func(ev events.Event) bool {
		return ev.Type() == string(events.TypePolicyUpdated) && ev.Subject() == "queue.sales"
	})
	// A refused edit (the second queue's order is invalid) changes nothing; the next
	// edit drops sales, which is pruned, and changes support: both in one command.
	require.NoError(t, os.WriteFile(file, []byte("queues: [{id: support, order: fifo}, {id: sales, order: sideways}]"), 0o644))
	require.NoError(t, os.WriteFile(file, []byte("queues: [{id: support, order: fifo}]"), 0o644))
	var sawFifo bool
	h.waitFor(t, "sales pruned", func(ev events.Event) bool {
		if ev.Type() == string(events.TypePolicyUpdated) && strings.Contains(string(ev.Data()), `"order":"fifo"`) {
			sawFifo = true
		}
		return ev.Type() == string(events.TypePolicyDeleted) && ev.Subject() == "queue.sales"
	})
	require.True(t, sawFifo, "support changed with the prune")
}
