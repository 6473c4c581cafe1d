package router

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/matcher"
)

const (
	walKey = "wal"
	// walChunkPrefix starts the keys of the chunks of a record too large for one
	// message: "wal.<router id>.<record seq>.<n>", unique to the router that wrote them.
	walChunkPrefix = "wal."
)

// walRecord is the write-ahead record of the last batch of commands (or timer tick)
// applied: everything needed to finish it after a crash. When its changes and events
// do not fit in one message they are written first as chunks, and the record names
// them (Chunks); the record itself is always written last, by compare-and-set on the
// previous record's revision, so only the router that wrote the previous one can
// write the next. It is encoded by appendRecord (walcodec.go); the json tags only
// read the records that earlier versions wrote as JSON.
type walRecord struct {
	// Seq numbers the records of a deployment.
	Seq uint64 `json:"seq,omitempty"`
	// Commands are the commands the record applied, with their answers.
	Commands []walCommand       `json:"commands,omitempty"`
	Ops      []matcher.Op       `json:"ops,omitempty"`
	Events   []matcher.Outbound `json:"events,omitempty"`
	// Chunks are the keys holding Ops and Events when they were written apart.
	Chunks []string `json:"chunks,omitempty"`
	// PendingFrom is the number of the oldest record before this one whose KV writes
	// were pending when it was written (0: none): replaying this record replays those
	// records' writes first, read from the record key's history.
	PendingFrom uint64 `json:"-"`
	// publishing is when commit began to publish the events (for the spans; not
	// stored).
	publishing time.Time
}

// walCommand is one applied command: its CloudEvent id and source, and its reply.
type walCommand struct {
	ID     string `json:"id"`
	Source string `json:"source,omitempty"`
	Reply  []byte `json:"reply,omitempty"`
}

// batchRecordBytes is the size of a batch's record past which the batch is committed
// before the next command is applied: it keeps records (and the work redone after a
// failure) small. It is not a limit: a larger record is written in chunks.
const batchRecordBytes = 256 << 10

// messageOverhead is what a KV message needs besides its value (subject, headers).
const messageOverhead = 4 << 10

// Errors of the store.
var (
	// errDeposed means another router holds the lease and has written since this one
	// last did: nothing more may be written.
	errDeposed = errors.New("another router has taken over: this router's writes are fenced off")
	// errPermanent marks a failure that retrying will not fix.
	errPermanent = errors.New("cannot be stored")
)

func (r *Router) setLastWAL(rec *walRecord) {
	r.walMu.Lock()
	r.lastWAL = rec
	r.walMu.Unlock()
}

// appliedCommand finds a command in the last record written.
func (r *Router) appliedCommand(id, source string) (walCommand, bool) {
	r.walMu.Lock()
	defer r.walMu.Unlock()
	return r.lastWAL.command(id, source)
}

// command finds an applied command in the record.
func (w *walRecord) command(id, source string) (walCommand, bool) {
	if w == nil {
		return walCommand{}, false
	}
	for _, c := range w.Commands {
		if c.ID == id && c.Source == source {
			return c, true
		}
	}
	return walCommand{}, false
}

// walMark is how many commands, changes and events a record held at some point.
type walMark struct{ commands, ops, events int }

func (w *walRecord) mark() walMark { return walMark{len(w.Commands), len(w.Ops), len(w.Events)} }

// sizeFrom estimates the encoded size of what was added to the record since m (each
// field's bytes, and a generous allowance for the lengths before them).
func (w *walRecord) sizeFrom(m walMark) int {
	n := 0
	for _, c := range w.Commands[m.commands:] {
		n += len(c.ID) + len(c.Source) + len(c.Reply) + fieldsOverhead
	}
	for _, op := range w.Ops[m.ops:] {
		n += opSize(op)
	}
	for _, ev := range w.Events[m.events:] {
		n += eventSize(ev)
	}
	return n
}

// fieldsOverhead bounds what one item's lengths add to its bytes in the record
// (three uvarints of at most 10 bytes each).
const fieldsOverhead = 32

func opSize(op matcher.Op) int { return len(op.Bucket) + len(op.Key) + len(op.Value) + fieldsOverhead }
func eventSize(ev matcher.Outbound) int {
	return len(ev.Subject) + len(ev.ID) + len(ev.Body) + fieldsOverhead
}

// maxItemBytes is the largest KV value or event body the router can store: it must
// fit in one message on its own and in one chunk of a record, with its key or
// subject (which the broker bounds far below messageOverhead).
func (r *Router) maxItemBytes() int { return r.maxMessageBytes() - messageOverhead }

// maxMessageBytes is the largest message the broker accepts.
func (r *Router) maxMessageBytes() int {
	if n := int(r.nc.MaxPayload()); n > 0 {
		return n
	}
	return 1 << 20
}

// checkSizes refuses a result that holds a KV value or an event larger than the broker
// accepts. This is the only way a record could fail to be written for good: records
// of any size are chunked, so checking every item makes every write fit.
func (r *Router) checkSizes(ops []matcher.Op, evs []matcher.Outbound) error {
	limit := r.maxItemBytes()
	for _, op := range ops {
		if len(op.Value) > limit {
			return fmt.Errorf("%w: the new value of %s/%s is %d bytes; the broker accepts at most %d", errPermanent, op.Bucket, op.Key, len(op.Value), limit)
		}
	}
	for _, ev := range evs {
		if len(ev.Body) > limit {
			return fmt.Errorf("%w: the event %s is %d bytes; the broker accepts at most %d", errPermanent, ev.Subject, len(ev.Body), limit)
		}
	}
	return nil
}

// commit makes a record durable: the record first (its chunks, then the record by
// compare-and-set), then the KV writes (each conditional on the key's revision), then
// the events. A write that fails its condition means another router took over: the
// router stops (errDeposed) without writing anything more.
func (r *Router) commit(ctx context.Context, rec *walRecord) (err error) {
	if r.Err() != nil {
		return errDeposed
	}
	began := time.Now() // for the metrics: a monotonic reading, not the clock
	defer func() {
		switch {
		case err == nil:
			r.metrics.stored(rec, time.Since(began))
		case !errors.Is(err, errDeposed):
			r.metrics.persistFailed.Inc()
		}
	}()
	if err := r.checkSizes(rec.Ops, rec.Events); err != nil {
		return err
	}
	if hook := r.hook.Load(); hook != nil {
		if err := (*hook)("record"); err != nil {
			return err
		}
	}
	rec.Seq = r.walSeq + 1
	rec.Chunks = nil
	rec.Ops = lastPerKey(rec.Ops)
	rec.PendingFrom = r.pending.from()
	// The record's buffer is used again: the write below has copied it when it returns.
	r.walBuf = appendRecord(r.walBuf[:0], rec)
	b := r.walBuf
	if len(b)+messageOverhead > r.maxMessageBytes() {
		head, err := r.writeChunks(ctx, rec)
		if err != nil {
			return err
		}
		b = appendRecord(nil, head)
		if len(b)+messageOverhead > r.maxMessageBytes() {
			return fmt.Errorf("%w: the record of %d commands is %d bytes without its changes", errPermanent, len(rec.Commands), len(b))
		}
	}
	rev, err := r.kv[events.BucketRouter].Update(ctx, walKey, b, r.walRev)
	if err != nil {
		if isWrongLastSeq(err) {
			r.fail(fmt.Errorf("write wal: %w", errDeposed))
			return errDeposed
		}
		return fmt.Errorf("write wal: %w", err)
	}
	r.walRev, r.walSeq = rev, rec.Seq
	r.setLastWAL(rec)
	if hook := r.hook.Load(); hook != nil {
		if err := (*hook)("written"); err != nil {
			return err
		}
	}
	// From here on a failure reloads, and the reload replays this record and the
	// pending records before it.
	writes := r.pending.written(rec.Seq, rec.Ops, len(rec.Chunks) > 0, time.Now())
	if err := r.replay(ctx, writes, rec, true); err != nil {
		return err
	}
	return r.dropChunks(ctx, rec.Chunks)
}

// flushPending makes the KV writes of every pending record: the router has nothing
// else to store. The last record written names the pending records, so this writes
// nothing else first.
func (r *Router) flushPending(ctx context.Context) error {
	if r.Err() != nil {
		return errDeposed
	}
	if hook := r.hook.Load(); hook != nil {
		if err := (*hook)("flush"); err != nil {
			return err
		}
	}
	return r.replay(ctx, r.pending.takeAll(), &walRecord{}, true)
}

// writeChunks writes a large record's changes and events as chunks that each fit in
// one message, and returns the record that names them.
func (r *Router) writeChunks(ctx context.Context, rec *walRecord) (*walRecord, error) {
	limit := r.maxMessageBytes() - messageOverhead
	var chunks []*walRecord // each holds only changes and events
	cur, n := &walRecord{}, 0
	add := func(size int) {
		if n > 0 && n+size > limit {
			chunks = append(chunks, cur)
			cur, n = &walRecord{}, 0
		}
		n += size
	}
	for _, op := range rec.Ops {
		add(opSize(op))
		cur.Ops = append(cur.Ops, op)
	}
	for _, ev := range rec.Events {
		add(eventSize(ev))
		cur.Events = append(cur.Events, ev)
	}
	if n > 0 {
		chunks = append(chunks, cur)
	}
	head := &walRecord{Seq: rec.Seq, Commands: rec.Commands}
	futures := make([]jetstream.PubAckFuture, 0, len(chunks))
	for i, c := range chunks {
		b := appendRecord(nil, c)
		key := walChunkPrefix + r.id + "." + strconv.FormatUint(rec.Seq, 10) + "." + strconv.Itoa(i)
		f, err := r.js.PublishAsync("$KV."+events.BucketRouter+"."+key, b)
		if err != nil {
			return nil, fmt.Errorf("write wal chunk: %w", err)
		}
		futures = append(futures, f)
		head.Chunks = append(head.Chunks, key)
	}
	if err := await(ctx, futures); err != nil {
		return nil, fmt.Errorf("write wal chunks: %w", err)
	}
	rec.Chunks = head.Chunks
	return head, nil
}

// dropChunks removes a finished record's chunks, leaving no marker behind for long.
func (r *Router) dropChunks(ctx context.Context, keys []string) error {
	futures := make([]jetstream.PubAckFuture, 0, len(keys))
	for _, k := range keys {
		f, err := r.js.PublishMsgAsync(r.purgeMsg(events.BucketRouter, k), jetstream.WithMsgTTL(markerTTL))
		if err != nil {
			return fmt.Errorf("drop wal chunk: %w", err)
		}
		futures = append(futures, f)
	}
	if err := await(ctx, futures); err != nil {
		return fmt.Errorf("drop wal chunks: %w", err)
	}
	return nil
}

// markerTTL: JetStream keeps a key's removal marker this long (the buckets'
// LimitMarkerTTL must allow it; a second is the least it takes). Nothing reads the
// markers: the router loads live keys, and a key written again after its marker is
// gone expects no revision.
const markerTTL = time.Second

func (r *Router) purgeMsg(bucket, key string) *nats.Msg {
	m := nats.NewMsg("$KV." + bucket + "." + key)
	m.Header.Set("KV-Operation", "PURGE")
	m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	return m
}

// replay makes the KV writes, which name each key once (the last write of it), and
// publishes the record's events, all at once, and waits for every acknowledgement.
// Fenced, each write is conditional on the revision this router last saw for its key
// (a key it does not know must not exist, or be a removal marker), so a router that
// was deposed while it replayed cannot write over its successor's state; unfenced
// (recovery by the lease holder) writes are absolute values, so replaying twice is
// harmless. Events carry a Nats-Msg-Id and JetStream drops duplicates.
//
// The events need not wait for the writes: the record is committed once written
// (compare-and-set), and a successor replays the last record before it loads, so
// they are published whatever becomes of this router (invariant 15).
func (r *Router) replay(ctx context.Context, writes []matcher.Op, rec *walRecord, fenced bool) error {
	ops := make([]opWrite, 0, len(writes))
	for _, op := range writes {
		f, err := r.writeOp(op, fenced, r.revs[keyOf(op)])
		if err != nil {
			return fmt.Errorf("write %s/%s: %w", op.Bucket, op.Key, err)
		}
		ops = append(ops, opWrite{op: op, f: f})
	}
	if fenced {
		rec.publishing = time.Now()
	}
	futures := make([]jetstream.PubAckFuture, 0, len(rec.Events))
	for _, ev := range rec.Events {
		m := nats.NewMsg(ev.Subject)
		m.Data = ev.Body
		m.Header.Set("Content-Type", events.ContentTypeCloudEvent)
		f, err := r.js.PublishMsgAsync(m, jetstream.WithMsgID(ev.ID))
		if err != nil {
			return fmt.Errorf("publish %s: %w", ev.Subject, err)
		}
		futures = append(futures, f)
	}
	var errs []error
	for _, w := range ops {
		select {
		case ack := <-w.f.Ok():
			r.noteWrite(w.op, ack.Sequence)
		case err := <-w.f.Err():
			if fenced && isWrongLastSeq(err) {
				err = r.rewriteOverMarker(ctx, w.op)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: %w", w.op.Bucket, w.op.Key, err))
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	published := await(ctx, futures)
	for _, err := range errs {
		if errors.Is(err, errDeposed) {
			r.fail(err)
			return errDeposed
		}
	}
	return errors.Join(append(errs, published)...)
}

// lastPerKey keeps the last write of each key, in the order of the keys' first
// writes: KV writes are absolute values, and one conditional write per key is what
// the fence needs.
func lastPerKey(ops []matcher.Op) []matcher.Op {
	last := make(map[kvKey]int, len(ops))
	for i, op := range ops {
		last[keyOf(op)] = i
	}
	if len(last) == len(ops) {
		return ops
	}
	out := make([]matcher.Op, 0, len(last))
	for _, op := range ops {
		k := keyOf(op)
		if j, ok := last[k]; ok {
			out = append(out, ops[j])
			delete(last, k)
		}
	}
	return out
}

type opWrite struct {
	op matcher.Op
	f  jetstream.PubAckFuture
}

// writeOp publishes one KV write; fenced, it expects the key's last revision to be rev
// (0: the key does not exist).
func (r *Router) writeOp(op matcher.Op, fenced bool, rev uint64) (jetstream.PubAckFuture, error) {
	var m *nats.Msg
	opts := []jetstream.PublishOpt{}
	if op.Value == nil {
		m = r.purgeMsg(op.Bucket, op.Key)
		opts = append(opts, jetstream.WithMsgTTL(markerTTL))
	} else {
		m = nats.NewMsg("$KV." + op.Bucket + "." + op.Key)
		m.Data = op.Value
	}
	if fenced {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(rev))
	}
	return r.js.PublishMsgAsync(m, opts...)
}

// rewriteOverMarker retries a fenced write whose key's revision was not the one this
// router knew. When the key holds only a removal marker (a key removed and written
// again: a forgotten job id reused) the write is retried on the marker's revision;
// anything else means another router wrote the key: errDeposed.
func (r *Router) rewriteOverMarker(ctx context.Context, op matcher.Op) error {
	if _, known := r.revs[keyOf(op)]; known {
		return errDeposed
	}
	m, err := r.js.Stream(ctx, "KV_"+op.Bucket)
	if err != nil {
		return err
	}
	last, err := m.GetLastMsgForSubject(ctx, "$KV."+op.Bucket+"."+op.Key)
	if err != nil {
		return err
	}
	switch last.Header.Get("KV-Operation") {
	case "DEL", "PURGE":
	default:
		return errDeposed
	}
	f, err := r.writeOp(op, true, last.Sequence)
	if err != nil {
		return err
	}
	select {
	case ack := <-f.Ok():
		r.noteWrite(op, ack.Sequence)
		return nil
	case err := <-f.Err():
		if isWrongLastSeq(err) {
			return errDeposed
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// noteWrite remembers the revision of a key this router wrote (a removed key is
// forgotten: its next write expects it not to exist, or to be a marker).
func (r *Router) noteWrite(op matcher.Op, rev uint64) {
	k := keyOf(op)
	if op.Value == nil {
		delete(r.revs, k)
		return
	}
	r.revs[k] = rev
}

// kvKey names a KV key in a bucket (a map key that costs no allocation to build).
type kvKey struct{ bucket, key string }

func keyOf(op matcher.Op) kvKey { return kvKey{op.Bucket, op.Key} }

// await waits for every publish.
func await(ctx context.Context, futures []jetstream.PubAckFuture) error {
	var errs []error
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs = append(errs, fmt.Errorf("%s: %w", f.Msg().Subject, err))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
}

// isWrongLastSeq reports whether a compare-and-set write lost: the key or subject has
// another revision than expected. Replicated streams may report it with code 10164
// rather than 10071, and then it does not match jetstream.ErrKeyExists.
func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return errors.Is(err, jetstream.ErrKeyExists)
}

// isPermanent reports whether retrying cannot fix err.
func isPermanent(err error) bool {
	return errors.Is(err, errPermanent) || errors.Is(err, nats.ErrMaxPayload) ||
		strings.Contains(err.Error(), "maximum payload exceeded")
}

// recoverWAL finishes the last record, in case the router stopped half-way through
// it, with the writes of the pending records it names; removes chunks no record
// names (left by a router that stopped before it wrote its record); and fences off
// every earlier holder of the lease: it writes the record again, so a deposed
// router's next record fails its compare-and-set.
func (r *Router) recoverWAL(ctx context.Context) error {
	// What was pending is named by the last record, which this replays.
	r.pending.reset()
	kv := r.kv[events.BucketRouter]
	e, err := kv.Get(ctx, walKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		rec := &walRecord{}
		rev, err := kv.Create(ctx, walKey, appendRecord(nil, rec))
		if err != nil {
			return fmt.Errorf("write wal: %w", err)
		}
		r.walRev, r.walSeq = rev, 0
		r.setLastWAL(rec)
		return r.dropStaleChunks(ctx)
	case err != nil:
		return fmt.Errorf("read wal: %w", err)
	}
	rec, err := decodeRecord(e.Value())
	if err != nil {
		return fmt.Errorf("decode wal: %w", err)
	}
	// The fence is the record as it was, naming no pending record: replayed, their
	// writes are made.
	fence := *rec
	fence.PendingFrom = 0
	ops, err := r.pendingOps(ctx, rec)
	if err != nil {
		return fmt.Errorf("replay wal: %w", err)
	}
	complete := true
	for _, k := range rec.Chunks {
		ce, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			// Chunks are removed only after their record (and every write pending
			// before it) was replayed.
			complete = false
			break
		}
		if err != nil {
			return fmt.Errorf("read wal chunk: %w", err)
		}
		c, err := decodeRecord(ce.Value())
		if err != nil {
			return fmt.Errorf("decode wal chunk: %w", err)
		}
		rec.Ops, rec.Events = append(rec.Ops, c.Ops...), append(rec.Events, c.Events...)
	}
	if complete {
		pending, err := r.unpublished(ctx, rec.Events)
		if err != nil {
			return fmt.Errorf("replay wal: %w", err)
		}
		if err := r.replay(ctx, lastPerKey(append(ops, rec.Ops...)), &walRecord{Events: pending}, false); err != nil {
			return fmt.Errorf("replay wal: %w", err)
		}
	}
	rev, err := kv.Update(ctx, walKey, appendRecord(nil, &fence), e.Revision())
	if err != nil {
		if isWrongLastSeq(err) {
			return fmt.Errorf("fence wal: %w", errDeposed)
		}
		return fmt.Errorf("fence wal: %w", err)
	}
	r.walRev, r.walSeq = rev, rec.Seq
	r.setLastWAL(rec)
	return r.dropStaleChunks(ctx)
}

// pendingOps reads back the writes of the pending records rec names, oldest first,
// from the record key's history. Every one must be there: the bucket keeps more
// revisions than records can be pending.
func (r *Router) pendingOps(ctx context.Context, rec *walRecord) ([]matcher.Op, error) {
	if rec.PendingFrom == 0 || rec.PendingFrom >= rec.Seq {
		return nil, nil
	}
	history, err := r.kv[events.BucketRouter].History(ctx, walKey)
	if err != nil {
		return nil, fmt.Errorf("read the pending records: %w", err)
	}
	bySeq := map[uint64]*walRecord{}
	for _, e := range history {
		if e.Operation() != jetstream.KeyValuePut {
			continue
		}
		h, err := decodeRecord(e.Value())
		if err != nil {
			return nil, fmt.Errorf("decode a pending record: %w", err)
		}
		if h.Seq >= rec.PendingFrom && h.Seq < rec.Seq {
			bySeq[h.Seq] = h
		}
	}
	var ops []matcher.Op
	for seq := rec.PendingFrom; seq < rec.Seq; seq++ {
		h, ok := bySeq[seq]
		if !ok {
			return nil, fmt.Errorf("pending record %d is not in the history of %s/%s", seq, events.BucketRouter, walKey)
		}
		ops = append(ops, h.Ops...)
	}
	return ops, nil
}

// unpublished returns the events of evs that are not in the event stream yet. JetStream
// would drop a second copy from the stream anyway, but subscribers on the subject
// (workers listening for offers) would see it twice. A record's events are published
// in order on one connection, so when the last event of a subject is stored, the
// earlier ones on that subject are too.
func (r *Router) unpublished(ctx context.Context, evs []matcher.Outbound) ([]matcher.Outbound, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	stream, err := r.js.Stream(ctx, events.StreamEvents)
	if err != nil {
		return nil, err
	}
	last := map[string]string{} // subject -> id of the record's last event on it
	for _, ev := range evs {
		last[ev.Subject] = ev.ID
	}
	stored := map[string]bool{}
	for subject, id := range last {
		m, err := stream.GetLastMsgForSubject(ctx, subject)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
		case err != nil:
			return nil, err
		default:
			stored[subject] = m.Header.Get(events.HeaderMsgID) == id
		}
	}
	var out []matcher.Outbound
	for _, ev := range evs {
		if !stored[ev.Subject] {
			out = append(out, ev)
		}
	}
	return out, nil
}

// dropStaleChunks removes every record chunk: called once the last record is
// finished, when no chunk is needed any more.
func (r *Router) dropStaleChunks(ctx context.Context) error {
	lister, err := r.kv[events.BucketRouter].ListKeysFiltered(ctx, walChunkPrefix+">")
	if err != nil {
		return fmt.Errorf("list wal chunks: %w", err)
	}
	var stale []string
	for k := range lister.Keys() {
		stale = append(stale, k)
	}
	return r.dropChunks(ctx, stale)
}

// loadState reads every entity from KV, and the revision of every key (the
// conditions of this router's next writes).
func (r *Router) loadState(ctx context.Context) (matcher.State, error) {
	s := matcher.State{}
	r.revs = map[kvKey]uint64{}
	var err error
	if s.Jobs, err = r.readBucket(ctx, events.BucketJobs); err != nil {
		return s, err
	}
	if s.Workers, err = r.readBucket(ctx, events.BucketWorkers); err != nil {
		return s, err
	}
	if s.Offers, err = r.readBucket(ctx, events.BucketOffers); err != nil {
		return s, err
	}
	if s.Policies, err = r.readBucket(ctx, events.BucketPolicies); err != nil {
		return s, err
	}
	if s.Queues, err = r.readBucket(ctx, events.BucketQueues); err != nil {
		return s, err
	}
	return s, r.dropStaleQueueKeys(ctx, s.Queues)
}

// dropStaleQueueKeys removes from the queues bucket the keys per queued job that
// earlier versions wrote there: nothing reads them, and nothing would ever remove
// them. Each removal is fenced on the revision just read.
func (r *Router) dropStaleQueueKeys(ctx context.Context, queues map[string][]byte) error {
	var futures []jetstream.PubAckFuture
	for k := range queues {
		if matcher.IsQueueStateKey(k) {
			continue
		}
		rk := kvKey{events.BucketQueues, k}
		f, err := r.writeOp(matcher.Op{Bucket: events.BucketQueues, Key: k}, true, r.revs[rk])
		if err != nil {
			return fmt.Errorf("drop stale queue key: %w", err)
		}
		futures = append(futures, f)
		delete(queues, k)
		delete(r.revs, rk)
	}
	if err := await(ctx, futures); err != nil {
		return fmt.Errorf("drop stale queue keys: %w", err)
	}
	return nil
}

// readBucket returns every live key of a bucket with its value, through one watcher
// (initial values, then the nil marker).
func (r *Router) readBucket(ctx context.Context, bucket string) (map[string][]byte, error) {
	w, err := r.kv[bucket].WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", bucket, err)
	}
	defer w.Stop()
	out := map[string][]byte{}
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok || e == nil {
				return out, nil
			}
			out[e.Key()] = e.Value()
			r.revs[kvKey{bucket, e.Key()}] = e.Revision()
		case <-ctx.Done():
			return nil, fmt.Errorf("read %s: %w", bucket, ctx.Err())
		}
	}
}
