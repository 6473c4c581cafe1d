package lifecycle_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// jobTransitions is the whole job matrix, JobStatuses() x JobActions(), written out
// by hand. A row with wantErr set is a refused transition; its status must come back
// unchanged.
var jobTransitions = []struct {
	from    lifecycle.JobStatus
	action  lifecycle.JobAction
	want    lifecycle.JobStatus
	wantErr error
}{
	// queued
	{lifecycle.JobQueued, lifecycle.JobAssign, lifecycle.JobAssigned, nil},
	{lifecycle.JobQueued, lifecycle.JobComplete, lifecycle.JobQueued, events.ErrInvalidTransition},
	{lifecycle.JobQueued, lifecycle.JobClose, lifecycle.JobQueued, events.ErrInvalidTransition},
	{lifecycle.JobQueued, lifecycle.JobCancel, lifecycle.JobCancelled, nil},
	{lifecycle.JobQueued, lifecycle.JobActivate, lifecycle.JobQueued, events.ErrInvalidTransition},
	{lifecycle.JobQueued, lifecycle.JobResume, lifecycle.JobQueued, events.ErrInvalidTransition},
	{lifecycle.JobQueued, lifecycle.JobSuspend, lifecycle.JobSuspended, nil},
	{lifecycle.JobQueued, lifecycle.JobUnassign, lifecycle.JobQueued, events.ErrInvalidTransition},
	// assigned
	{lifecycle.JobAssigned, lifecycle.JobAssign, lifecycle.JobAssigned, events.ErrInvalidTransition},
	{lifecycle.JobAssigned, lifecycle.JobComplete, lifecycle.JobCompleted, nil},
	{lifecycle.JobAssigned, lifecycle.JobClose, lifecycle.JobAssigned, events.ErrInvalidTransition},
	{lifecycle.JobAssigned, lifecycle.JobCancel, lifecycle.JobCancelled, nil},
	{lifecycle.JobAssigned, lifecycle.JobActivate, lifecycle.JobAssigned, events.ErrInvalidTransition},
	{lifecycle.JobAssigned, lifecycle.JobResume, lifecycle.JobAssigned, events.ErrInvalidTransition},
	{lifecycle.JobAssigned, lifecycle.JobSuspend, lifecycle.JobAssigned, events.ErrInvalidTransition},
	{lifecycle.JobAssigned, lifecycle.JobUnassign, lifecycle.JobQueued, nil},
	// completed
	{lifecycle.JobCompleted, lifecycle.JobAssign, lifecycle.JobCompleted, events.ErrInvalidTransition},
	{lifecycle.JobCompleted, lifecycle.JobComplete, lifecycle.JobCompleted, events.ErrInvalidTransition},
	{lifecycle.JobCompleted, lifecycle.JobClose, lifecycle.JobClosed, nil},
	{lifecycle.JobCompleted, lifecycle.JobCancel, lifecycle.JobCompleted, events.ErrInvalidTransition},
	{lifecycle.JobCompleted, lifecycle.JobActivate, lifecycle.JobCompleted, events.ErrInvalidTransition},
	{lifecycle.JobCompleted, lifecycle.JobResume, lifecycle.JobCompleted, events.ErrInvalidTransition},
	{lifecycle.JobCompleted, lifecycle.JobSuspend, lifecycle.JobCompleted, events.ErrInvalidTransition},
	{lifecycle.JobCompleted, lifecycle.JobUnassign, lifecycle.JobCompleted, events.ErrInvalidTransition},
	// closed (terminal)
	{lifecycle.JobClosed, lifecycle.JobAssign, lifecycle.JobClosed, events.ErrInvalidTransition},
	{lifecycle.JobClosed, lifecycle.JobComplete, lifecycle.JobClosed, events.ErrInvalidTransition},
	{lifecycle.JobClosed, lifecycle.JobClose, lifecycle.JobClosed, events.ErrInvalidTransition},
	{lifecycle.JobClosed, lifecycle.JobCancel, lifecycle.JobClosed, events.ErrInvalidTransition},
	{lifecycle.JobClosed, lifecycle.JobActivate, lifecycle.JobClosed, events.ErrInvalidTransition},
	{lifecycle.JobClosed, lifecycle.JobResume, lifecycle.JobClosed, events.ErrInvalidTransition},
	{lifecycle.JobClosed, lifecycle.JobSuspend, lifecycle.JobClosed, events.ErrInvalidTransition},
	{lifecycle.JobClosed, lifecycle.JobUnassign, lifecycle.JobClosed, events.ErrInvalidTransition},
	// cancelled (terminal)
	{lifecycle.JobCancelled, lifecycle.JobAssign, lifecycle.JobCancelled, events.ErrInvalidTransition},
	{lifecycle.JobCancelled, lifecycle.JobComplete, lifecycle.JobCancelled, events.ErrInvalidTransition},
	{lifecycle.JobCancelled, lifecycle.JobClose, lifecycle.JobCancelled, events.ErrInvalidTransition},
	{lifecycle.JobCancelled, lifecycle.JobCancel, lifecycle.JobCancelled, events.ErrInvalidTransition},
	{lifecycle.JobCancelled, lifecycle.JobActivate, lifecycle.JobCancelled, events.ErrInvalidTransition},
	{lifecycle.JobCancelled, lifecycle.JobResume, lifecycle.JobCancelled, events.ErrInvalidTransition},
	{lifecycle.JobCancelled, lifecycle.JobSuspend, lifecycle.JobCancelled, events.ErrInvalidTransition},
	{lifecycle.JobCancelled, lifecycle.JobUnassign, lifecycle.JobCancelled, events.ErrInvalidTransition},
	// scheduled
	{lifecycle.JobScheduled, lifecycle.JobAssign, lifecycle.JobScheduled, events.ErrInvalidTransition},
	{lifecycle.JobScheduled, lifecycle.JobComplete, lifecycle.JobScheduled, events.ErrInvalidTransition},
	{lifecycle.JobScheduled, lifecycle.JobClose, lifecycle.JobScheduled, events.ErrInvalidTransition},
	{lifecycle.JobScheduled, lifecycle.JobCancel, lifecycle.JobCancelled, nil},
	{lifecycle.JobScheduled, lifecycle.JobActivate, lifecycle.JobWaitingForActivation, nil},
	{lifecycle.JobScheduled, lifecycle.JobResume, lifecycle.JobScheduled, events.ErrInvalidTransition},
	{lifecycle.JobScheduled, lifecycle.JobSuspend, lifecycle.JobScheduled, events.ErrInvalidTransition},
	{lifecycle.JobScheduled, lifecycle.JobUnassign, lifecycle.JobScheduled, events.ErrInvalidTransition},
	// waitingForActivation
	{lifecycle.JobWaitingForActivation, lifecycle.JobAssign, lifecycle.JobWaitingForActivation, events.ErrInvalidTransition},
	{lifecycle.JobWaitingForActivation, lifecycle.JobComplete, lifecycle.JobWaitingForActivation, events.ErrInvalidTransition},
	{lifecycle.JobWaitingForActivation, lifecycle.JobClose, lifecycle.JobWaitingForActivation, events.ErrInvalidTransition},
	{lifecycle.JobWaitingForActivation, lifecycle.JobCancel, lifecycle.JobCancelled, nil},
	{lifecycle.JobWaitingForActivation, lifecycle.JobActivate, lifecycle.JobWaitingForActivation, events.ErrInvalidTransition},
	{lifecycle.JobWaitingForActivation, lifecycle.JobResume, lifecycle.JobQueued, nil},
	{lifecycle.JobWaitingForActivation, lifecycle.JobSuspend, lifecycle.JobWaitingForActivation, events.ErrInvalidTransition},
	{lifecycle.JobWaitingForActivation, lifecycle.JobUnassign, lifecycle.JobWaitingForActivation, events.ErrInvalidTransition},
	// suspended
	{lifecycle.JobSuspended, lifecycle.JobAssign, lifecycle.JobSuspended, events.ErrInvalidTransition},
	{lifecycle.JobSuspended, lifecycle.JobComplete, lifecycle.JobSuspended, events.ErrInvalidTransition},
	{lifecycle.JobSuspended, lifecycle.JobClose, lifecycle.JobSuspended, events.ErrInvalidTransition},
	{lifecycle.JobSuspended, lifecycle.JobCancel, lifecycle.JobCancelled, nil},
	{lifecycle.JobSuspended, lifecycle.JobActivate, lifecycle.JobSuspended, events.ErrInvalidTransition},
	{lifecycle.JobSuspended, lifecycle.JobResume, lifecycle.JobQueued, nil},
	{lifecycle.JobSuspended, lifecycle.JobSuspend, lifecycle.JobSuspended, events.ErrInvalidTransition},
	{lifecycle.JobSuspended, lifecycle.JobUnassign, lifecycle.JobSuspended, events.ErrInvalidTransition},
}

// otherWireErrors are the codes a refused transition must not match by accident.
var otherWireErrors = []*events.Error{
	events.ErrInvalidTransition, events.ErrOfferExpired, events.ErrOfferRevoked,
	events.ErrOfferDeclined, events.ErrAlreadyAssigned, events.ErrInternal,
}

func TestJobStatusesAndActions(t *testing.T) {
	t.Parallel()
	require.Equal(t, []lifecycle.JobStatus{
		"queued", "assigned", "completed", "closed", "cancelled",
		"scheduled", "waitingForActivation", "suspended",
	}, lifecycle.JobStatuses())
	require.Equal(t, []lifecycle.JobAction{
		"assign", "complete", "close", "cancel", "activate", "resume", "suspend", "unassign",
	}, lifecycle.JobActions())
}

// TestJobTransitionMatrixIsExhaustive makes sure the table above covers every
// (status, action) pair exactly once, so a new status or action fails here until
// its row is written.
func TestJobTransitionMatrixIsExhaustive(t *testing.T) {
	t.Parallel()
	seen := map[string]int{}
	for _, tt := range jobTransitions {
		seen[string(tt.from)+"/"+string(tt.action)]++
	}
	for _, s := range lifecycle.JobStatuses() {
		for _, a := range lifecycle.JobActions() {
			require.Equalf(t, 1, seen[string(s)+"/"+string(a)], "rows for %s/%s", s, a)
		}
	}
	require.Len(t, jobTransitions, len(lifecycle.JobStatuses())*len(lifecycle.JobActions()))
}

func TestJobNext(t *testing.T) {
	t.Parallel()
	for _, tt := range jobTransitions {
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
			require.Equal(t, "job", te.Entity)
			require.Equal(t, string(tt.from), te.From)
			require.Equal(t, string(tt.action), te.Action)
			require.Same(t, tt.wantErr, te.Err)
			require.Equal(t, fmt.Sprintf("cannot %s job that is %s", tt.action, tt.from), err.Error())
		})
	}
}

func TestJobNextUnknownValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		from   lifecycle.JobStatus
		action lifecycle.JobAction
	}{
		{"unknown action from queued", lifecycle.JobQueued, "requeue"},
		{"empty action from assigned", lifecycle.JobAssigned, ""},
		{"unknown status", "paused", lifecycle.JobAssign},
		{"empty status", "", lifecycle.JobCancel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.from.Next(tt.action)
			require.Equal(t, tt.from, got)
			require.ErrorIs(t, err, events.ErrInvalidTransition)
			var te *lifecycle.TransitionError
			require.ErrorAs(t, err, &te)
			require.Equal(t, "job", te.Entity)
		})
	}
}

func TestJobStatusPredicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status        lifecycle.JobStatus
		terminal      bool
		holdsCapacity bool
	}{
		{lifecycle.JobQueued, false, false},
		{lifecycle.JobAssigned, false, true},
		{lifecycle.JobCompleted, false, true},
		{lifecycle.JobClosed, true, false},
		{lifecycle.JobCancelled, true, false},
		{lifecycle.JobScheduled, false, false},
		{lifecycle.JobWaitingForActivation, false, false},
		{lifecycle.JobSuspended, false, false},
	}
	require.Len(t, tests, len(lifecycle.JobStatuses()))
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.terminal, tt.status.Terminal(), "Terminal")
			require.Equal(t, tt.holdsCapacity, tt.status.HoldsCapacity(), "HoldsCapacity")
		})
	}
}

// TestJobTerminalMeansNoWayOut checks Terminal() against the hand-written matrix:
// a status is terminal exactly when every row leaving it is refused.
func TestJobTerminalMeansNoWayOut(t *testing.T) {
	t.Parallel()
	allowedFrom := map[lifecycle.JobStatus]bool{}
	for _, tt := range jobTransitions {
		if tt.wantErr == nil {
			allowedFrom[tt.from] = true
		}
	}
	for _, s := range lifecycle.JobStatuses() {
		require.Equalf(t, !allowedFrom[s], s.Terminal(), "status %s", s)
	}
}

// TestTransitionErrorWireError checks that a refusal is matched by its wire code
// through any amount of %w wrapping, and that events.AsError turns it into the wire
// error the router answers with. It lives here because events must not import
// lifecycle.
func TestTransitionErrorWireError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		wantErr  *events.Error
		wantCode events.Code
		wantMsg  string
	}{
		{
			name:     "job close from queued",
			err:      mustRefuseJob(t, lifecycle.JobQueued, lifecycle.JobClose),
			wantErr:  events.ErrInvalidTransition,
			wantCode: events.CodeInvalidTransition,
			wantMsg:  "cannot close job that is queued",
		},
		{
			name:     "accept expired offer",
			err:      mustRefuseOffer(t, lifecycle.OfferExpired, lifecycle.OfferAccept),
			wantErr:  events.ErrOfferExpired,
			wantCode: events.CodeOfferExpired,
			wantMsg:  "cannot accept offer that is expired",
		},
		{
			name:     "accept revoked offer",
			err:      mustRefuseOffer(t, lifecycle.OfferRevoked, lifecycle.OfferAccept),
			wantErr:  events.ErrOfferRevoked,
			wantCode: events.CodeOfferRevoked,
			wantMsg:  "cannot accept offer that is revoked",
		},
		{
			name:     "decline declined offer",
			err:      mustRefuseOffer(t, lifecycle.OfferDeclined, lifecycle.OfferDecline),
			wantErr:  events.ErrOfferDeclined,
			wantCode: events.CodeOfferDeclined,
			wantMsg:  "cannot decline offer that is declined",
		},
		{
			name:     "accept accepted offer",
			err:      mustRefuseOffer(t, lifecycle.OfferAccepted, lifecycle.OfferAccept),
			wantErr:  events.ErrInvalidTransition,
			wantCode: events.CodeInvalidTransition,
			wantMsg:  "cannot accept offer that is accepted",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			once := fmt.Errorf("apply offer.accept: %w", tt.err)
			twice := fmt.Errorf("command c-1: %w", once)
			for _, err := range []error{tt.err, once, twice} {
				require.ErrorIs(t, err, tt.wantErr)
				// Matching is by code, not by pointer.
				require.ErrorIs(t, err, &events.Error{Code: tt.wantCode})
				var te *lifecycle.TransitionError
				require.ErrorAs(t, err, &te)
				var we *events.Error
				require.ErrorAs(t, err, &we)
				require.Equal(t, tt.wantCode, we.Code)
			}

			w := events.AsError(tt.err)
			require.Equal(t, tt.wantCode, w.Code)
			require.Equal(t, tt.wantMsg, w.Message)
			require.Empty(t, w.Field)

			w = events.AsError(twice)
			require.Equal(t, tt.wantCode, w.Code)
			require.Equal(t, "command c-1: apply offer.accept: "+tt.wantMsg, w.Message)
			// The sentinel itself is untouched.
			require.Equal(t, tt.wantErr.Code, events.Sentinel(tt.wantCode).Code)
			require.NotEqual(t, tt.wantMsg, tt.wantErr.Message)
		})
	}
}

func mustRefuseJob(t *testing.T, s lifecycle.JobStatus, a lifecycle.JobAction) error {
	t.Helper()
	_, err := s.Next(a)
	require.Error(t, err)
	return err
}

func mustRefuseOffer(t *testing.T, s lifecycle.OfferStatus, a lifecycle.OfferAction) error {
	t.Helper()
	_, err := s.Next(a)
	require.Error(t, err)
	return err
}

func TestTransitionErrorUnwrap(t *testing.T) {
	t.Parallel()
	te := &lifecycle.TransitionError{Entity: "job", From: "closed", Action: "cancel", Err: events.ErrInvalidTransition}
	require.Same(t, events.ErrInvalidTransition, errors.Unwrap(te))
	require.Equal(t, "cannot cancel job that is closed", te.Error())
}
