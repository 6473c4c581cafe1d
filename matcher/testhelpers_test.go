package matcher

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// t0 is the fake clock's start. Every test passes explicit times; nothing reads the
// wall clock.
var t0 = time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)

// idSeq is a deterministic Config.NewID: id1, id2, ...
type idSeq struct{ n int }

func (s *idSeq) next() string { s.n++; return fmt.Sprintf("id%d", s.n) }

// harness drives one engine with a fake clock, builds commands the way the router
// does (a structured CloudEvent, decoded and its data decoded), and keeps a model of
// the KV buckets by applying every Op of every Result.
type harness struct {
	t    testing.TB
	e    *Engine
	cfg  Config
	ids  *idSeq
	cmdN int
	now  time.Time
	// lastTick is the time of the last Tick (or Resume): every timer due then has fired.
	lastTick time.Time
	kv       kvModel
	// all is every event the engine emitted, in order.
	all []ev
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	ids := &idSeq{}
	cfg.NewID = ids.next
	e, err := New(cfg)
	require.NoError(t, err)
	return &harness{t: t, e: e, cfg: cfg, ids: ids, now: t0, kv: kvModel{}}
}

// advance moves the fake clock forward and returns the new time.
func (h *harness) advance(d time.Duration) time.Time {
	h.now = h.now.Add(d)
	return h.now
}

// mkCommand encodes data as a structured CloudEvent and decodes it back, so that the
// engine sees exactly what the router would give it (numbers as float64, times in UTC).
func mkCommand(t testing.TB, id string, typ events.Type, data any, at time.Time) Command {
	t.Helper()
	ce, err := events.New(typ, id, "/test/producer", "", at, data)
	require.NoError(t, err)
	body, err := events.Structured(ce)
	require.NoError(t, err)
	dec, err := events.Decode(nil, body)
	require.NoError(t, err)
	p := events.Payload(typ)
	require.NotNil(t, p, "not an inbound type: %s", typ)
	if err := events.DecodeData(dec, p); err != nil {
		// Over an edge limit: the router refuses it before the engine; the engine's
		// own checks are tested with what the JSON says.
		require.NoError(t, json.Unmarshal(dec.Data(), p), "%v", err)
	}
	return Command{ID: dec.ID(), Type: events.Type(dec.Type()), Source: dec.Source(), Data: p}
}

// do applies a command with a fresh CloudEvent id at the harness's clock.
func (h *harness) do(typ events.Type, data any) outcome {
	h.t.Helper()
	h.cmdN++
	return h.doID(fmt.Sprintf("cmd%d", h.cmdN), typ, data)
}

// doID applies a command with the given CloudEvent id.
func (h *harness) doID(id string, typ events.Type, data any) outcome {
	h.t.Helper()
	return h.record(h.e.Apply(mkCommand(h.t, id, typ, data, h.now), h.now))
}

// tick moves the clock to at and fires the due timers.
func (h *harness) tick(at time.Time) outcome {
	h.t.Helper()
	h.now, h.lastTick = at, at
	return h.record(h.e.Tick(at))
}

// record checks what every Result must satisfy, applies its Ops to the KV model and
// decodes its events.
func (h *harness) record(res *Result) outcome {
	h.t.Helper()
	o := outcome{Result: res}
	if res == nil {
		return o
	}
	if res.Err != nil {
		require.Empty(h.t, res.Ops, "a refused command must not write anything (%v)", res.Err)
		require.Nil(h.t, res.Reply, "a refused command has no success reply")
	}
	h.kv.apply(res.Ops)
	o.Evs = decodeEvents(h.t, res.Events)
	h.all = append(h.all, o.Evs...)
	return o
}

// --- commands ---

func (h *harness) register(id string, mods ...func(*events.WorkerRegister)) outcome {
	h.t.Helper()
	return h.do(events.TypeWorkerRegister, workerData(id, mods...))
}

func workerData(id string, mods ...func(*events.WorkerRegister)) *events.WorkerRegister {
	d := &events.WorkerRegister{
		WorkerID:      id,
		Queues:        []string{"q1"},
		TotalCapacity: intPtr(1),
		Channels:      []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}},
	}
	for _, m := range mods {
		m(d)
	}
	return d
}

func wQueues(q ...string) func(*events.WorkerRegister) {
	return func(d *events.WorkerRegister) { d.Queues = q }
}

func wCapacity(total int, chs ...events.ChannelConfig) func(*events.WorkerRegister) {
	return func(d *events.WorkerRegister) {
		d.TotalCapacity = intPtr(total)
		if len(chs) > 0 {
			d.Channels = chs
		}
	}
}

func wLabels(l events.Labels) func(*events.WorkerRegister) {
	return func(d *events.WorkerRegister) { d.Labels = l }
}

func wAvailable(b bool) func(*events.WorkerRegister) {
	return func(d *events.WorkerRegister) { d.AvailableForOffers = &b }
}

func ch(id string, cost, max int) events.ChannelConfig {
	return events.ChannelConfig{ChannelID: id, CapacityCostPerJob: cost, MaxNumberOfJobs: max}
}

func (h *harness) update(d events.WorkerRegister) outcome {
	h.t.Helper()
	return h.do(events.TypeWorkerUpdate, &d)
}

func (h *harness) deregister(id string) outcome {
	h.t.Helper()
	return h.do(events.TypeWorkerDeregister, &events.WorkerDeregister{WorkerID: id})
}

func (h *harness) create(jobID, queue string, mods ...func(*events.JobCreated)) outcome {
	h.t.Helper()
	return h.do(events.TypeJobCreated, jobData(jobID, queue, mods...))
}

func jobData(jobID, queue string, mods ...func(*events.JobCreated)) *events.JobCreated {
	d := &events.JobCreated{JobID: jobID, QueueID: queue, ChannelID: "voice"}
	for _, m := range mods {
		m(d)
	}
	return d
}

func jPriority(p int) func(*events.JobCreated) {
	return func(d *events.JobCreated) { d.Priority = p }
}

func jChannel(c string) func(*events.JobCreated) {
	return func(d *events.JobCreated) { d.ChannelID = c }
}

func jSelectors(s ...events.WorkerSelector) func(*events.JobCreated) {
	return func(d *events.JobCreated) { d.WorkerSelectors = s }
}

func sel(key, op string, v any) events.WorkerSelector {
	return events.WorkerSelector{Key: key, Operator: op, Value: v}
}

func (h *harness) accept(jobID, offerID, workerID string) outcome {
	h.t.Helper()
	return h.do(events.TypeOfferAccept, &events.OfferAccept{JobID: jobID, OfferID: offerID, WorkerID: workerID})
}

func (h *harness) decline(jobID, offerID, workerID string, retryAt *time.Time) outcome {
	h.t.Helper()
	return h.do(events.TypeOfferDecline, &events.OfferDecline{JobID: jobID, OfferID: offerID, WorkerID: workerID, RetryOfferAt: retryAt})
}

func (h *harness) complete(jobID, assignmentID string) outcome {
	h.t.Helper()
	return h.do(events.TypeJobComplete, &events.JobComplete{JobID: jobID, AssignmentID: assignmentID})
}

func (h *harness) close(jobID, assignmentID, disposition string, at *time.Time) outcome {
	h.t.Helper()
	return h.do(events.TypeJobClose, &events.JobClose{JobID: jobID, AssignmentID: assignmentID, DispositionCode: disposition, CloseAt: at})
}

func (h *harness) cancel(jobID string) outcome {
	h.t.Helper()
	return h.do(events.TypeJobCancel, &events.JobCancel{JobID: jobID, DispositionCode: "Abandoned", Note: "caller hung up"})
}

// assign drives a job already offered to a worker to assigned and returns the
// assignment id.
func (h *harness) assign(jobID, workerID string) string {
	h.t.Helper()
	o := h.offerFor(jobID)
	require.Equal(h.t, workerID, o.WorkerID, "job %s is offered to the wrong worker", jobID)
	out := h.accept(jobID, o.OfferID, workerID)
	require.Nil(h.t, out.Err)
	return out.Reply.AssignmentID
}

// --- queries ---

func (h *harness) job(id string) events.Job {
	h.t.Helper()
	j, ok := h.e.Job(id)
	require.True(h.t, ok, "no job %s", id)
	return j
}

func (h *harness) worker(id string) events.Worker {
	h.t.Helper()
	w, ok := h.e.Worker(id)
	require.True(h.t, ok, "no worker %s", id)
	return w
}

// outstanding are a job's offers in status issued.
func (h *harness) outstanding(jobID string) []events.Offer {
	h.t.Helper()
	j := h.e.jobs[jobID]
	require.NotNil(h.t, j, "no job %s", jobID)
	var out []events.Offer
	for _, id := range j.OfferIDs {
		o, ok := h.e.Offer(id)
		require.True(h.t, ok)
		out = append(out, o)
	}
	return out
}

// offerFor is a job's one outstanding offer.
func (h *harness) offerFor(jobID string) events.Offer {
	h.t.Helper()
	os := h.outstanding(jobID)
	require.Len(h.t, os, 1, "job %s should have one outstanding offer", jobID)
	return os[0]
}

// offeredTo is the worker a job is offered to, "" when none.
func (h *harness) offeredTo(jobID string) string {
	h.t.Helper()
	os := h.outstanding(jobID)
	require.LessOrEqual(h.t, len(os), 1)
	if len(os) == 0 {
		return ""
	}
	return os[0].WorkerID
}

// issuedTo lists, in order, the workers every offer.issued event for a job went to.
func (h *harness) issuedTo(jobID string) []string {
	var out []string
	for _, e := range h.all {
		if e.Type == events.TypeOfferIssued && e.Offer.JobID == jobID {
			out = append(out, e.Offer.WorkerID)
		}
	}
	return out
}

// --- results and events ---

// outcome is a Result with its events decoded.
type outcome struct {
	*Result
	Evs []ev
}

// ev is one decoded outbound event.
type ev struct {
	Type      events.Type
	Subject   string // the NATS subject
	ID        string
	CESubject string
	Time      time.Time
	Job       events.Job
	Offer     events.Offer
	Worker    events.Worker
	Policy    events.Policy
}

func decodeEvents(t testing.TB, obs []Outbound) []ev {
	t.Helper()
	var out []ev
	seen := map[string]bool{}
	for _, ob := range obs {
		ce, err := events.Decode(nil, ob.Body)
		require.NoError(t, err)
		require.Equal(t, ob.ID, ce.ID(), "Outbound.ID is the CloudEvent id")
		require.False(t, seen[ob.ID], "event id %s used twice", ob.ID)
		seen[ob.ID] = true
		require.Equal(t, events.RouterSource, ce.Source())
		require.Equal(t, events.ContentTypeJSON, ce.DataContentType())
		e := ev{Type: events.Type(ce.Type()), Subject: ob.Subject, ID: ce.ID(), CESubject: ce.Subject(), Time: ce.Time()}
		name := e.Type.Name()
		switch {
		case strings.HasPrefix(name, "job."):
			require.NoError(t, events.DecodeData(ce, &e.Job))
			require.Equal(t, events.JobSubject(e.Job.QueueID, e.Job.JobID, e.Type), ob.Subject)
			require.Equal(t, e.Job.JobID, e.CESubject)
		case strings.HasPrefix(name, "offer."):
			require.NoError(t, events.DecodeData(ce, &e.Offer))
			require.Equal(t, events.OfferSubject(e.Offer.WorkerID, e.Offer.JobID, e.Type), ob.Subject)
			require.Equal(t, e.Offer.JobID, e.CESubject)
		case strings.HasPrefix(name, "worker."):
			require.NoError(t, events.DecodeData(ce, &e.Worker))
			require.Equal(t, events.WorkerSubject(e.Worker.WorkerID, e.Type), ob.Subject)
			require.Equal(t, e.Worker.WorkerID, e.CESubject)
		case strings.HasPrefix(name, "policy."):
			require.NoError(t, events.DecodeData(ce, &e.Policy))
			require.Equal(t, events.PolicySubject(e.Policy.Kind, e.Policy.ID, e.Type), ob.Subject)
			require.Equal(t, policyKey(e.Policy.Kind, e.Policy.ID), e.CESubject)
		default:
			t.Fatalf("unexpected outbound event type %s", e.Type)
		}
		out = append(out, e)
	}
	return out
}

func (o outcome) types() []events.Type {
	var ts []events.Type
	for _, e := range o.Evs {
		ts = append(ts, e.Type)
	}
	return ts
}

func (o outcome) ofType(t events.Type) []ev {
	var out []ev
	for _, e := range o.Evs {
		if e.Type == t {
			out = append(out, e)
		}
	}
	return out
}

// issued are the offers this outcome issued.
func (o outcome) issued() []events.Offer {
	var out []events.Offer
	for _, e := range o.ofType(events.TypeOfferIssued) {
		out = append(out, e.Offer)
	}
	return out
}

// requireRefused checks a refusal: the wire error matches want, and nothing was written.
func requireRefused(t testing.TB, o outcome, want error) {
	t.Helper()
	require.NotNil(t, o.Result, "expected a refusal")
	require.NotNil(t, o.Err, "expected a refusal matching %v", want)
	require.ErrorIs(t, o.Err, want)
	require.Empty(t, o.Ops)
	require.Nil(t, o.Reply)
}

func requireOK(t testing.TB, o outcome) {
	t.Helper()
	require.NotNil(t, o.Result)
	require.Nil(t, o.Err, "unexpected refusal")
	require.NotNil(t, o.Reply)
}

// --- KV model ---

// kvModel is the KV buckets as the router would leave them: bucket -> key -> value.
type kvModel map[string]map[string][]byte

func (m kvModel) apply(ops []Op) {
	for _, op := range ops {
		b := m[op.Bucket]
		if b == nil {
			b = map[string][]byte{}
			m[op.Bucket] = b
		}
		if op.Value == nil {
			delete(b, op.Key)
		} else {
			b[op.Key] = append([]byte(nil), op.Value...)
		}
	}
}

func (m kvModel) state() State {
	cp := func(b map[string][]byte) map[string][]byte {
		out := make(map[string][]byte, len(b))
		for k, v := range b {
			out[k] = append([]byte(nil), v...)
		}
		return out
	}
	return State{Jobs: cp(m[events.BucketJobs]), Workers: cp(m[events.BucketWorkers]), Offers: cp(m[events.BucketOffers]),
		Policies: cp(m[events.BucketPolicies]), Queues: cp(m[events.BucketQueues])}
}

// queueOrder is the job ids of a queue in dispatch order, as an engine loaded from
// the KV model has them: what a restarted router would offer next.
func (m kvModel) queueOrder(queueID string) []string {
	e, err := New(Config{})
	if err != nil {
		panic(err)
	}
	if err := e.Load(m.state()); err != nil {
		panic(err)
	}
	return e.QueueJobIDs(queueID)
}

// requireKVMatches checks that the KV model holds exactly the engine's entities, byte
// for byte: every change the engine made was in some Result's Ops.
func requireKVMatches(t testing.TB, m kvModel, e *Engine) {
	t.Helper()
	check := func(bucket string, want map[string][]byte) {
		got := m[bucket]
		require.Len(t, got, len(want), "bucket %s", bucket)
		for k, v := range want {
			require.Equal(t, string(v), string(got[k]), "bucket %s key %s", bucket, k)
		}
	}
	jobs, workers, offers := map[string][]byte{}, map[string][]byte{}, map[string][]byte{}
	for id, j := range e.jobs {
		jobs[id] = mustJSON(j)
	}
	for id, w := range e.workers {
		workers[id] = mustJSON(w)
	}
	for id, o := range e.offers {
		offers[id] = mustJSON(o)
	}
	check(events.BucketJobs, jobs)
	check(events.BucketWorkers, workers)
	check(events.BucketOffers, offers)
	// the queues bucket holds the round-robin cursors and the enqueue sequence, not
	// the queued jobs (their records give their places)
	queued := map[string][]byte{}
	for q, c := range e.cursors {
		queued[CursorKey(q)] = []byte(c)
	}
	// the enqueue sequence, kept once a job was forgotten: with the stored jobs', it
	// gives back the engine's
	seq := uint64(0)
	for _, j := range e.jobs {
		seq = max(seq, j.Seq)
	}
	if v, ok := m[events.BucketQueues][SeqKey]; ok {
		queued[SeqKey] = v
		n, err := strconv.ParseUint(string(v), 10, 64)
		require.NoError(t, err)
		seq = max(seq, n)
	}
	require.Equal(t, e.seq, seq, "the stored enqueue sequence")
	check(events.BucketQueues, queued)
	for id := range e.queues {
		require.Equal(t, nilIfEmpty(e.QueueJobIDs(id)), nilIfEmpty(m.queueOrder(id)), "queue %s order", id)
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// --- engine state ---

// dump is everything an engine holds, as comparable strings: every entity as
// stored, its public snapshot, every non-empty queue in dispatch order, and the
// enqueue sequence.
func dump(e *Engine) map[string]string {
	out := map[string]string{"seq": fmt.Sprint(e.seq)}
	for id, j := range e.jobs {
		out["job/"+id] = string(mustJSON(j))
		s, _ := e.Job(id)
		out["jobsnap/"+id] = string(mustJSON(s))
	}
	for id, w := range e.workers {
		out["worker/"+id] = string(mustJSON(w))
		s, _ := e.Worker(id)
		out["workersnap/"+id] = string(mustJSON(s))
	}
	for id, o := range e.offers {
		out["offer/"+id] = string(mustJSON(o))
		s, _ := e.Offer(id)
		out["offersnap/"+id] = string(mustJSON(s))
	}
	for id := range e.queues {
		if ids := e.QueueJobIDs(id); len(ids) > 0 {
			out["queue/"+id] = strings.Join(ids, ",")
		}
	}
	return out
}

type deadline struct {
	At time.Time
	OK bool
}

func nextDeadline(e *Engine) deadline {
	at, ok := e.NextDeadline()
	return deadline{at, ok}
}

// --- invariants (docs/design.md) ---

// checkInvariants asserts the structural invariants of an engine's state: a job is
// assigned to at most one worker; a worker holds no more than its capacity; every
// issued offer is in its job's outstanding list and its worker's loads and nothing
// else is; every queued job is in its queue exactly once and no other job is; the
// derived worker fields agree with the loads. It runs after every step of the
// randomized test, so it checks with plain comparisons and builds a message only
// when one fails.
func checkInvariants(t testing.TB, e *Engine) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("invariant: "+format, args...)
	}
	// queues
	inQueue := map[string]int{}
	for qid, q := range e.queues {
		for i, j := range q.jobs {
			if e.jobs[j.JobID] != j {
				fail("queue %s holds a job the engine does not know: %s", qid, j.JobID)
			}
			if qid != j.QueueID {
				fail("job %s is in queue %s, not its own", j.JobID, qid)
			}
			if j.status() != lifecycle.JobQueued {
				fail("job %s is in queue %s but %s", j.JobID, qid, j.Status)
			}
			inQueue[j.JobID]++
			if i > 0 {
				if !q.less(q.jobs[i-1], j) {
					fail("queue %s out of dispatch order at %d", qid, i)
				}
			}
		}
	}
	// worker loads
	holders := map[string][]string{}
	offerLoads := map[string]string{}
	for wid, w := range e.workers {
		// invariant 18: a lost worker has no outstanding offer
		if w.lost() && w.offers() > 0 {
			fail("worker %s is lost but has %d outstanding offers", wid, w.offers())
		}
		// invariant 20: a worker is in an activity that exists, availableForOffers is
		// its flag, and so a worker whose activity takes no offers holds none (below)
		if avail, ok := e.activity(w.Activity); !ok || avail != w.AvailableForOffers {
			fail("worker %s is in activity %q (exists %v, takes offers %v) with availableForOffers %v", wid, w.Activity, ok, avail, w.AvailableForOffers)
		}
		if wid != w.WorkerID {
			fail("worker key %s holds %s", wid, w.WorkerID)
		}
		used, perCh := 0, map[string]int{}
		seenJob := map[string]bool{}
		for _, l := range w.Loads {
			used += l.Cost
			perCh[l.ChannelID]++
			if seenJob[l.JobID] {
				fail("worker %s holds job %s twice", wid, l.JobID)
			}
			seenJob[l.JobID] = true
			if l.OfferID != "" {
				o := e.offers[l.OfferID]
				if o == nil {
					fail("worker %s load names unknown offer %s", wid, l.OfferID)
				}
				if o.status() != lifecycle.OfferIssued {
					fail("worker %s holds capacity for offer %s that is %s", wid, l.OfferID, o.Status)
				}
				if !(o.WorkerID == wid && o.JobID == l.JobID) {
					fail("worker %s load for offer %s does not match it", wid, l.OfferID)
				}
				if o.CapacityCost != l.Cost {
					fail("worker %s load for offer %s costs %d, the offer %d", wid, l.OfferID, l.Cost, o.CapacityCost)
				}
				if !w.takesOffers() {
					fail("unavailable or lost worker %s holds offer %s", wid, l.OfferID)
				}
				offerLoads[l.OfferID] = wid
			} else {
				holders[l.JobID] = append(holders[l.JobID], wid)
			}
		}
		if used > w.TotalCapacity {
			fail("worker %s holds %d > capacity %d", wid, used, w.TotalCapacity)
		}
		for chID, n := range perCh {
			if c, ok := w.channel(chID); ok && c.MaxNumberOfJobs > 0 {
				if n > c.MaxNumberOfJobs {
					fail("worker %s holds %d jobs on channel %s, max %d", wid, n, chID, c.MaxNumberOfJobs)
				}
			}
		}
		cp := *w
		cp.Loads = append([]Load(nil), w.Loads...)
		cp.refreshState()
		if !(cp.UsedCapacity == w.UsedCapacity && cp.LoadRatio == w.LoadRatio && cp.State == w.State && slices.Equal(cp.OfferIDs, w.OfferIDs) && slices.Equal(cp.AssignedJobIDs, w.AssignedJobIDs)) {
			fail("worker %s derived fields are stale: %+v", wid, w.Worker)
		}
	}
	checkActivityIndex(t, e)
	// jobs
	for id, j := range e.jobs {
		if id != j.JobID {
			fail("job key %s holds %s", id, j.JobID)
		}
		st := j.status()
		if st == lifecycle.JobQueued {
			if inQueue[id] != 1 {
				fail("queued job %s is in its queue %d times", id, inQueue[id])
			}
			if j.Assignment != nil {
				fail("queued job %s has an assignment", id)
			}
		} else {
			if inQueue[id] != 0 {
				fail("%s job %s is in a queue", st, id)
			}
			if len(j.OfferIDs) != 0 {
				fail("%s job %s has outstanding offers %v", st, id, j.OfferIDs)
			}
		}
		perWorker := map[string]bool{}
		for _, oid := range j.OfferIDs {
			o := e.offers[oid]
			if o == nil {
				fail("job %s lists unknown offer %s", id, oid)
			}
			if o.status() != lifecycle.OfferIssued {
				fail("job %s lists offer %s that is %s", id, oid, o.Status)
			}
			if o.JobID != id {
				fail("job %s lists offer %s of job %s", id, oid, o.JobID)
			}
			if perWorker[o.WorkerID] {
				fail("job %s has two outstanding offers to %s", id, o.WorkerID)
			}
			perWorker[o.WorkerID] = true
		}
		switch st {
		case lifecycle.JobScheduled, lifecycle.JobWaitingForActivation, lifecycle.JobSuspended:
			if j.Assignment != nil || len(j.OfferIDs) != 0 || inQueue[id] != 0 {
				fail("%s job %s holds an assignment, offers or a queue place", st, id)
			}
		}
		if j.UnassignmentCount > events.MaxUnassignments {
			fail("job %s was unassigned %d times", id, j.UnassignmentCount)
		}
		if st.HoldsCapacity() {
			if j.Assignment == nil {
				fail("%s job %s has no assignment", st, id)
			}
			if !(len(holders[id]) == 1 && holders[id][0] == j.Assignment.WorkerID) {
				fail("%s job %s must be held by exactly its worker %s, held by %v", st, id, j.Assignment.WorkerID, holders[id])
			}
		} else {
			if len(holders[id]) != 0 {
				fail("%s job %s still holds capacity of %v", st, id, holders[id])
			}
		}
		if st == lifecycle.JobClosed || st == lifecycle.JobCompleted {
			if j.Assignment.CompletedAt == nil {
				fail("%s job %s has no completedAt", st, id)
			}
		}
		if st == lifecycle.JobClosed {
			if !(j.Assignment.ClosedAt != nil && j.ScheduledCloseAt == nil) {
				fail("closed job %s: closedAt %v, scheduled %v", id, j.Assignment.ClosedAt, j.ScheduledCloseAt)
			}
		}
		if j.ScheduledCloseAt != nil {
			if st != lifecycle.JobCompleted {
				fail("%s job %s has a close scheduled", st, id)
			}
		}
	}
	// offers
	accepted := map[string]string{}
	unassigned := map[string]int{}
	var earliest time.Time
	for id, o := range e.offers {
		if id != o.OfferID {
			fail("offer key %s holds %s", id, o.OfferID)
		}
		j := e.jobs[o.JobID]
		if j == nil {
			fail("offer %s names unknown job %s", id, o.JobID)
		}
		listed := slices.Contains(j.OfferIDs, id)
		if o.status() == lifecycle.OfferIssued {
			if !listed {
				fail("issued offer %s is not in job %s's outstanding list", id, o.JobID)
			}
			if offerLoads[id] != o.WorkerID {
				fail("issued offer %s is not in worker %s's loads", id, o.WorkerID)
			}
			if earliest.IsZero() || o.ExpiresAt.Before(earliest) {
				earliest = o.ExpiresAt
			}
		} else {
			if listed {
				fail("%s offer %s is still outstanding on job %s", o.Status, id, o.JobID)
			}
			if offerLoads[id] != "" {
				fail("%s offer %s still holds capacity", o.Status, id)
			}
		}
		if o.status() == lifecycle.OfferAccepted {
			a := j.Assignment
			if a == nil || a.OfferID != id {
				// An earlier assignment, undone by job.unassign.
				unassigned[o.JobID]++
				if unassigned[o.JobID] > j.UnassignmentCount {
					fail("accepted offer %s does not match job %s's assignment %+v (unassigned %d times)", id, o.JobID, a, j.UnassignmentCount)
				}
				continue
			}
			if accepted[o.JobID] != "" {
				fail("job %s has two accepted offers (%s, %s)", o.JobID, accepted[o.JobID], id)
			}
			accepted[o.JobID] = id
			if !(a.AssignmentID == o.AssignmentID && a.WorkerID == o.WorkerID) {
				fail("accepted offer %s does not match job %s's assignment %+v", id, o.JobID, a)
			}
		}
	}
	for id, j := range e.jobs {
		if j.Assignment != nil {
			if accepted[id] != j.Assignment.OfferID {
				fail("job %s is assigned without its accepted offer", id)
			}
		}
	}
	// an issued offer always has a timer no later than its expiry
	if !earliest.IsZero() {
		at, ok := e.NextDeadline()
		if !(ok && !at.After(earliest)) {
			fail("next deadline %s (%v) is after an offer expiry %s", at, ok, earliest)
		}
	}
	checkWorkerInfo(t, e)
}

// checkActivityIndex checks the engine's counts of workers by activity against a
// count of its workers: every worker is counted once, under its activity and queues.
func checkActivityIndex(t testing.TB, e *Engine) {
	t.Helper()
	x := &e.index.activities
	members, perQueue := 0, map[string]map[string]int{}
	for _, w := range e.workers {
		if _, ok := x.members[w.Activity][w]; !ok {
			t.Fatalf("invariant: worker %s is not counted in its activity %q", w.WorkerID, w.Activity)
		}
		members++
		for _, q := range w.Queues {
			if perQueue[q] == nil {
				perQueue[q] = map[string]int{}
			}
			perQueue[q][w.Activity]++
		}
	}
	n := 0
	for a, set := range x.members {
		if len(set) == 0 {
			t.Fatalf("invariant: activity %q is kept with no workers", a)
		}
		n += len(set)
	}
	if n != members || len(x.counted) != members {
		t.Fatalf("invariant: %d workers, %d counted in activities, %d entries", members, n, len(x.counted))
	}
	if !maps.EqualFunc(perQueue, x.perQueue, maps.Equal) {
		t.Fatalf("invariant: workers by activity per queue are %v, the index counts %v", perQueue, x.perQueue)
	}
}

func intPtr(n int) *int { return &n }

func jsonString(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
