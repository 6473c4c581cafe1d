package events

// Limits: every bound a client can hit, stated once. The router checks them at the
// edge, before a command reaches the engine: the message size and the nesting depth in
// Decode, before the JSON is parsed deeply; the rest in the JSON Schemas (schemas/,
// maxLength, maxItems, maxProperties, maximum: a test keeps them equal to these
// constants) and in CheckLimits, which DecodeData runs on every inbound payload and
// which counts string lengths in bytes of UTF-8 (the schemas count characters, and a
// character is at least one byte, so the byte check is the stricter of the two). A
// command over a limit is refused with invalid_data, the field, and the limit.
//
// How the sizes fit together: the largest job.created the field limits allow, with
// every character of every free-form string written as a six-byte JSON escape
// (\u00XX), is 55,504 bytes in the structured mode with 256-byte id, source and
// subject (59,344 if those were escaped too); limitstest builds it and a test decodes
// it. So it fits in MaxMessageBytes: no command that keeps the field limits is refused
// for its size alone. Tags nested inside one another are
// bounded by MaxMessageBytes as a whole.
const (
	// MaxMessageBytes is the largest inbound NATS message the router accepts: the body
	// plus, in the binary content mode, the ce- headers. 64 KiB holds the largest
	// job.created the field limits allow, even fully escaped (see above). The router
	// re-encodes a job in several events (received, queued, offer.issued embeds it),
	// and encoding/json may write one byte as six (\u003c), so an event about the
	// largest job stays below 6 × 64 KiB = 384 KiB plus the router's own fields, well
	// inside NATS's default max_payload of 1 MiB.
	MaxMessageBytes = 64 << 10

	// MaxJSONDepth is how deeply a command's data may nest objects and arrays; the data
	// object itself is depth 1 (in the structured content mode the CloudEvent around it
	// is one level more). The deepest data the contract defines, a classification
	// policy's worker-selector allocation (data, spec, workerSelectorAttachments, an
	// attachment, allocations, an allocation, selectors, a selector), is depth 8; 10
	// lets tag values nest objects and arrays 8 levels deep. It bounds the recursion of
	// every JSON parser that reads the command.
	MaxJSONDepth = 10

	// MaxAttributeBytes bounds each CloudEvent attribute a client sets (id, source,
	// subject, dataschema, datacontenttype, extensions). The CloudEvent id is kept for
	// idempotency, so it is stored with every command; a UUID is 36 bytes.
	MaxAttributeBytes = 256

	// MaxIDBytes is the longest job, worker, queue, channel, offer, assignment or
	// policy id (the id pattern in schemas/defs.schema.json allows 1 to 128 letters,
	// digits, '-' or '_'). Ids become NATS subject tokens and KV keys.
	MaxIDBytes = 128

	// MaxKeyBytes is the longest label key, tag key, worker-selector key or
	// passThrough key. Keys name attributes ("language", "skillLevel").
	MaxKeyBytes = 64

	// MaxLabelValueBytes is the longest string label value, and the longest string a
	// worker selector compares with. Labels are routing attributes (a language, a
	// tier, a product code), not documents.
	MaxLabelValueBytes = 128

	// MaxLabels is the most labels a job, worker or queue may have, or a reclassify
	// action may upsert. Each label is compared by every selector and scoring rule, so
	// they are kept few.
	MaxLabels = 16

	// MaxTags is the most tags a job or worker may have, and the most entries of any
	// object or array nested in a tag value.
	MaxTags = 16

	// MaxTagValueBytes is the longest string in a tag value, at any depth.
	MaxTagValueBytes = 128

	// MaxWorkerSelectors is the most worker selectors a job.created, or a policy's
	// selector list, may carry. Every candidate worker is tested against each of them.
	// (Classification may attach more to a job.)
	MaxWorkerSelectors = 8

	// MaxWorkerQueues is the most queues a worker may serve.
	MaxWorkerQueues = 32

	// MaxWorkerChannels is the most channels a worker may declare.
	MaxWorkerChannels = 16

	// MaxCapacity bounds totalCapacity, capacityCostPerJob, maxNumberOfJobs and a
	// worker's maxConcurrentOffers. Why no capacity sum can overflow: the engine adds a
	// load (an offer or a job) to a worker only when used + cost <= totalCapacity, so
	// the used capacity, the sum of the costs of its loads, is never more than
	// MaxCapacity = 10^6 after an addition, and the sum it tests is at most
	// 2 × 10^6. Even if every load's cost were counted at a later, larger cost, each
	// load costs at least 1, so a worker holds at most 10^6 loads, and 10^6 × 10^6 =
	// 10^12 is far below the 2^63 - 1 ≈ 9.2 × 10^18 of an int64 (and below 2^53, so
	// the load ratio as a float64 is exact).
	MaxCapacity = 1_000_000

	// MinPriority and MaxPriority bound a job's priority (higher first).
	MinPriority = -100
	MaxPriority = 100

	// MaxDurationSeconds bounds every duration a command or policy may name: selector
	// expiresAfterSeconds, timeToLiveSeconds, workflow target timeoutSeconds, exception
	// thresholdSeconds and offerExpiresAfterSeconds: a week. A week in nanoseconds is
	// 6 × 10^14, so converting it to a time.Duration and adding it to a time cannot
	// overflow (time.Duration holds about 292 years). Times a client names
	// (retryOfferAt, closeAt, scheduleAt) are RFC 3339 date-times, whose four-digit
	// year bounds them to 0000–9999; Go's time arithmetic on them saturates rather than
	// overflows, and the engine refuses a scheduleAt in the past.
	MaxDurationSeconds = 7 * 24 * 3600

	// MaxHeartbeatSeconds bounds a worker's heartbeatSeconds: a worker silent for more
	// than three minutes is not present in any sense a contact centre cares about.
	MaxHeartbeatSeconds = 60

	// MaxNoteBytes is the longest note or notes text (job.created notes, the note of
	// complete, close, cancel and of a cancel action).
	MaxNoteBytes = 1024

	// MaxReferenceBytes is the longest channelReference (a call id, a chat thread id).
	MaxReferenceBytes = 128

	// MaxDispositionCodeBytes is the longest dispositionCode ("Resolved").
	MaxDispositionCodeBytes = 64

	// MaxNameBytes is the longest display name of a policy, a workflow filter name or a
	// knownWorker label reference ("task.preferredAgent").
	MaxNameBytes = 128

	// MaxExpressionBytes is the longest expression, condition, skipIf or orderBy in a
	// policy: expr.MaxSourceLen, the longest source the expression compiler accepts (a
	// test keeps them equal).
	MaxExpressionBytes = 4096

	// MaxPolicyListItems is the most items of any list in a policy: workflow filters,
	// a filter's targets, exception rules and their actions, classification
	// attachments and allocations, prioritization rules, scoring terms. Every job may
	// walk these lists, so they are kept short.
	MaxPolicyListItems = 100

	// MaxPolicyApplyItems is the most puts and deletes one io.patchbay.policy.apply may
	// carry, the policies its prune would delete included. The command is also at most
	// MaxMessageBytes, like every command, which in practice bounds a policy file
	// more tightly than the count; each stored policy and each policy event is
	// checked against the broker's max payload, and the write-ahead record that holds
	// the apply is chunked, so the apply's writes always fit.
	MaxPolicyApplyItems = 256

	// MaxConcurrentOffersPerJob bounds a distribution mode's minConcurrentOffers and
	// maxConcurrentOffers.
	MaxConcurrentOffersPerJob = 100

	// MaxWeight bounds the weight of a scoring term (either sign) and of a weighted
	// allocation, so sums of weights stay finite and exact enough to compare.
	MaxWeight = 1_000_000

	// MaxQueueLengthThreshold bounds a queueLength exception trigger's threshold.
	MaxQueueLengthThreshold = 1_000_000_000

	// MaxRevision bounds the revision a policy command names: 2^53 - 1, the largest
	// integer every JSON implementation reads exactly.
	MaxRevision = 1<<53 - 1

	// DefaultListLimit is how many items a list query answers when it names no limit;
	// MaxListLimit the most it may ask for. An answer also stops where the next item
	// would not fit in one message (the router connection's max payload); next then
	// continues from there.
	DefaultListLimit = 100
	MaxListLimit     = 1000
	// MaxCursorBytes is the longest "after" cursor a list query may send. A cursor is
	// opaque: send back the "next" of the previous answer.
	MaxCursorBytes = 512
	// DefaultExplainWorkers is how many workers an explain query describes when it
	// names no limit; MaxExplainWorkers the most it may ask for.
	DefaultExplainWorkers = 50
	MaxExplainWorkers     = 1000
)
