package bench

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/patchbay/patchbay/events"
)

// countedStreams are the streams whose messages count as patchbay's writes: the
// inbound commands, the outbound events, the set-aside commands and every KV bucket.
func countedStreams() []string {
	s := []string{events.StreamIn, events.StreamEvents, events.StreamDead}
	for _, b := range []string{events.BucketJobs, events.BucketWorkers, events.BucketOffers,
		events.BucketQueues, events.BucketPolicies, events.BucketRouter} {
		s = append(s, "KV_"+b)
	}
	return s
}

// StreamWrites is how many messages one stream took during the measured run.
type StreamWrites struct {
	Stream string  `json:"stream"`
	Writes uint64  `json:"writes"`
	PerJob float64 `json:"perJob"`
}

// Writes is every message patchbay's streams took during the measured run, from
// their last sequence numbers before and after it. Everything counts: the commands
// the bench sent, the router's events and KV writes, and its lease renewals (and,
// on a shared deployment, anything others did meanwhile).
type Writes struct {
	Total   uint64         `json:"total"`
	PerJob  float64        `json:"perJob"`
	Streams []StreamWrites `json:"streams"`
}

// lastSeqs reads the last sequence of each counted stream; a stream that does not
// exist (PATCHBAY_DEAD on an older router) reads as absent.
func lastSeqs(ctx context.Context, js jetstream.JetStream) (map[string]uint64, error) {
	seqs := map[string]uint64{}
	for _, name := range countedStreams() {
		s, err := js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		seqs[name] = info.State.LastSeq
	}
	return seqs, nil
}

// writes is the difference between two readings of lastSeqs, per job.
func writes(before, after map[string]uint64, jobs int) Writes {
	var w Writes
	for _, name := range countedStreams() {
		a, ok := after[name]
		if !ok {
			continue
		}
		n := a - min(a, before[name])
		w.Total += n
		w.Streams = append(w.Streams, StreamWrites{Stream: name, Writes: n, PerJob: perJob(n, jobs)})
	}
	w.PerJob = perJob(w.Total, jobs)
	return w
}

func perJob(n uint64, jobs int) float64 {
	if jobs == 0 {
		return 0
	}
	return float64(n) / float64(jobs)
}
