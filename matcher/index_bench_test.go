package matcher

import (
	"fmt"
	"testing"
	"time"

	"github.com/patchbay/patchbay/events"
)

// Benchmarks of the matching indexes: a freed worker finding its next job among many
// waiting jobs, and a new job finding its worker among many available workers. Each
// loop iteration is one offer, with the commands around it that keep the state the
// same from one iteration to the next.

// benchApply applies a command built directly (no CloudEvent round trip) and fails
// the benchmark when it is refused.
func benchApply(b *testing.B, e *Engine, id string, t events.Type, data any, now time.Time) *Result {
	b.Helper()
	res := e.Apply(Command{ID: id, Type: t, Data: data}, now)
	if res.Err != nil {
		b.Fatalf("%s %s: %v", t, id, res.Err)
	}
	return res
}

// backlogSelectors are the selectors of the waiting jobs in the "selectors" runs:
// an equality selector every worker satisfies (so the index cannot narrow) and a
// comparison.
func backlogSelectors() []events.WorkerSelector {
	return []events.WorkerSelector{
		{Key: "language", Operator: events.OpEqual, Value: "en"},
		{Key: "level", Operator: events.OpGreaterThanOrEqual, Value: float64(3)},
	}
}

// BenchmarkFreedWorker is the cost of a freed worker taking the next job with n jobs
// waiting. One worker with room for one job holds a job; each iteration queues one more
// job at the tail, completes and closes the held job (the freed worker is offered the
// first job that can take an offer) and accepts that offer, so n jobs wait again. In
// the "offers-out" runs, 1000 other workers (never answering) hold offers for the 1000
// jobs at the head of the queue, which the freed worker must not walk past one by one.
func BenchmarkFreedWorker(b *testing.B) {
	for _, n := range []int{0, 10000, 100000} {
		for _, mode := range []string{"no-selectors", "selectors", "offers-out"} {
			b.Run(fmt.Sprintf("jobs=%d/%s", n, mode), func(b *testing.B) {
				e, err := New(Config{NewID: (&idSeq{}).next, OfferExpiry: time.Hour})
				if err != nil {
					b.Fatal(err)
				}
				now := t0
				register := func(id string) {
					benchApply(b, e, "reg-"+id, events.TypeWorkerRegister, &events.WorkerRegister{
						WorkerID: id, Queues: []string{"q"}, TotalCapacity: intPtr(1),
						Labels:   events.Labels{"language": "en", "level": float64(5)},
						Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}},
					}, now)
				}
				seq := 0
				create := func() {
					seq++
					id := fmt.Sprintf("j%d", seq)
					d := &events.JobCreated{JobID: id, QueueID: "q", ChannelID: "voice"}
					if mode == "selectors" {
						d.WorkerSelectors = backlogSelectors()
					}
					benchApply(b, e, "c-"+id, events.TypeJobCreated, d, now)
				}
				w := e.workers
				accept := func() (string, string) { // the freed worker accepts its offer
					for _, l := range w["w"].Loads {
						if l.OfferID != "" {
							res := benchApply(b, e, "a-"+l.JobID, events.TypeOfferAccept,
								&events.OfferAccept{JobID: l.JobID, OfferID: l.OfferID, WorkerID: "w"}, now)
							return l.JobID, res.Reply.AssignmentID
						}
					}
					b.Fatal("the freed worker was offered nothing")
					return "", ""
				}
				register("w")
				create()
				held, asg := accept()
				if mode == "offers-out" {
					for i := range 1000 {
						register(fmt.Sprintf("o%d", i))
						create()
					}
				}
				for range n {
					create()
				}
				b.ReportAllocs()
				for b.Loop() {
					now = now.Add(time.Millisecond)
					create()
					benchApply(b, e, "m-"+held, events.TypeJobComplete, &events.JobComplete{JobID: held, AssignmentID: asg}, now)
					benchApply(b, e, "x-"+held, events.TypeJobClose, &events.JobClose{JobID: held, AssignmentID: asg}, now)
					held, asg = accept()
				}
			})
		}
	}
}

// BenchmarkNewJob is the cost of a new job finding its worker among n available
// workers (each with room for many jobs), by distribution mode (and a workflow
// target's order_by), with no selectors or with selectors every worker satisfies:
// create (and offer), then cancel (which revokes the offer and frees the worker
// again). Best-worker scoring still compares every eligible worker.
func BenchmarkNewJob(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		for _, dist := range []string{"longestIdle", "roundRobin", "orderBy", "bestWorker"} {
			e, err := New(Config{NewID: (&idSeq{}).next})
			if err != nil {
				b.Fatal(err)
			}
			now := t0
			switch dist {
			case "roundRobin", "bestWorker":
				benchApply(b, e, "dist", events.TypePolicyPut, &events.PolicyPut{Kind: events.KindDistributionPolicy, ID: "d",
					Spec: []byte(`{"mode":{"kind":"` + dist + `"}}`)}, now)
				benchApply(b, e, "queue", events.TypePolicyPut, &events.PolicyPut{Kind: events.KindQueue, ID: "q",
					Spec: []byte(`{"distributionPolicyId":"d"}`)}, now)
			case "orderBy": // jobs come through a workflow whose target orders the workers
				benchApply(b, e, "wf", events.TypePolicyPut, &events.PolicyPut{Kind: events.KindWorkflow, ID: "wf",
					Spec: []byte(`{"filters":[{"name":"all","expression":"true","targets":[{"queue":"q","orderBy":"worker.level DESC"}]}]}`)}, now)
			}
			capacity := 1 << 20
			for i := range n {
				benchApply(b, e, fmt.Sprintf("r%d", i), events.TypeWorkerRegister, &events.WorkerRegister{
					WorkerID: fmt.Sprintf("w%06d", i), Queues: []string{"q"}, TotalCapacity: &capacity,
					Labels:   events.Labels{"language": "en", "level": float64(3 + i%5)},
					Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}},
				}, now)
				now = now.Add(time.Microsecond)
			}
			i := 0 // job ids stay unique over the runs on this engine (-count)
			for _, mode := range []string{"no-selectors", "selectors"} {
				b.Run(fmt.Sprintf("workers=%d/%s/%s", n, dist, mode), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						i++
						id := fmt.Sprintf("%s-%d", mode, i)
						d := &events.JobCreated{JobID: id, QueueID: "q", ChannelID: "voice"}
						if dist == "orderBy" {
							d.QueueID, d.WorkflowID = "", "wf"
						}
						if mode == "selectors" {
							d.WorkerSelectors = backlogSelectors()
						}
						benchApply(b, e, "c-"+id, events.TypeJobCreated, d, now)
						if len(e.jobs[id].OfferIDs) != 1 {
							b.Fatalf("job %s was not offered", id)
						}
						benchApply(b, e, "x-"+id, events.TypeJobCancel, &events.JobCancel{JobID: id}, now)
					}
				})
			}
		}
	}
}
