package patchbay

import "github.com/patchbay/patchbay/events"

// Error is the router's refusal: a code, a message and the offending field.
type Error = events.Error

// Errors the router answers with; match them with errors.Is.
var (
	ErrMalformed          = events.ErrMalformed
	ErrUnknownType        = events.ErrUnknownType
	ErrInvalidData        = events.ErrInvalidData
	ErrUnknownJob         = events.ErrUnknownJob
	ErrUnknownWorker      = events.ErrUnknownWorker
	ErrUnknownOffer       = events.ErrUnknownOffer
	ErrNotYourOffer       = events.ErrNotYourOffer
	ErrOfferExpired       = events.ErrOfferExpired
	ErrOfferRevoked       = events.ErrOfferRevoked
	ErrOfferDeclined      = events.ErrOfferDeclined
	ErrAlreadyAssigned    = events.ErrAlreadyAssigned
	ErrInvalidTransition  = events.ErrInvalidTransition
	ErrAssignmentMismatch = events.ErrAssignmentMismatch
	ErrJobExists          = events.ErrJobExists
	ErrUnknownPolicy      = events.ErrUnknownPolicy
	ErrRevisionMismatch   = events.ErrRevisionMismatch
	ErrPolicyInUse        = events.ErrPolicyInUse
	ErrInternal           = events.ErrInternal
)
