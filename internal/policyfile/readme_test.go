package policyfile_test

import (
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/policyfile"
	"github.com/patchbay/patchbay/matcher"
)

// The README's example policy file parses.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)```yaml\n(distributionPolicies:.*?)```").FindSubmatch(readme)
	require.NotNil(t, m, "the README has an example policy file")
	puts, err := policyfile.Parse("README.md", m[1])
	require.NoError(t, err)
	require.Len(t, puts, 5)

	// and every policy in it is valid: the engine takes them all.
	e, err := matcher.New(matcher.Config{})
	require.NoError(t, err)
	for i, p := range puts {
		res := e.Apply(matcher.Command{ID: fmt.Sprint(i), Type: events.TypePolicyPut, Data: &p}, time.Now())
		require.Nil(t, res.Err, "%s %s: %v", p.Kind, p.ID, res.Err)
	}
}
