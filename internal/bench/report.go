package bench

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Report is what a run measured.
type Report struct {
	// Mode is ModeFlatOut, ModeRate or ModeBacklog.
	Mode     string  `json:"mode"`
	Jobs     int     `json:"jobs"`
	Workers  int     `json:"workers"`
	Capacity int     `json:"capacity"`
	MaxOpen  int     `json:"maxOpen,omitempty"`
	Rate     float64 `json:"rate,omitempty"`
	Embedded bool    `json:"embedded"`
	// Replicas of the baseline's scratch stream.
	Replicas int `json:"replicas"`
	// Closed is how many jobs were closed.
	Closed int `json:"closed"`
	// Errors counts the failures: commands refused (an accept that lost to an offer
	// expiry, ...), publishes not acknowledged in time (then sent again), events that
	// did not decode.
	Errors int `json:"errors"`
	// Failures counts them by command and error code, e.g. "offer.accept:
	// offer_expired" or "publish: no answer".
	Failures map[string]int `json:"failures,omitempty"`
	// RegisterDuration is how long the workers took to register (not measured
	// otherwise).
	RegisterDuration time.Duration `json:"registerDurationNs"`
	// DeregisterDuration is how long they took to deregister at the end (only from
	// a running router: an embedded one is thrown away).
	DeregisterDuration time.Duration `json:"deregisterDurationNs,omitempty"`
	// BacklogQueued (backlog mode) is from the first create to the last job queued.
	BacklogQueued time.Duration `json:"backlogQueuedNs,omitempty"`
	// Duration is from the first create (backlog mode: from the workers made
	// available) to the last job closed.
	Duration time.Duration `json:"durationNs"`
	// CreateDuration is from the first create published to the last.
	CreateDuration time.Duration `json:"createDurationNs"`
	// Throughput is Closed / Duration, in jobs per second (backlog mode: the drain).
	Throughput float64 `json:"jobsPerSecond"`
	// CreatedToOffer is from a create published to the worker receiving the job's
	// first offer.
	CreatedToOffer Latency `json:"createdToOffer"`
	// CreatedToAssigned is from a create published to the job.assigned event.
	CreatedToAssigned Latency `json:"createdToAssigned"`
	// FreedToOffer is from a worker's close published to the worker receiving its
	// next offer: a freed worker's offer latency, measured only when jobs wait for
	// workers (backlog mode; flat out with MaxOpen above the workers' capacity).
	FreedToOffer Latency `json:"freedToOffer"`
	// Baseline is raw JetStream in the same run (nil when skipped).
	Baseline *Baseline `json:"baseline,omitempty"`
	// ThroughputVsRaw is Throughput as a percentage of the baseline's asynchronous
	// publishes per second.
	ThroughputVsRaw float64 `json:"throughputPercentOfRawPublish,omitempty"`
	// OfferP99VsRaw (rate mode) is CreatedToOffer.P99 as a multiple of the
	// baseline's publish-to-acknowledgement p99. Flat out and in backlog mode a job's
	// created -> offer is mostly its wait for a worker, so it is not compared.
	OfferP99VsRaw float64 `json:"offerP99TimesRawPublishP99,omitempty"`
	// OfferP99VsChain (rate mode) is CreatedToOffer.P99 as a multiple of the raw
	// relay chain's created -> offer p99: what the router adds to the broker's cost
	// of the same path.
	OfferP99VsChain float64 `json:"offerP99TimesChainP99,omitempty"`
	// ThroughputVsChain (flat out) is Throughput as a percentage of the raw relay
	// chain's.
	ThroughputVsChain float64 `json:"throughputPercentOfChain,omitempty"`
	// FreedP99VsRaw is FreedToOffer.P99 as a multiple of the same.
	FreedP99VsRaw float64 `json:"freedOfferP99TimesRawPublishP99,omitempty"`
	// Writes is what every patchbay stream took during the run.
	Writes Writes `json:"writes"`
}

// String is the report for people.
func (r Report) String() string {
	var b strings.Builder
	where := "a running router"
	if r.Embedded {
		where = "an embedded server and router"
	}
	var pace string
	switch r.Mode {
	case ModeRate:
		pace = fmt.Sprintf("created at %g jobs/s", r.Rate)
	case ModeBacklog:
		pace = "created as a backlog, then drained"
	default:
		pace = fmt.Sprintf("flat out (at most %d open)", r.MaxOpen)
	}
	fmt.Fprintf(&b, "patchbay bench: %d jobs, %d workers x capacity %d, %s, on %s\n",
		r.Jobs, r.Workers, r.Capacity, pace, where)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(&b, "  %-24s %s\n", name, fmt.Sprintf(format, args...))
	}
	if bl := r.Baseline; bl != nil {
		row("raw async publish", "%.0f msgs/s (%d x %d B, stream R%d)", bl.AsyncPublish, bl.AsyncMsgs, bl.MsgBytes, bl.Replicas)
		sync := "flat out"
		if bl.SyncRate > 0 {
			sync = fmt.Sprintf("at %g/s", bl.SyncRate)
		}
		row("raw publish -> ack", "%s, %s", bl.PublishAck, sync)
		if c := bl.Chain; c != nil {
			name := "raw relay chain"
			if c.NoRecord {
				name = "raw chain, no record"
			}
			row(name, "%.1f jobs/s, %.1f msgs/job; create -> offer %s", c.Throughput, c.MsgsPerJob, c.CreatedToOffer)
		}
	}
	workers := fmt.Sprintf("%d in %s", r.Workers, round(r.RegisterDuration))
	if r.DeregisterDuration > 0 {
		workers += fmt.Sprintf(", deregistered in %s", round(r.DeregisterDuration))
	}
	row("workers registered", "%s", workers)
	row("closed", "%d/%d jobs (%d errors)", r.Closed, r.Jobs, r.Errors)
	for _, k := range slices.Sorted(maps.Keys(r.Failures)) {
		fmt.Fprintf(&b, "    %-22s %d\n", k, r.Failures[k])
	}
	if r.Mode == ModeBacklog {
		row("backlog queued", "%s (%d creates published in %s)", round(r.BacklogQueued), r.Jobs, round(r.CreateDuration))
		row("drain duration", "%s (workers made available -> last closed)", round(r.Duration))
		row("drain throughput", "%.1f jobs/s%s", r.Throughput, r.vsRaw())
	} else {
		row("duration", "%s (creates published in %s)", round(r.Duration), round(r.CreateDuration))
		row("throughput", "%.1f jobs/s created -> closed%s", r.Throughput, r.vsRaw())
	}
	offer := r.CreatedToOffer.String()
	if r.OfferP99VsRaw > 0 {
		offer += fmt.Sprintf("; p99 = %.1f x raw p99", r.OfferP99VsRaw)
	}
	if r.OfferP99VsChain > 0 {
		offer += fmt.Sprintf(", %.1f x raw chain p99", r.OfferP99VsChain)
	}
	row("created -> offer", "%s", offer)
	row("created -> assigned", "%s", r.CreatedToAssigned)
	freed := r.FreedToOffer.String()
	if r.FreedToOffer.Count == 0 {
		freed += " (measured only when jobs wait for workers)"
	}
	if r.FreedP99VsRaw > 0 {
		freed += fmt.Sprintf("; p99 = %.1f x raw p99", r.FreedP99VsRaw)
	}
	row("freed worker -> offer", "%s", freed)
	row("writes/job", "%.2f (%d messages)", r.Writes.PerJob, r.Writes.Total)
	for _, s := range r.Writes.Streams {
		fmt.Fprintf(&b, "    %-22s %6.2f (%d)\n", s.Stream, s.PerJob, s.Writes)
	}
	return b.String()
}

func (r Report) vsRaw() string {
	if r.ThroughputVsRaw == 0 {
		return ""
	}
	s := fmt.Sprintf(" = %.3g%% of raw async publish", r.ThroughputVsRaw)
	if r.ThroughputVsChain > 0 {
		s += fmt.Sprintf(", %.3g%% of the raw chain", r.ThroughputVsChain)
	}
	return s
}
