package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Chain is the second baseline: the path a job takes through patchbay, built from raw
// JetStream with no routing in it. A relay consumes commands from a work-queue stream
// with explicit acks, a batch at a time; for each batch it makes one compare-and-set
// write of a record key (the write-ahead record), then publishes each command's KV
// writes and events asynchronously, waits for their acknowledgements, and
// acknowledges the commands. A client publishes each job's commands in turn, each
// once it has the events of the one before, as the simulated workers do. The
// lifecycle has the router's shape (chainStages): four commands, seven events and
// three KV writes per job.
//
// It tells what the broker alone costs for that path on this machine, so the
// router's latency can be read against it as well as against one publish.
type Chain struct {
	Jobs int `json:"jobs"`
	// Rate paces the creates (0: flat out, at most MaxOpen jobs open).
	Rate    float64 `json:"rate,omitempty"`
	MaxOpen int     `json:"maxOpen,omitempty"`
	// NoRecord: the relay made no record write (Config.ChainNoRecord).
	NoRecord bool `json:"noRecord,omitempty"`
	// MsgsPerJob is what the chain's streams took per job: commands, records, KV
	// writes and events.
	MsgsPerJob float64 `json:"msgsPerJob"`
	// Throughput is jobs per second, from the first create to the last job's last
	// event.
	Throughput float64 `json:"jobsPerSecond"`
	// CreatedToOffer is from a create published to its last event received: the
	// offer, the third of the create's events.
	CreatedToOffer Latency `json:"createdToOffer"`
}

// chainStages is the lifecycle the chain takes each job through: per command, the
// events it publishes and the KV writes it makes, as the router does for create,
// accept, complete and close.
var chainStages = []struct{ events, puts int }{
	{events: 3, puts: 1}, // job.received, job.queued, offer.issued; the job
	{events: 2, puts: 1}, // offer.accepted, job.assigned; the worker
	{events: 1},          // job.completed
	{events: 1, puts: 1}, // job.closed; the offer
}

// chainBatchMax bounds the commands the relay takes into one record.
const chainBatchMax = 256

// chain is one measurement in progress.
type chain struct {
	js      jetstream.JetStream // the client's
	relayJS jetstream.JetStream
	kv      jetstream.KeyValue
	prefix  string // subjects: prefix.in.<job>.<stage>, prefix.ev.<job>.<stage>.<event>
	body    []byte
	record  bool          // write the record key before each batch's writes
	window  chan struct{} // flat out: a slot per open job

	mu     sync.Mutex
	sent   []time.Time
	offer  []time.Duration
	closed int
	last   time.Time
	failed error
	done   chan struct{}
}

// chainSpec is what one chain measurement does.
type chainSpec struct {
	name     string // of the scratch streams and bucket
	replicas int
	jobs     int
	rate     float64 // creates per second; 0: flat out, at most maxOpen jobs open
	maxOpen  int
	msg      []byte // the size of every command and event
	timeout  time.Duration
	noRecord bool // no record write: the floor of any design that reads commands from a stream
}

// measureChain takes sp.jobs jobs through the chain on scratch streams named after
// sp.name, which it deletes afterwards.
func measureChain(ctx context.Context, client, relay *nats.Conn, sp chainSpec, progress func(string)) (c Chain, err error) {
	c = Chain{Jobs: sp.jobs, Rate: sp.rate, NoRecord: sp.noRecord}
	if sp.rate == 0 {
		c.MaxOpen = sp.maxOpen
	}
	js, err := jetstream.New(client, jetstream.WithPublishAsyncMaxPending(PublishMaxPending), jetstream.WithPublishAsyncTimeout(sp.timeout))
	if err != nil {
		return c, err
	}
	relayJS, err := jetstream.New(relay, jetstream.WithPublishAsyncMaxPending(PublishMaxPending), jetstream.WithPublishAsyncTimeout(sp.timeout))
	if err != nil {
		return c, err
	}
	prefix := "patchbaybench." + strings.ToLower(sp.name)
	streams := []jetstream.StreamConfig{
		{Name: sp.name + "_IN", Subjects: []string{prefix + ".in.>"}, Retention: jetstream.WorkQueuePolicy},
		{Name: sp.name + "_EV", Subjects: []string{prefix + ".ev.>"}},
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for _, s := range streams {
			if derr := js.DeleteStream(dctx, s.Name); derr != nil && !errors.Is(derr, jetstream.ErrStreamNotFound) {
				err = errors.Join(err, fmt.Errorf("chain: delete stream %s: %w", s.Name, derr))
			}
		}
		if derr := js.DeleteKeyValue(dctx, sp.name); derr != nil && !errors.Is(derr, jetstream.ErrBucketNotFound) {
			err = errors.Join(err, fmt.Errorf("chain: delete bucket %s: %w", sp.name, derr))
		}
	}()
	var in jetstream.Stream
	for i, s := range streams {
		s.Description = "patchbay bench: raw JetStream relay chain (scratch, deleted after the measurement)"
		s.Storage, s.Replicas = jetstream.FileStorage, sp.replicas
		st, err := js.CreateStream(ctx, s)
		if err != nil {
			return c, fmt.Errorf("chain: create stream %s: %w", s.Name, err)
		}
		if i == 0 {
			in = st
		}
	}
	kv, err := relayJS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: sp.name, Storage: jetstream.FileStorage, Replicas: sp.replicas})
	if err != nil {
		return c, fmt.Errorf("chain: create bucket %s: %w", sp.name, err)
	}
	cons, err := in.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		return c, fmt.Errorf("chain: create consumer: %w", err)
	}

	ch := &chain{js: js, relayJS: relayJS, kv: kv, prefix: prefix, body: sp.msg, record: !sp.noRecord,
		sent: make([]time.Time, sp.jobs), offer: make([]time.Duration, 0, sp.jobs), done: make(chan struct{})}
	if sp.rate == 0 {
		ch.window = make(chan struct{}, sp.maxOpen)
	}
	sub, err := client.Subscribe(prefix+".ev.>", ch.onEvent)
	if err != nil {
		return c, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return c, err
	}
	if err := client.Flush(); err != nil {
		return c, err
	}
	rctx, stopRelay := context.WithCancel(ctx)
	defer stopRelay()
	relayed := make(chan jetstream.Msg, chainBatchMax)
	cc, err := cons.Consume(func(m jetstream.Msg) { relayed <- m })
	if err != nil {
		return c, fmt.Errorf("chain: consume: %w", err)
	}
	defer cc.Stop()
	go ch.relay(rctx, relayed)

	pace := "flat out"
	if sp.rate > 0 {
		pace = fmt.Sprintf("at %g/s", sp.rate)
	}
	what := "raw relay chain"
	if sp.noRecord {
		what += " without its record"
	}
	progress(fmt.Sprintf("baseline: %s, %d jobs %s", what, sp.jobs, pace))
	start := time.Now()
	for i := range sp.jobs {
		if !waitTurn(ctx, start, i, sp.rate, ch.window) {
			break
		}
		ch.mu.Lock()
		ch.sent[i] = time.Now()
		ch.mu.Unlock()
		ch.command(i, 0)
	}
	select {
	case <-ch.done:
	case <-ctx.Done():
		return c, fmt.Errorf("chain: %w", context.Cause(ctx))
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.failed != nil {
		return c, ch.failed
	}
	if d := ch.last.Sub(start); d > 0 {
		c.Throughput = float64(sp.jobs) / d.Seconds()
	}
	c.CreatedToOffer = latency(ch.offer)
	var msgs uint64
	for _, st := range append(streams, jetstream.StreamConfig{Name: "KV_" + sp.name}) {
		info, err := js.Stream(ctx, st.Name)
		if err != nil {
			return c, fmt.Errorf("chain: %w", err)
		}
		msgs += info.CachedInfo().State.LastSeq
	}
	c.MsgsPerJob = float64(msgs) / float64(sp.jobs)
	return c, nil
}

// command publishes job i's command of stage s.
func (ch *chain) command(i, s int) {
	m := nats.NewMsg(ch.prefix + ".in." + strconv.Itoa(i) + "." + strconv.Itoa(s))
	m.Data = ch.body
	if _, err := ch.js.PublishMsgAsync(m); err != nil {
		ch.fail(fmt.Errorf("chain: publish: %w", err))
	}
}

// onEvent follows the events: a command's last event releases the job's next
// command; the create's last event is the offer.
func (ch *chain) onEvent(m *nats.Msg) {
	tokens := strings.Split(strings.TrimPrefix(m.Subject, ch.prefix+".ev."), ".")
	if len(tokens) != 3 {
		return
	}
	i, err1 := strconv.Atoi(tokens[0])
	s, err2 := strconv.Atoi(tokens[1])
	e, err3 := strconv.Atoi(tokens[2])
	if err1 != nil || err2 != nil || err3 != nil || s >= len(chainStages) || e != chainStages[s].events-1 {
		return
	}
	if s == 0 {
		ch.mu.Lock()
		ch.offer = append(ch.offer, time.Since(ch.sent[i]))
		ch.mu.Unlock()
	}
	if s+1 < len(chainStages) {
		ch.command(i, s+1)
		return
	}
	if ch.window != nil {
		<-ch.window
	}
	ch.mu.Lock()
	ch.closed++
	if ch.closed == len(ch.sent) {
		ch.last = time.Now()
		ch.finish()
	}
	ch.mu.Unlock()
}

// relay applies the commands a batch at a time: the record, then the batch's KV
// writes and events together, then the acks.
func (ch *chain) relay(ctx context.Context, msgs <-chan jetstream.Msg) {
	var rev uint64
	record := make([]byte, 0, 1024)
	for {
		var batch []jetstream.Msg
		select {
		case m := <-msgs:
			batch = append(batch, m)
		case <-ctx.Done():
			return
		}
	more:
		for len(batch) < chainBatchMax {
			select {
			case m := <-msgs:
				batch = append(batch, m)
			default:
				break more
			}
		}
		if ch.record {
			record = record[:0]
			for _, m := range batch {
				record = append(append(record, m.Subject()...), m.Data()...)
			}
			r, err := ch.kv.Update(ctx, "record", record, rev)
			if err != nil {
				ch.fail(fmt.Errorf("chain: write record: %w", err))
				return
			}
			rev = r
		}
		var futures []jetstream.PubAckFuture
		for _, m := range batch {
			job, stage, _ := strings.Cut(strings.TrimPrefix(m.Subject(), ch.prefix+".in."), ".")
			s, _ := strconv.Atoi(stage)
			for p := range chainStages[s].puts {
				f, err := ch.relayJS.PublishAsync("$KV."+ch.kv.Bucket()+".job"+job+"_"+strconv.Itoa(p), m.Data())
				if err != nil {
					ch.fail(fmt.Errorf("chain: KV write: %w", err))
					return
				}
				futures = append(futures, f)
			}
			for e := range chainStages[s].events {
				f, err := ch.relayJS.PublishAsync(ch.prefix+".ev."+job+"."+stage+"."+strconv.Itoa(e), m.Data())
				if err != nil {
					ch.fail(fmt.Errorf("chain: publish event: %w", err))
					return
				}
				futures = append(futures, f)
			}
		}
		if err := await(ctx, futures); err != nil {
			ch.fail(fmt.Errorf("chain: %w", err))
			return
		}
		for _, m := range batch {
			_ = m.Ack()
		}
	}
}

func (ch *chain) fail(err error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.failed == nil {
		ch.failed = err
		ch.finish()
	}
}

// finish ends the measurement, once; ch.mu is held.
func (ch *chain) finish() {
	select {
	case <-ch.done:
	default:
		close(ch.done)
	}
}

// await waits for every acknowledgement and returns the first failure.
func await(ctx context.Context, futures []jetstream.PubAckFuture) error {
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}
