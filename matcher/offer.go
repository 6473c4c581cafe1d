package matcher

import (
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// Offer is an offer as the engine keeps it: its public snapshot (without the job).
type Offer struct {
	events.Offer
}

func (o *Offer) status() lifecycle.OfferStatus { return lifecycle.OfferStatus(o.Status) }
