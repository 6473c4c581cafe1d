package policyfile_test

import (
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/policyfile"
	"github.com/patchbay/patchbay/matcher"
)

// readmeFile parses the README's first YAML block that starts with first.
func readmeFile(t *testing.T, first, what string) *policyfile.File {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)```yaml\n(" + regexp.QuoteMeta(first) + ".*?)```").FindSubmatch(readme)
	require.NotNil(t, m, what)
	f, err := policyfile.Parse("README.md", m[1], policyfile.Options{})
	require.NoError(t, err)
	return f
}

// The README's example policy file parses.
func TestReadmeExample(t *testing.T) {
	f := readmeFile(t, "distributionPolicies:", "the README has an example policy file")
	require.Len(t, f.Puts, 5)

	// and it is valid as a whole: the engine applies it.
	e, err := matcher.New(matcher.Config{})
	require.NoError(t, err)
	apply := f.Apply(false, false)
	res := e.Apply(matcher.Command{ID: "readme", Type: events.TypePolicyApply, Data: &apply}, time.Now())
	require.Nil(t, res.Err, "%v", res.Err)
	require.Len(t, res.Reply.Policies, 5)
}

// The README's TaskRouter example parses into a workflow with its queue mapped.
func TestReadmeTaskRouterExample(t *testing.T) {
	f := readmeFile(t, "taskRouterQueues:", "the README has a TaskRouter example")
	require.Len(t, f.Puts, 1)
	require.JSONEq(t, `{"filters":[{"name":"Sales","expression":"type == 'Sales'","targets":[{"queue":"sales-specialists","priority":5,"timeoutSeconds":30}]}],"defaultFilter":{"queue":"everyone"}}`, string(f.Puts[0].Spec))
}
