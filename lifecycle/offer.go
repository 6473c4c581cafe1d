package lifecycle

import "github.com/patchbay/patchbay/events"

// OfferStatus is where an offer is in its lifecycle. Every status but issued is terminal.
type OfferStatus string

const (
	// OfferIssued: sent to the worker, waiting for an answer; holds capacity.
	OfferIssued OfferStatus = "issued"
	// OfferAccepted: the worker accepted; the job is assigned to it.
	OfferAccepted OfferStatus = "accepted"
	// OfferDeclined: the worker declined; the job moves on.
	OfferDeclined OfferStatus = "declined"
	// OfferExpired: nobody answered in time; the job moves on.
	OfferExpired OfferStatus = "expired"
	// OfferRevoked: withdrawn by the router (job cancelled, taken by another worker,
	// worker deregistered).
	OfferRevoked OfferStatus = "revoked"
)

// OfferStatuses lists every offer status.
func OfferStatuses() []OfferStatus {
	return []OfferStatus{OfferIssued, OfferAccepted, OfferDeclined, OfferExpired, OfferRevoked}
}

// Terminal reports whether no transition leaves s.
func (s OfferStatus) Terminal() bool { return s != OfferIssued }

// OfferAction is something that happens to an offer.
type OfferAction string

const (
	OfferAccept  OfferAction = "accept"
	OfferDecline OfferAction = "decline"
	OfferExpire  OfferAction = "expire"
	OfferRevoke  OfferAction = "revoke"
)

// OfferActions lists every offer action.
func OfferActions() []OfferAction {
	return []OfferAction{OfferAccept, OfferDecline, OfferExpire, OfferRevoke}
}

// Next returns the status after action a. Only an issued offer moves; from any other
// status the *TransitionError unwraps to the error that tells the worker what happened:
// events.ErrOfferExpired, ErrOfferRevoked, ErrOfferDeclined, or ErrInvalidTransition
// for an offer already accepted.
func (s OfferStatus) Next(a OfferAction) (OfferStatus, error) {
	if s == OfferIssued {
		switch a {
		case OfferAccept:
			return OfferAccepted, nil
		case OfferDecline:
			return OfferDeclined, nil
		case OfferExpire:
			return OfferExpired, nil
		case OfferRevoke:
			return OfferRevoked, nil
		}
	}
	reason := events.ErrInvalidTransition
	switch s {
	case OfferExpired:
		reason = events.ErrOfferExpired
	case OfferRevoked:
		reason = events.ErrOfferRevoked
	case OfferDeclined:
		reason = events.ErrOfferDeclined
	}
	return s, &TransitionError{Entity: "offer", From: string(s), Action: string(a), Err: reason}
}
