package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/matcher"
)

const walKey = "wal"

// walRecord is the write-ahead record of the last batch of commands (or timer tick)
// applied: everything needed to finish it after a crash.
type walRecord struct {
	// Commands are the commands the record applied, with their answers.
	Commands []walCommand       `json:"commands,omitempty"`
	Ops      []matcher.Op       `json:"ops,omitempty"`
	Events   []matcher.Outbound `json:"events,omitempty"`
}

// walCommand is one applied command: its CloudEvent id and source, and its reply.
type walCommand struct {
	ID     string `json:"id"`
	Source string `json:"source,omitempty"`
	Reply  []byte `json:"reply,omitempty"`
}

// maxRecordBytes caps a record well below NATS's default 1 MiB message size.
const maxRecordBytes = 256 << 10

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

// size estimates the record's encoded size.
func (w *walRecord) size() int {
	n := 0
	for _, c := range w.Commands {
		n += len(c.ID) + len(c.Source) + len(c.Reply)*4/3 + 64
	}
	for _, op := range w.Ops {
		n += len(op.Bucket) + len(op.Key) + len(op.Value)*4/3 + 64
	}
	for _, ev := range w.Events {
		n += len(ev.Subject) + len(ev.ID) + len(ev.Body)*4/3 + 64
	}
	return n
}

// commit makes a record durable: the WAL first, then the KV writes and the events
// together (published asynchronously, then awaited).
func (r *Router) commit(ctx context.Context, rec *walRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode wal: %w", err)
	}
	if _, err := r.kv[events.BucketRouter].Put(ctx, walKey, b); err != nil {
		return fmt.Errorf("write wal: %w", err)
	}
	r.lastWAL = rec
	return r.replay(ctx, rec)
}

// replay applies a record's KV writes and publishes its events. Puts are absolute
// values and events carry a Nats-Msg-Id, so replaying twice is harmless.
func (r *Router) replay(ctx context.Context, rec *walRecord) error {
	futures := make([]jetstream.PubAckFuture, 0, len(rec.Ops)+len(rec.Events))
	for _, op := range rec.Ops {
		m := nats.NewMsg("$KV." + op.Bucket + "." + op.Key)
		if op.Value == nil {
			m.Header.Set("KV-Operation", "DEL")
		} else {
			m.Data = op.Value
		}
		f, err := r.js.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("write %s/%s: %w", op.Bucket, op.Key, err)
		}
		futures = append(futures, f)
	}
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

// recover finishes the last record, in case the router stopped half-way through it.
func (r *Router) recoverWAL(ctx context.Context) error {
	e, err := r.kv[events.BucketRouter].Get(ctx, walKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read wal: %w", err)
	}
	rec := &walRecord{}
	if err := json.Unmarshal(e.Value(), rec); err != nil {
		return fmt.Errorf("decode wal: %w", err)
	}
	if err := r.replay(ctx, rec); err != nil {
		return fmt.Errorf("replay wal: %w", err)
	}
	r.lastWAL = rec
	return nil
}

// loadState reads every entity from KV.
func (r *Router) loadState(ctx context.Context) (matcher.State, error) {
	s := matcher.State{}
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
	return s, nil
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
			if !ok {
				return out, nil
			}
			if e == nil {
				return out, nil
			}
			out[e.Key()] = e.Value()
		case <-ctx.Done():
			return nil, fmt.Errorf("read %s: %w", bucket, ctx.Err())
		}
	}
}
