// Package azapi serves an HTTP API compatible with the public REST API of Azure
// Communication Services Job Router, api-version 2023-11-01, under /routing/.
//
// It is a thin translation layer: every request becomes the same commands and
// queries any patchbay client sends (a *patchbay.Client: CreateJob, RegisterWorker,
// PutPolicy, Accept, JobInfo, WorkerInfo, ...), so the router stays the one engine
// and its events stay on NATS. Azure's bodies (camelCase RouterJob, RouterWorker,
// RouterQueue, DistributionPolicy, ExceptionPolicy, ClassificationPolicy) are mapped
// field by field to patchbay's; a field patchbay has no equivalent for is refused
// with 400 and the field's name, never dropped.
//
// Upserts are PATCH with application/merge-patch+json (RFC 7396): the handler reads
// the current entity, applies the patch, and sends the whole command. ETags are
// strong: a policy's (and a queue's) is its revision in the router, so If-Match is
// checked by the router itself, atomically; a job's or worker's is a hash of the
// representation served, so If-Match is checked against a read made just before the
// command (best effort: a change between the read and the command is not detected).
//
// The API acts with the credentials of the process that serves it (patchbay serve's
// router connection): whoever can reach it can act as any worker. Serve it only
// behind the operator's own authentication, or with a bearer token (WithToken).
//
// The served routes are described by schemas/openapi.yaml; a test keeps the two in
// step.
package azapi
