package router_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/router"
)

// Policies over the wire: put with revisions, the distribution policy's effect on
// offers (expiry, concurrent offers, first accept wins), delete refused while in use,
// and everything still there after a restart.
func TestPoliciesOnTheWire(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	res, err := e.client.PutPolicy(ctx(t), events.KindDistributionPolicy, "pair", patchbay.DistributionPolicySpec{
		OfferExpiresAfterSeconds: 20,
		Mode:                     patchbay.DistributionMode{Kind: events.ModeLongestIdle, MinConcurrentOffers: 2, MaxConcurrentOffers: 2},
	}, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(1), res.Revision)
	e.next(events.TypePolicyUpdated, nil)
	_, err = e.client.PutPolicy(ctx(t), events.KindQueue, "sales", patchbay.QueueSpec{DistributionPolicyID: "pair"}, nil)
	require.NoError(t, err)

	zero := uint64(0)
	_, err = e.client.PutPolicy(ctx(t), events.KindQueue, "sales", patchbay.QueueSpec{Order: "lifo"}, &zero)
	require.ErrorIs(t, err, patchbay.ErrRevisionMismatch)
	_, err = e.client.PutPolicy(ctx(t), events.KindQueue, "bad", map[string]any{"order": "random"}, nil)
	require.ErrorIs(t, err, patchbay.ErrInvalidData)
	var pe *patchbay.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "spec/order", pe.Field)

	e.register("alice", []string{"sales"}, nil)
	e.createJob("j1", "sales")
	e.register("bob", []string{"sales"}, nil)
	a := e.offerFor("alice", "j1")
	b := e.offerFor("bob", "j1")
	require.Equal(t, 20*time.Second, a.ExpiresAt.Sub(a.IssuedAt))
	_, err = e.client.Accept(ctx(t), b)
	require.NoError(t, err)
	_, err = e.client.Accept(ctx(t), a)
	require.ErrorIs(t, err, patchbay.ErrAlreadyAssigned)

	_, err = e.client.DeletePolicy(ctx(t), events.KindDistributionPolicy, "pair", nil)
	require.ErrorIs(t, err, patchbay.ErrPolicyInUse)
	del, err := e.client.DeletePolicy(ctx(t), events.KindQueue, "sales", nil)
	require.NoError(t, err)
	require.Equal(t, uint64(2), del.Revision)
	deleted := e.next(events.TypePolicyDeleted, nil)
	require.Contains(t, deleted.Subject, "patchbay.events.policy.queue.sales.deleted")
	_, err = e.client.DeletePolicy(ctx(t), events.KindDistributionPolicy, "pair", nil)
	require.NoError(t, err)
}
