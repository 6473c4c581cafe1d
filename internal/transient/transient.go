// Package transient says which errors from a NATS request may pass if the request is
// made again: nobody answered in time, nobody is listening yet, or the connection is
// being re-established. The Go client retries its commands on them, and a standby
// router goes on waiting for the lease.
package transient

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
)

// Is reports whether err may pass if the request is made again.
func Is(err error) bool {
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrConnectionReconnecting)
}
