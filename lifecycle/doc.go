// Package lifecycle holds patchbay's state machines: the job's and the offer's. Each
// status is a typed constant; each transition is a method that either returns the next
// status or a *TransitionError saying which transition was refused and why. There is
// no I/O here. See state_machine.md for the diagrams.
package lifecycle
