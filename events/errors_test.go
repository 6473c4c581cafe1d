package events_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

// sentinelTable is every wire code with its sentinel, written out.
var sentinelTable = []struct {
	code events.Code
	err  *events.Error
}{
	{"malformed", events.ErrMalformed},
	{"unknown_type", events.ErrUnknownType},
	{"invalid_data", events.ErrInvalidData},
	{"unknown_job", events.ErrUnknownJob},
	{"unknown_worker", events.ErrUnknownWorker},
	{"unknown_offer", events.ErrUnknownOffer},
	{"not_your_offer", events.ErrNotYourOffer},
	{"offer_expired", events.ErrOfferExpired},
	{"offer_revoked", events.ErrOfferRevoked},
	{"offer_declined", events.ErrOfferDeclined},
	{"already_assigned", events.ErrAlreadyAssigned},
	{"invalid_transition", events.ErrInvalidTransition},
	{"assignment_mismatch", events.ErrAssignmentMismatch},
	{"job_exists", events.ErrJobExists},
	{"internal", events.ErrInternal},
}

func TestSentinel(t *testing.T) {
	t.Parallel()
	codes := map[events.Code]bool{}
	for _, tt := range sentinelTable {
		require.Equal(t, tt.code, tt.err.Code)
		require.Same(t, tt.err, events.Sentinel(tt.code), "Sentinel(%s)", tt.code)
		require.NotEmpty(t, tt.err.Message)
		require.Empty(t, tt.err.Field)
		require.False(t, codes[tt.code], "code %s used twice", tt.code)
		codes[tt.code] = true
	}
	require.Same(t, events.ErrInternal, events.Sentinel("no_such_code"))
	require.Same(t, events.ErrInternal, events.Sentinel(""))
}

func TestErrorIsByCode(t *testing.T) {
	t.Parallel()
	for _, tt := range sentinelTable {
		t.Run(string(tt.code), func(t *testing.T) {
			t.Parallel()
			own := events.Errorf(tt.code, "jobId", "job %q: %s", "j1", "nope")
			wrapped := fmt.Errorf("apply: %w", own)
			twice := fmt.Errorf("command c1: %w", wrapped)
			joined := errors.Join(errors.New("other"), own)
			for _, err := range []error{own, wrapped, twice, joined} {
				require.ErrorIs(t, err, tt.err)
				// Matching is by code, not by pointer or message.
				require.ErrorIs(t, err, &events.Error{Code: tt.code, Message: "something else"})
				for _, other := range sentinelTable {
					if other.code != tt.code {
						require.NotErrorIs(t, err, other.err)
					}
				}
			}
			// Wrapping the sentinel itself works too.
			require.ErrorIs(t, fmt.Errorf("ctx: %w", tt.err), tt.err)
		})
	}
	require.NotErrorIs(t, errors.New("offer_expired"), events.ErrOfferExpired)
	require.NotErrorIs(t, fmt.Errorf("wrap: %v", events.ErrOfferExpired), events.ErrOfferExpired, "%v does not wrap")
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	require.Equal(t, "offer expired", events.ErrOfferExpired.Error())
	require.Equal(t, "unknown_job", (&events.Error{Code: events.CodeUnknownJob}).Error(), "no message: the code")

	e := events.Errorf(events.CodeInvalidData, "priority", "priority %d is outside -100..100", 101)
	require.Equal(t, events.CodeInvalidData, e.Code)
	require.Equal(t, "priority", e.Field)
	require.Equal(t, "priority 101 is outside -100..100", e.Message)
	require.Equal(t, e.Message, e.Error())
}

func TestErrorJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(events.Errorf(events.CodeInvalidData, "queueId", "queueId is required"))
	require.NoError(t, err)
	require.JSONEq(t, `{"code":"invalid_data","message":"queueId is required","field":"queueId"}`, string(b))

	b, err = json.Marshal(events.ErrOfferExpired)
	require.NoError(t, err)
	require.JSONEq(t, `{"code":"offer_expired","message":"offer expired"}`, string(b), "field is omitted when empty")

	var back events.Error
	require.NoError(t, json.Unmarshal([]byte(`{"code":"not_your_offer","message":"m","field":"workerId"}`), &back))
	require.ErrorIs(t, &back, events.ErrNotYourOffer)
	require.Equal(t, "workerId", back.Field)
}

func TestAsError(t *testing.T) {
	t.Parallel()
	fieldErr := events.Errorf(events.CodeInvalidData, "channelId", "channelId is required")
	tests := []struct {
		name      string
		err       error
		wantCode  events.Code
		wantField string
		wantMsg   string
	}{
		{"plain *Error", fieldErr, events.CodeInvalidData, "channelId", "channelId is required"},
		{"wrapped *Error keeps code and field", fmt.Errorf("job j1: %w", fieldErr), events.CodeInvalidData, "channelId", "job j1: channelId is required"},
		{"wrapped twice", fmt.Errorf("c1: %w", fmt.Errorf("job j1: %w", fieldErr)), events.CodeInvalidData, "channelId", "c1: job j1: channelId is required"},
		{"wrapped sentinel", fmt.Errorf("offer o1: %w", events.ErrOfferRevoked), events.CodeOfferRevoked, "", "offer o1: offer revoked"},
		{"sentinel", events.ErrUnknownWorker, events.CodeUnknownWorker, "", "unknown worker"},
		{"joined", errors.Join(errors.New("first"), events.ErrJobExists), events.CodeJobExists, "", "first\njob id already used"},
		{"plain error", errors.New("kv: timeout"), events.CodeInternal, "", "kv: timeout"},
		{"%v is not wrapping", fmt.Errorf("x: %v", events.ErrUnknownJob), events.CodeInternal, "", "x: unknown job"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := events.AsError(tt.err)
			require.NotNil(t, got)
			require.Equal(t, tt.wantCode, got.Code)
			require.Equal(t, tt.wantField, got.Field)
			require.Equal(t, tt.wantMsg, got.Message)
			require.ErrorIs(t, got, events.Sentinel(tt.wantCode))
		})
	}
	// A bare *Error comes back as is.
	require.Same(t, fieldErr, events.AsError(fieldErr))
}
