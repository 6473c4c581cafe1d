// Package matcher is patchbay's routing engine: the jobs, workers and offers in memory,
// the ordered queues, eligibility (queues, capacity, worker selectors, declines),
// worker ordering, offers and their timers.
//
// It does no I/O. Engine.Apply takes one inbound command and the current time and
// returns a Result: the KV writes that persist the new state, the outbound events and
// the reply. Engine.Tick does the same for timers that are due. The router
// (internal/router) persists a Result before it acknowledges the command, and at start
// rebuilds the engine with Engine.Load from what it persisted.
package matcher
