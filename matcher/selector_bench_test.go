package matcher

import (
	"testing"

	"github.com/patchbay/patchbay/events"
)

// BenchmarkMatches is the selector check every candidate worker goes through, on
// scalar labels (the hot path, which must not regress) and on an array and a nested
// label.
func BenchmarkMatches(b *testing.B) {
	labels := events.Labels{
		"lang": "en", "level": float64(7), "vip": true, "team": "tier2", "region": "eu",
		"skills":  []any{"sales", "billing", "support"},
		"profile": map[string]any{"tier": "gold"},
	}
	for _, bc := range []struct {
		name string
		s    events.WorkerSelector
	}{
		{"scalar-equal", sel("lang", events.OpEqual, "en")},
		{"scalar-greaterThan", sel("level", events.OpGreaterThanOrEqual, float64(5))},
		{"scalar-missing", sel("nope", events.OpEqual, "x")},
		{"array-equal", sel("skills", events.OpEqual, "support")},
		{"nested-equal", sel("profile.tier", events.OpEqual, "gold")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				Matches(bc.s, "w", labels)
			}
		})
	}
}
