package events

import (
	"errors"
	"fmt"
)

// Code is a machine-readable reason the router refused a command. Codes are part of
// the wire contract (the `code` field of io.patchbay.command.failed).
type Code string

const (
	CodeMalformed          Code = "malformed"           // not a CloudEvent, or not JSON
	CodeUnknownType        Code = "unknown_type"        // not an inbound type of the catalog
	CodeInvalidData        Code = "invalid_data"        // payload fails the schema or a rule
	CodeUnknownJob         Code = "unknown_job"         // no such job
	CodeUnknownWorker      Code = "unknown_worker"      // no such worker
	CodeUnknownOffer       Code = "unknown_offer"       // no such offer for that job
	CodeNotYourOffer       Code = "not_your_offer"      // the offer was issued to another worker
	CodeOfferExpired       Code = "offer_expired"       // the offer timed out; the job has moved on
	CodeOfferRevoked       Code = "offer_revoked"       // the offer was withdrawn (job cancelled, worker deregistered)
	CodeOfferDeclined      Code = "offer_declined"      // the offer was already declined
	CodeAlreadyAssigned    Code = "already_assigned"    // another worker accepted the job first
	CodeInvalidTransition  Code = "invalid_transition"  // the job is not in a state that allows this
	CodeAssignmentMismatch Code = "assignment_mismatch" // the assignment id does not match the job's
	CodeJobExists          Code = "job_exists"          // a different job-created event used this job id
	CodeUnknownPolicy      Code = "unknown_policy"      // no such policy
	CodeRevisionMismatch   Code = "revision_mismatch"   // the policy changed since the revision the command names
	CodePolicyInUse        Code = "policy_in_use"       // the policy is referenced by another one
	CodeForbidden          Code = "forbidden"           // sent on one worker's subject, the command acts for another
	CodeInternal           Code = "internal"            // the router could not complete the command
)

// Error is a refusal with a code, a message for people, and the offending field
// when there is one. errors.Is(err, ErrOfferExpired) matches on the code.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// Retryable is true when sending the same command again (same CloudEvent id) may
	// succeed: the router could not complete it for a passing reason (storage briefly
	// unavailable). Resending with the same id is always safe: a command is applied at
	// most once.
	Retryable bool `json:"retryable,omitempty"`
	// Problems lists every problem of a command that is refused for several at once
	// (io.patchbay.policy.apply): each with its code and its field in the command's
	// data. Code and Field are then the first problem's.
	Problems []*Error `json:"problems,omitempty"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return e.Message
}

// Errorf builds an *Error with a code, the offending field (may be empty) and a message.
func Errorf(code Code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Is matches any *Error with the same code.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// Sentinel errors, one per code, for errors.Is.
var (
	ErrMalformed          = &Error{Code: CodeMalformed, Message: "malformed message"}
	ErrUnknownType        = &Error{Code: CodeUnknownType, Message: "unknown event type"}
	ErrInvalidData        = &Error{Code: CodeInvalidData, Message: "invalid data"}
	ErrUnknownJob         = &Error{Code: CodeUnknownJob, Message: "unknown job"}
	ErrUnknownWorker      = &Error{Code: CodeUnknownWorker, Message: "unknown worker"}
	ErrUnknownOffer       = &Error{Code: CodeUnknownOffer, Message: "unknown offer"}
	ErrNotYourOffer       = &Error{Code: CodeNotYourOffer, Message: "offer was issued to another worker"}
	ErrOfferExpired       = &Error{Code: CodeOfferExpired, Message: "offer expired"}
	ErrOfferRevoked       = &Error{Code: CodeOfferRevoked, Message: "offer revoked"}
	ErrOfferDeclined      = &Error{Code: CodeOfferDeclined, Message: "offer already declined"}
	ErrAlreadyAssigned    = &Error{Code: CodeAlreadyAssigned, Message: "job already accepted by another worker"}
	ErrInvalidTransition  = &Error{Code: CodeInvalidTransition, Message: "transition not allowed"}
	ErrAssignmentMismatch = &Error{Code: CodeAssignmentMismatch, Message: "assignment id does not match"}
	ErrJobExists          = &Error{Code: CodeJobExists, Message: "job id already used"}
	ErrUnknownPolicy      = &Error{Code: CodeUnknownPolicy, Message: "unknown policy"}
	ErrRevisionMismatch   = &Error{Code: CodeRevisionMismatch, Message: "revision does not match"}
	ErrPolicyInUse        = &Error{Code: CodePolicyInUse, Message: "policy in use"}
	ErrForbidden          = &Error{Code: CodeForbidden, Message: "acts for another worker"}
	ErrInternal           = &Error{Code: CodeInternal, Message: "internal error"}
)

var sentinels = []*Error{
	ErrMalformed, ErrUnknownType, ErrInvalidData, ErrUnknownJob, ErrUnknownWorker,
	ErrUnknownOffer, ErrNotYourOffer, ErrOfferExpired, ErrOfferRevoked, ErrOfferDeclined,
	ErrAlreadyAssigned, ErrInvalidTransition, ErrAssignmentMismatch, ErrJobExists,
	ErrUnknownPolicy, ErrRevisionMismatch, ErrPolicyInUse, ErrForbidden, ErrInternal,
}

// Codes lists every error code.
func Codes() []Code {
	out := make([]Code, len(sentinels))
	for i, s := range sentinels {
		out[i] = s.Code
	}
	return out
}

// Sentinel returns the sentinel error for a code (ErrInternal for an unknown code).
func Sentinel(c Code) *Error {
	for _, s := range sentinels {
		if s.Code == c {
			return s
		}
	}
	return ErrInternal
}

// AsError turns any error into a wire *Error: the code of the first sentinel it
// matches (CodeInternal when none), its field, and the whole message.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		if err == error(e) {
			return e
		}
		return &Error{Code: e.Code, Field: e.Field, Message: err.Error()}
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return &Error{Code: s.Code, Message: err.Error()}
		}
	}
	return &Error{Code: CodeInternal, Message: err.Error()}
}
