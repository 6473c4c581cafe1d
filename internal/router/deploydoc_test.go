package router_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/router"
)

// deploy/README.md tells operators what the router keeps in JetStream and how many
// commands it holds unacknowledged; both once drifted from the code.
func TestDeployReadmeMatchesTheCode(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "README.md"))
	require.NoError(t, err)
	doc := string(b)
	for _, name := range []string{
		events.StreamIn, events.StreamEvents, events.StreamDead,
		events.BucketJobs, events.BucketWorkers, events.BucketOffers, events.BucketQueues,
		events.BucketPolicies, events.BucketRouter,
	} {
		require.Contains(t, doc, "`"+name+"`", "deploy/README.md does not name %s", name)
	}
	// Every PATCHBAY_ name the document gives in backticks is one of the code's.
	known := map[string]bool{}
	for _, n := range []string{events.StreamIn, events.StreamEvents, events.StreamDead, events.BucketJobs,
		events.BucketWorkers, events.BucketOffers, events.BucketQueues, events.BucketPolicies, events.BucketRouter} {
		known[n] = true
	}
	for _, m := range regexp.MustCompile("`(PATCHBAY_[A-Z_]+)`").FindAllStringSubmatch(doc, -1) {
		if !known[m[1]] && !regexp.MustCompile(`PASSWORD$`).MatchString(m[1]) {
			t.Errorf("deploy/README.md names %s, which is no stream or bucket of the router", m[1])
		}
	}
	m := regexp.MustCompile("up to ([0-9]+) at a time, `MaxAckPending`").FindStringSubmatch(doc)
	require.NotNil(t, m, "deploy/README.md no longer says how many commands the router holds (MaxAckPending)")
	n, _ := strconv.Atoi(m[1])
	require.Equal(t, router.BatchMaxDefault, n, "deploy/README.md: MaxAckPending")
}
