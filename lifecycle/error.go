package lifecycle

import (
	"fmt"

	"github.com/patchbay/patchbay/events"
)

// TransitionError is a refused transition. It unwraps to the wire error that names
// the reason (events.ErrOfferExpired, events.ErrInvalidTransition, ...), so
// errors.Is(err, events.ErrOfferExpired) works.
type TransitionError struct {
	Entity string // "job" or "offer"
	From   string // the status the entity is in
	Action string // what was asked
	Err    *events.Error
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot %s %s that is %s", e.Action, e.Entity, e.From)
}

// Unwrap returns the wire error.
func (e *TransitionError) Unwrap() error { return e.Err }
