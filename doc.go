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
// # Reading the router's state
//
// Queries change nothing and are answered from the router's current state: JobInfo,
// QueueInfo and WorkerInfo read one entity; ListJobs, ListWorkers, ListQueues and
// ListPolicies page through what the router holds (send a page's Next as the next
// call's After), GetPolicy reads one policy, and ExplainJob says why a job is, or is
// not, offered to each worker of its queue.
//
// # Retries
//
// A call builds its CloudEvent once and sends the same bytes again, with the same id,
// while the router cannot answer for a passing reason: no answer in time, no router
// listening (it is restarting, or not up yet), or a refusal whose Error.Retryable is
// true. Resending a command with the same CloudEvent id is always safe: the router
// applies an id at most once and answers a duplicate with the first result; Retryable
// says whether resending may succeed. Pauses grow from RetryBackoffMin to
// RetryBackoffMax, with jitter; a call gives up at its context's deadline, or after
// RetryDeadlineDefault (WithRetryDeadline) when the context has none. Any other
// refusal is returned at once.
//
// The wire contract the client speaks is documented in the README and in schemas/; a
// client in any language can speak it with a plain NATS library.
package patchbay
