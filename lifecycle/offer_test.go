package lifecycle_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// offerTransitions is the whole offer matrix, OfferStatuses() x OfferActions(),
// written out by hand. Only an issued offer moves; a refusal from any other status
// carries the error that tells the worker what happened to its offer.
var offerTransitions = []struct {
	from    lifecycle.OfferStatus
	action  lifecycle.OfferAction
	want    lifecycle.OfferStatus
	wantErr error
}{
	// issued
	{lifecycle.OfferIssued, lifecycle.OfferAccept, lifecycle.OfferAccepted, nil},
	{lifecycle.OfferIssued, lifecycle.OfferDecline, lifecycle.OfferDeclined, nil},
	{lifecycle.OfferIssued, lifecycle.OfferExpire, lifecycle.OfferExpired, nil},
	{lifecycle.OfferIssued, lifecycle.OfferRevoke, lifecycle.OfferRevoked, nil},
	// accepted (terminal)
	{lifecycle.OfferAccepted, lifecycle.OfferAccept, lifecycle.OfferAccepted, events.ErrInvalidTransition},
	{lifecycle.OfferAccepted, lifecycle.OfferDecline, lifecycle.OfferAccepted, events.ErrInvalidTransition},
	{lifecycle.OfferAccepted, lifecycle.OfferExpire, lifecycle.OfferAccepted, events.ErrInvalidTransition},
	{lifecycle.OfferAccepted, lifecycle.OfferRevoke, lifecycle.OfferAccepted, events.ErrInvalidTransition},
	// declined (terminal)
	{lifecycle.OfferDeclined, lifecycle.OfferAccept, lifecycle.OfferDeclined, events.ErrOfferDeclined},
	{lifecycle.OfferDeclined, lifecycle.OfferDecline, lifecycle.OfferDeclined, events.ErrOfferDeclined},
	{lifecycle.OfferDeclined, lifecycle.OfferExpire, lifecycle.OfferDeclined, events.ErrOfferDeclined},
	{lifecycle.OfferDeclined, lifecycle.OfferRevoke, lifecycle.OfferDeclined, events.ErrOfferDeclined},
	// expired (terminal)
	{lifecycle.OfferExpired, lifecycle.OfferAccept, lifecycle.OfferExpired, events.ErrOfferExpired},
	{lifecycle.OfferExpired, lifecycle.OfferDecline, lifecycle.OfferExpired, events.ErrOfferExpired},
	{lifecycle.OfferExpired, lifecycle.OfferExpire, lifecycle.OfferExpired, events.ErrOfferExpired},
	{lifecycle.OfferExpired, lifecycle.OfferRevoke, lifecycle.OfferExpired, events.ErrOfferExpired},
	// revoked (terminal)
	{lifecycle.OfferRevoked, lifecycle.OfferAccept, lifecycle.OfferRevoked, events.ErrOfferRevoked},
	{lifecycle.OfferRevoked, lifecycle.OfferDecline, lifecycle.OfferRevoked, events.ErrOfferRevoked},
	{lifecycle.OfferRevoked, lifecycle.OfferExpire, lifecycle.OfferRevoked, events.ErrOfferRevoked},
	{lifecycle.OfferRevoked, lifecycle.OfferRevoke, lifecycle.OfferRevoked, events.ErrOfferRevoked},
}

func TestOfferStatusesAndActions(t *testing.T) {
	t.Parallel()
	require.Equal(t, []lifecycle.OfferStatus{"issued", "accepted", "declined", "expired", "revoked"}, lifecycle.OfferStatuses())
	require.Equal(t, []lifecycle.OfferAction{"accept", "decline", "expire", "revoke"}, lifecycle.OfferActions())
}

// TestOfferTransitionMatrixIsExhaustive makes sure the table above covers every
// (status, action) pair exactly once.
func TestOfferTransitionMatrixIsExhaustive(t *testing.T) {
	t.Parallel()
	seen := map[string]int{}
	for _, tt := range offerTransitions {
		seen[string(tt.from)+"/"+string(tt.action)]++
	}
	for _, s := range lifecycle.OfferStatuses() {
		for _, a := range lifecycle.OfferActions() {
			require.Equalf(t, 1, seen[string(s)+"/"+string(a)], "rows for %s/%s", s, a)
		}
	}
	require.Len(t, offerTransitions, len(lifecycle.OfferStatuses())*len(lifecycle.OfferActions()))
}

func TestOfferNext(t *testing.T) {
	t.Parallel()
	for _, tt := range offerTransitions {
		name := fmt.Sprintf("%s/%s", tt.from, tt.action)
		if tt.wantErr == nil {
			name += "/allowed"
		} else {
			name += "/refused"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.from.Next(tt.action)
			require.Equal(t, tt.want, got)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, tt.from, got, "a refused transition returns the unchanged status")
			require.ErrorIs(t, err, tt.wantErr)
			for _, other := range otherWireErrors {
				if other != tt.wantErr {
					require.NotErrorIs(t, err, other)
				}
			}

			var te *lifecycle.TransitionError
			require.ErrorAs(t, err, &te)
			require.Equal(t, "offer", te.Entity)
			require.Equal(t, string(tt.from), te.From)
			require.Equal(t, string(tt.action), te.Action)
			require.Same(t, tt.wantErr, te.Err)
			require.Equal(t, fmt.Sprintf("cannot %s offer that is %s", tt.action, tt.from), err.Error())
		})
	}
}

func TestOfferNextUnknownValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		from    lifecycle.OfferStatus
		action  lifecycle.OfferAction
		wantErr error
	}{
		{"unknown action from issued", lifecycle.OfferIssued, "renew", events.ErrInvalidTransition},
		{"empty action from issued", lifecycle.OfferIssued, "", events.ErrInvalidTransition},
		{"unknown action from expired", lifecycle.OfferExpired, "renew", events.ErrOfferExpired},
		{"unknown status", "pending", lifecycle.OfferAccept, events.ErrInvalidTransition},
		{"empty status", "", lifecycle.OfferAccept, events.ErrInvalidTransition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.from.Next(tt.action)
			require.Equal(t, tt.from, got)
			require.ErrorIs(t, err, tt.wantErr)
			var te *lifecycle.TransitionError
			require.ErrorAs(t, err, &te)
			require.Equal(t, "offer", te.Entity)
		})
	}
}

func TestOfferStatusTerminal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status   lifecycle.OfferStatus
		terminal bool
	}{
		{lifecycle.OfferIssued, false},
		{lifecycle.OfferAccepted, true},
		{lifecycle.OfferDeclined, true},
		{lifecycle.OfferExpired, true},
		{lifecycle.OfferRevoked, true},
	}
	require.Len(t, tests, len(lifecycle.OfferStatuses()))
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.terminal, tt.status.Terminal())
		})
	}
}

// TestOfferTerminalMeansNoWayOut checks Terminal() against the hand-written matrix.
func TestOfferTerminalMeansNoWayOut(t *testing.T) {
	t.Parallel()
	allowedFrom := map[lifecycle.OfferStatus]bool{}
	for _, tt := range offerTransitions {
		if tt.wantErr == nil {
			allowedFrom[tt.from] = true
		}
	}
	for _, s := range lifecycle.OfferStatuses() {
		require.Equalf(t, !allowedFrom[s], s.Terminal(), "status %s", s)
	}
}
