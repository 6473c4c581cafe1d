package bench

import (
	"fmt"
	"slices"
	"time"
)

// Latency summarises a set of durations.
type Latency struct {
	Count int           `json:"count"`
	P50   time.Duration `json:"p50Ns"`
	P99   time.Duration `json:"p99Ns"`
	P999  time.Duration `json:"p999Ns"`
	Max   time.Duration `json:"maxNs"`
}

func (l Latency) String() string {
	if l.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %-9s p99 %-9s p99.9 %-9s max %-9s (n=%d)", round(l.P50), round(l.P99), round(l.P999), round(l.Max), l.Count)
}

// latency computes the percentiles of ds (which it sorts).
func latency(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	return Latency{Count: len(ds), P50: percentile(ds, 500), P99: percentile(ds, 990), P999: percentile(ds, 999), Max: ds[len(ds)-1]}
}

// percentile is the nearest-rank percentile of sorted ds, in per mille (999: p99.9).
func percentile(ds []time.Duration, perMille int) time.Duration {
	rank := (perMille*len(ds) + 999) / 1000 // ceil(perMille/1000 * n)
	return ds[max(rank, 1)-1]
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
