package events_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

// The catalog, written out: a type added to or removed from Inbound, Outbound or
// Queries must be added here too, on purpose.
var (
	wantInbound = []events.Type{
		"io.patchbay.job.created",
		"io.patchbay.job.complete",
		"io.patchbay.job.close",
		"io.patchbay.job.cancel",
		"io.patchbay.worker.register",
		"io.patchbay.worker.update",
		"io.patchbay.worker.deregister",
		"io.patchbay.offer.accept",
		"io.patchbay.offer.decline",
		"io.patchbay.policy.put",
		"io.patchbay.policy.delete",
		"io.patchbay.job.update",
		"io.patchbay.job.unassign",
		"io.patchbay.policy.apply",
	}
	wantOutbound = []events.Type{
		"io.patchbay.job.received",
		"io.patchbay.job.queued",
		"io.patchbay.job.rejected",
		"io.patchbay.job.assigned",
		"io.patchbay.job.completed",
		"io.patchbay.job.closed",
		"io.patchbay.job.cancelled",
		"io.patchbay.job.exceptionTriggered",
		"io.patchbay.job.classified",
		"io.patchbay.job.classificationFailed",
		"io.patchbay.job.scheduled",
		"io.patchbay.job.waitingForActivation",
		"io.patchbay.job.suspended",
		"io.patchbay.job.unassigned",
		"io.patchbay.offer.issued",
		"io.patchbay.offer.accepted",
		"io.patchbay.offer.declined",
		"io.patchbay.offer.expired",
		"io.patchbay.offer.revoked",
		"io.patchbay.worker.registered",
		"io.patchbay.worker.updated",
		"io.patchbay.worker.deregistered",
		"io.patchbay.worker.disconnected",
		"io.patchbay.worker.reconnected",
		"io.patchbay.policy.updated",
		"io.patchbay.policy.deleted",
		"io.patchbay.command.succeeded",
		"io.patchbay.command.failed",
		"io.patchbay.query.result",
	}
	wantQueries = []events.Type{
		"io.patchbay.query.job",
		"io.patchbay.query.queue",
		"io.patchbay.query.worker",
		"io.patchbay.query.jobs",
		"io.patchbay.query.workers",
		"io.patchbay.query.queues",
		"io.patchbay.query.policies",
		"io.patchbay.query.policy",
		"io.patchbay.query.explain",
		"io.patchbay.query.history",
	}
)

func TestCatalogLists(t *testing.T) {
	t.Parallel()
	require.Equal(t, wantInbound, events.Inbound())
	require.Equal(t, wantOutbound, events.Outbound())
	require.Equal(t, wantQueries, events.Queries())
	for _, q := range events.Queries() {
		require.False(t, q.IsInbound(), "%s is a query, not a command", q)
		require.Nil(t, events.Payload(q), "%s has no command payload", q)
	}
}

func TestCatalogNoDuplicates(t *testing.T) {
	t.Parallel()
	seen := map[events.Type]string{}
	for _, ty := range events.Inbound() {
		require.NotContainsf(t, seen, ty, "%s listed twice", ty)
		seen[ty] = "inbound"
	}
	for _, ty := range events.Outbound() {
		require.NotContainsf(t, seen, ty, "%s listed twice (already %s)", ty, seen[ty])
		seen[ty] = "outbound"
	}
	// Names (the subject tokens) are unique too.
	names := map[string]bool{}
	for ty := range seen {
		require.Falsef(t, names[ty.Name()], "name %q used twice", ty.Name())
		names[ty.Name()] = true
	}
}

func TestCatalogPrefixAndName(t *testing.T) {
	t.Parallel()
	for _, ty := range append(events.Inbound(), events.Outbound()...) {
		t.Run(string(ty), func(t *testing.T) {
			t.Parallel()
			require.True(t, strings.HasPrefix(string(ty), events.TypePrefix))
			require.Equal(t, strings.TrimPrefix(string(ty), events.TypePrefix), ty.Name())
			// Every name is "<entity>.<verb>", two subject tokens.
			require.Len(t, strings.Split(ty.Name(), "."), 2)
		})
	}
	require.Equal(t, "io.patchbay.", events.TypePrefix)
	require.Equal(t, "job.created", events.TypeJobCreated.Name())
	require.Equal(t, "command.failed", events.TypeCommandFailed.Name())
}

func TestIsInbound(t *testing.T) {
	t.Parallel()
	for _, ty := range events.Inbound() {
		require.Truef(t, ty.IsInbound(), "%s", ty)
	}
	for _, ty := range events.Outbound() {
		require.Falsef(t, ty.IsInbound(), "%s", ty)
	}
	for _, ty := range []events.Type{"", "io.patchbay.", "job.created", "io.patchbay.job.create", "IO.PATCHBAY.JOB.CREATED", "io.patchbay.job.created "} {
		require.Falsef(t, ty.IsInbound(), "%q", ty)
	}
}

// TestPayload checks that every inbound type has its payload type and that no
// outbound type has one.
func TestPayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ty   events.Type
		want any
	}{
		{events.TypeJobCreated, &events.JobCreated{}},
		{events.TypeJobComplete, &events.JobComplete{}},
		{events.TypeJobClose, &events.JobClose{}},
		{events.TypeJobCancel, &events.JobCancel{}},
		{events.TypeWorkerRegister, &events.WorkerRegister{}},
		{events.TypeWorkerUpdate, &events.WorkerRegister{}},
		{events.TypeWorkerDeregister, &events.WorkerDeregister{}},
		{events.TypeOfferAccept, &events.OfferAccept{}},
		{events.TypeOfferDecline, &events.OfferDecline{}},
		{events.TypePolicyPut, &events.PolicyPut{}},
		{events.TypePolicyDelete, &events.PolicyDelete{}},
		{events.TypeJobUpdate, &events.JobUpdate{}},
		{events.TypeJobUnassign, &events.JobUnassign{}},
		{events.TypePolicyApply, &events.PolicyApply{}},
	}
	require.Len(t, tests, len(events.Inbound()))
	for _, tt := range tests {
		require.IsTypef(t, tt.want, events.Payload(tt.ty), "%s", tt.ty)
		require.Equal(t, tt.want, events.Payload(tt.ty))
	}
	for _, ty := range events.Outbound() {
		require.Nilf(t, events.Payload(ty), "%s", ty)
	}
	require.Nil(t, events.Payload("io.patchbay.nope"))
	// Each call returns a fresh value.
	require.NotSame(t, events.Payload(events.TypeJobCreated), events.Payload(events.TypeJobCreated))
}
