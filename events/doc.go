// Package events is patchbay's wire contract: the one catalog of CloudEvent types,
// the one place where NATS subjects are named, the payload of every event, the error
// codes the router answers with, and the encoding of CloudEvents over NATS in both
// content modes (structured JSON body, or binary with ce- headers), with the W3C
// trace context of the CloudEvents distributed tracing extension (trace.go:
// TraceOf, WithTrace).
//
// It does no I/O: it turns Go values into (subject, headers, body) triples and back.
package events
