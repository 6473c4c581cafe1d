package matcher

import (
	"fmt"
	"testing"
	"time"

	"github.com/patchbay/patchbay/events"
)

// benchEngine is an engine with n registered workers, each with room for one voice job,
// all in queue q1. Commands are built directly (no CloudEvent round trip) so that the
// benchmark measures the engine.
func benchEngine(b *testing.B, n int) (*Engine, time.Time) {
	b.Helper()
	ids := &idSeq{}
	e, err := New(Config{NewID: ids.next})
	if err != nil {
		b.Fatal(err)
	}
	now := t0
	for i := range n {
		id := fmt.Sprintf("w%04d", i)
		res := e.Apply(Command{ID: "reg-" + id, Type: events.TypeWorkerRegister, Data: &events.WorkerRegister{
			WorkerID: id, Queues: []string{"q1"}, TotalCapacity: intPtr(1),
			Labels:   events.Labels{"level": float64(i % 10), "lang": []string{"en", "fr"}[i%2]},
			Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}},
		}}, now)
		if res.Err != nil {
			b.Fatal(res.Err)
		}
		now = now.Add(time.Millisecond)
	}
	return e, now
}

func must(b *testing.B, res *Result) *Result {
	if res.Err != nil {
		b.Fatal(res.Err)
	}
	return res
}

// BenchmarkCreateAcceptCompleteClose is one job's whole lifecycle through Apply with 100
// workers: create (and offer), accept, complete, close.
func BenchmarkCreateAcceptCompleteClose(b *testing.B) {
	e, now := benchEngine(b, 100)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		now = now.Add(time.Millisecond)
		jobID := fmt.Sprintf("j%d", i)
		must(b, e.Apply(Command{ID: "c-" + jobID, Type: events.TypeJobCreated, Data: &events.JobCreated{
			JobID: jobID, QueueID: "q1", ChannelID: "voice", Priority: i % 7,
			WorkerSelectors: []events.WorkerSelector{{Key: "level", Operator: events.OpGreaterThanOrEqual, Value: float64(0)}},
		}}, now))
		j := e.jobs[jobID]
		if len(j.OfferIDs) != 1 {
			b.Fatalf("job %s has %d offers", jobID, len(j.OfferIDs))
		}
		o := e.offers[j.OfferIDs[0]]
		res := must(b, e.Apply(Command{ID: "a-" + jobID, Type: events.TypeOfferAccept, Data: &events.OfferAccept{JobID: jobID, OfferID: o.OfferID, WorkerID: o.WorkerID}}, now))
		asg := res.Reply.AssignmentID
		must(b, e.Apply(Command{ID: "m-" + jobID, Type: events.TypeJobComplete, Data: &events.JobComplete{JobID: jobID, AssignmentID: asg}}, now))
		must(b, e.Apply(Command{ID: "x-" + jobID, Type: events.TypeJobClose, Data: &events.JobClose{JobID: jobID, AssignmentID: asg, DispositionCode: "Resolved"}}, now))
	}
}

// BenchmarkMatch1000Workers measures matching one new job against 1000 workers in one
// queue: create (which picks the best eligible worker among 1000) and cancel (which
// revokes the offer and frees the worker again).
func BenchmarkMatch1000Workers(b *testing.B) {
	e, now := benchEngine(b, 1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		jobID := fmt.Sprintf("j%d", i)
		res := must(b, e.Apply(Command{ID: "c-" + jobID, Type: events.TypeJobCreated, Data: &events.JobCreated{
			JobID: jobID, QueueID: "q1", ChannelID: "voice",
			WorkerSelectors: []events.WorkerSelector{{Key: "level", Operator: events.OpGreaterThan, Value: float64(4)}, {Key: "lang", Operator: events.OpEqual, Value: "fr"}},
		}}, now))
		if len(res.Events) != 3 {
			b.Fatalf("job %s was not offered", jobID)
		}
		must(b, e.Apply(Command{ID: "x-" + jobID, Type: events.TypeJobCancel, Data: &events.JobCancel{JobID: jobID}}, now))
	}
}

// BenchmarkBest1000Workers is the choice of a worker alone, without events or KV writes.
func BenchmarkBest1000Workers(b *testing.B) {
	e, now := benchEngine(b, 1000)
	e.now = now
	j := &Job{Job: events.Job{JobID: "j", QueueID: "q1", ChannelID: "voice",
		WorkerSelectors: []events.WorkerSelector{{Key: "level", Operator: events.OpGreaterThan, Value: float64(4)}}}}
	cands := e.candidates("q1")
	b.ReportAllocs()
	for b.Loop() {
		if ps := e.pick(j, cands, e.distributionOf("q1"), 1); len(ps) == 0 {
			b.Fatal("no worker")
		}
	}
}
