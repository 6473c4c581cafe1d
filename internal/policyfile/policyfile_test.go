package policyfile_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/policyfile"
)

const sample = `
queues:
  - id: support
    distributionPolicyId: fast
    order: lifo
distributionPolicies:
  - id: fast
    offerExpiresAfterSeconds: 10
    mode: {kind: roundRobin, maxConcurrentOffers: 2}
workflows:
  - id: inbound
    filters:
      - name: Sales
        expression: "type == 'Sales'"
        targets: [{queue: support, timeoutSeconds: 30}]
`

func TestParse(t *testing.T) {
	f, err := policyfile.Parse("p.yaml", []byte(sample), policyfile.Options{})
	require.NoError(t, err)
	puts := f.Puts
	require.Equal(t, []string{"distributionPolicies[0]", "queues[0]", "workflows[0]"}, f.Where)
	require.Len(t, puts, 3)
	require.Equal(t, events.KindDistributionPolicy, puts[0].Kind, "distribution policies first")
	require.Equal(t, "fast", puts[0].ID)
	require.JSONEq(t, `{"offerExpiresAfterSeconds":10,"mode":{"kind":"roundRobin","maxConcurrentOffers":2}}`, string(puts[0].Spec))
	require.Equal(t, events.KindQueue, puts[1].Kind)
	require.JSONEq(t, `{"distributionPolicyId":"fast","order":"lifo"}`, string(puts[1].Spec))
	require.Nil(t, puts[1].Revision, "a file's policies are unconditional")
	require.Equal(t, events.KindWorkflow, puts[2].Kind)
	require.JSONEq(t, `{"filters":[{"name":"Sales","expression":"type == 'Sales'","targets":[{"queue":"support","timeoutSeconds":30}]}]}`, string(puts[2].Spec))

	js, err := policyfile.Parse("p.json", []byte(`{"queues":[{"id":"q","order":"fifo"}]}`), policyfile.Options{})
	require.NoError(t, err)
	require.Len(t, js.Puts, 1)

	empty, err := policyfile.Parse("e.yaml", []byte(""), policyfile.Options{})
	require.NoError(t, err)
	require.Empty(t, empty.Puts)

	// The whole file is one apply; a problem in it is placed in the file.
	a := f.Apply(true, false)
	require.Equal(t, puts, a.Puts)
	require.True(t, a.Prune)
	require.Equal(t, "queues[0] (queue support): spec/order", f.Locate("puts/1/spec/order"))
	require.Equal(t, "prune", f.Locate("prune"))
}

// Activities come first: a file's workers may be put in them at once.
func TestParseActivities(t *testing.T) {
	f, err := policyfile.Parse("p.yaml", []byte(`
queues:
  - id: support
activities:
  - id: lunch
    name: Lunch
    available: false
  - id: overflow
    available: true
`), policyfile.Options{})
	require.NoError(t, err)
	puts := f.Puts
	require.Len(t, puts, 3)
	require.Equal(t, events.KindActivity, puts[0].Kind)
	require.Equal(t, "lunch", puts[0].ID)
	require.JSONEq(t, `{"name":"Lunch","available":false}`, string(puts[0].Spec))
	require.Equal(t, events.KindActivity, puts[1].Kind)
	require.JSONEq(t, `{"available":true}`, string(puts[1].Spec))
	require.Equal(t, events.KindQueue, puts[2].Kind)
	require.Contains(t, policyfile.Sections(), "activities")
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"not yaml", "queues: [", "p.yaml: not YAML or JSON"},
		{"unknown section", "workflowz: []", `p.yaml: unknown section "workflowz"`},
		{"not a list", "queues: {id: q}", "p.yaml: queues must be a list"},
		{"not a mapping", "queues: [q]", "p.yaml: queues[0] must be a mapping with an id"},
		{"no id", "queues: [{order: lifo}]", "p.yaml: queues[0]: id is required"},
		{"bad id", "queues: [{id: 'a b'}]", `p.yaml: queues[0]: id "a b" must be`},
		{"twice", "queues: [{id: q}, {id: q}]", `p.yaml: queues[1]: id "q" is listed twice`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := policyfile.Parse("p.yaml", []byte(c.doc), policyfile.Options{})
			require.ErrorContains(t, err, c.want)
		})
	}
	// Every problem is named, not only the first.
	_, err := policyfile.Parse("p.yaml", []byte("queues: [{id: 'a b'}, {id: q}, {id: q}]\nworkflowz: []"), policyfile.Options{})
	require.ErrorContains(t, err, `p.yaml: unknown section "workflowz"`)
	require.ErrorContains(t, err, `p.yaml: queues[0]: id "a b"`)
	require.ErrorContains(t, err, `p.yaml: queues[2]: id "q" is listed twice`)
}

// Watch applies the file at once, again after each change (including an editor's
// replace-by-rename), and reports a broken file without applying it.
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policies.yaml")
	require.NoError(t, os.WriteFile(path, []byte("queues: [{id: q, order: fifo}]"), 0o644))
	applied := make(chan []events.PolicyPut, 10)
	errs := make(chan error, 10)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	require.NoError(t, policyfile.Watch(ctx, path, policyfile.Options{}, func(f *policyfile.File) { applied <- f.Puts }, func(err error) { errs <- err }))

	order := func(p []events.PolicyPut) string {
		var spec struct{ Order string }
		require.NoError(t, json.Unmarshal(p[0].Spec, &spec))
		return spec.Order
	}
	// waitOrder waits until the file is applied with the queue order want (one change
	// of the file may be applied more than once).
	waitOrder := func(want string) {
		t.Helper()
		for {
			select {
			case p := <-applied:
				if order(p) == want {
					return
				}
			case err := <-errs:
				t.Fatalf("unexpected error: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatalf("the file with order %s was not applied", want)
			}
		}
	}
	waitOrder("fifo")

	require.NoError(t, os.WriteFile(path, []byte("queues: [{id: q, order: lifo}]"), 0o644))
	waitOrder("lifo")

	tmp := filepath.Join(dir, "policies.yaml.tmp")
	require.NoError(t, os.WriteFile(tmp, []byte("queues: [{id: q, order: fifo}]"), 0o644))
	require.NoError(t, os.Rename(tmp, path))
	waitOrder("fifo")

	require.NoError(t, os.WriteFile(path, []byte("queues: ["), 0o644))
	for {
		select {
		case err := <-errs:
			require.ErrorContains(t, err, "not YAML or JSON")
			return
		case p := <-applied:
			require.Equal(t, "fifo", order(p), "only the earlier, valid content may still be applied")
		case <-time.After(30 * time.Second):
			t.Fatal("a broken file was not reported")
		}
	}
}
