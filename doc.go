// Package patchbay is the Go client for the patchbay job router.
//
// A producer creates jobs; a worker registers, receives offers on a subject that
// carries its worker id, accepts or declines them, and completes and closes the jobs
// it was assigned. Every call is a CloudEvent request answered by the router with a
// definitive result or a typed error:
//
//	c, _ := patchbay.New(nc)
//	res, _ := c.CreateJob(ctx, patchbay.JobSpec{QueueID: "support", ChannelID: "voice"})
//	_, err := c.Accept(ctx, offer)
//	if errors.Is(err, patchbay.ErrOfferExpired) { ... }
//
// The wire contract the client speaks is documented in the README and in schemas/; a
// client in any language can speak it with a plain NATS library.
package patchbay
