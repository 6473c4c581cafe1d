package policyfile_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/policyfile"
	"github.com/patchbay/patchbay/matcher"
)

func intp(n int) *int { return &n }

// seedQueues maps the seed example's TaskRouter queue SIDs to patchbay queue ids.
var seedQueues = map[string]string{
	"WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": "sales-specialists",
	"WQbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb": "sales",
	"WQcccccccccccccccccccccccccccccccc": "everyone",
	"WQdddddddddddddddddddddddddddddddd": "everyone",
}

// The TaskRouter examples translate field by field into the patchbay workflow.
func TestTaskRouterExamplesTranslate(t *testing.T) {
	cases := []struct {
		file string
		want events.WorkflowSpec
	}{
		{"testdata/taskrouter-seed.json", events.WorkflowSpec{
			Filters: []events.WorkflowFilter{{
				Name: "Sales", Expression: "type == 'Sales'",
				Targets: []events.WorkflowTarget{
					{Queue: "sales-specialists", Expression: "task.subSection = worker.specializedSubField", OrderBy: "worker.level DESC", Priority: intp(5), TimeoutSeconds: 30},
					{Queue: "sales", Priority: intp(1)},
				},
			}},
			DefaultFilter: &events.WorkflowTarget{Queue: "everyone"},
		}},
		{"testdata/taskrouter-lifecycle.json", events.WorkflowSpec{
			Filters: []events.WorkflowFilter{
				{Name: "Support Calls", Expression: `type=="Support"`, Targets: []events.WorkflowTarget{
					{Queue: "just-support", TimeoutSeconds: 15, Expression: "worker.id IN task.preferred_agents"},
					{Queue: "just-support", TimeoutSeconds: 15},
				}},
				{Name: "Sales Calls", Expression: `type=="Sales"`, Targets: []events.WorkflowTarget{{Queue: "just-sales", TimeoutSeconds: 15}}},
			},
			DefaultFilter: &events.WorkflowTarget{Queue: "everyone"},
		}},
		{"testdata/taskrouter-transfer.json", events.WorkflowSpec{
			Filters: []events.WorkflowFilter{
				{Name: "Assign to Worker", Expression: "transferTargetType == 'worker'", Targets: []events.WorkflowTarget{
					{Queue: "everyone", KnownWorker: "task.transferTargetSid"},
				}},
				{Name: "Assign To Queue - Everyone", Expression: "transferQueueName == 'Everyone'", Targets: []events.WorkflowTarget{
					{Queue: "everyone", Expression: "worker.contact_uri != task.ignoreWorkerContactUri", SkipIf: "workers.available == 0"},
				}},
			},
			DefaultFilter: &events.WorkflowTarget{Queue: "everyone"},
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			f, err := policyfile.Read(c.file, policyfile.Options{QueueMap: seedQueues, WorkflowID: "inbound"})
			require.NoError(t, err)
			require.Len(t, f.Puts, 1)
			require.Equal(t, events.KindWorkflow, f.Puts[0].Kind)
			require.Equal(t, "inbound", f.Puts[0].ID)
			var got events.WorkflowSpec
			require.NoError(t, json.Unmarshal(f.Puts[0].Spec, &got))
			if c.want.Filters == nil {
				c.want.Filters = []events.WorkflowFilter{}
			}
			require.Equal(t, c.want, got)

			// The engine takes it as is (its expressions compile).
			e, err := matcher.New(matcher.Config{})
			require.NoError(t, err)
			apply := f.Apply(false, false)
			res := e.Apply(matcher.Command{ID: "c", Type: events.TypePolicyApply, Data: &apply}, time.Now())
			require.Nil(t, res.Err, "%v", res.Err)
		})
	}
}

// A bare TaskRouter configuration needs a workflow id, and its SIDs need a map.
func TestTaskRouterNeedsIDAndQueueMap(t *testing.T) {
	_, err := policyfile.Read("testdata/taskrouter-seed.json", policyfile.Options{QueueMap: seedQueues})
	require.ErrorContains(t, err, "--workflow-id")
	_, err = policyfile.Read("testdata/taskrouter-seed.json", policyfile.Options{WorkflowID: "inbound"})
	require.ErrorContains(t, err, "task_routing.filters[0].targets[0].queue: the TaskRouter queue WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa is not in the queue map")
	require.ErrorContains(t, err, "task_routing.filters[0].targets[1].queue: the TaskRouter queue WQbbbb")
	require.ErrorContains(t, err, "task_routing.default_filter.queue: the TaskRouter queue WQcccc")
}

// Each field patchbay cannot translate exactly is refused with its JSON path and why,
// all of them at once.
func TestTaskRouterRefusesWhatHasNoEquivalent(t *testing.T) {
	cases := []struct {
		name, doc, path, why string
	}{
		{"known worker by name", `{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"q","known_worker_friendly_name":"alice"}]}]}}`,
			"task_routing.filters[0].targets[0].known_worker_friendly_name", "patchbay routes to a known worker by id only"},
		{"literal worker SID", `{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"q","known_worker_sid":"WK0123"}]}]}}`,
			"task_routing.filters[0].targets[0].known_worker_sid", "not a literal worker SID"},
		{"unknown target field", `{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"q","max_reserved_workers":2}]}]}}`,
			"task_routing.filters[0].targets[0].max_reserved_workers", "not supported"},
		{"unknown filter field", `{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"q"}],"routing_step":2}]}}`,
			"task_routing.filters[0].routing_step", "not supported"},
		{"unknown task_routing field", `{"task_routing":{"default_filter":{"queue":"q"},"timeout":5}}`,
			"task_routing.timeout", "filters and default_filter only"},
		{"unknown top-level field", `{"task_routing":{"default_filter":{"queue":"q"}},"friendly_name":"x"}`,
			"friendly_name", "has only task_routing"},
		{"priority too high", `{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"q","priority":1000}]}]}}`,
			"task_routing.filters[0].targets[0].priority", "outside patchbay's priorities (-100 to 100"},
		{"priority not a number", `{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"q","priority":"high"}]}]}}`,
			"task_routing.filters[0].targets[0].priority", "must be a number"},
		{"priority not an integer", `{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"q","priority":1.5}]}]}}`,
			"task_routing.filters[0].targets[0].priority", "must be an integer"},
		{"negative timeout", `{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"q","timeout":-1}]}]}}`,
			"task_routing.filters[0].targets[0].timeout", "outside 0 to 604800"},
		{"queue name that is no id", `{"task_routing":{"default_filter":{"queue":"Sales Team"}}}`,
			"task_routing.default_filter.queue", `"Sales Team" is not a patchbay queue id`},
		{"missing queue", `{"task_routing":{"filters":[{"expression":"1==1","targets":[{"timeout":15}]}]}}`,
			"task_routing.filters[0].targets[0].queue", "is required"},
		{"missing expression", `{"task_routing":{"filters":[{"targets":[{"queue":"q"}]}]}}`,
			"task_routing.filters[0].expression", "is required"},
		{"no targets", `{"task_routing":{"filters":[{"expression":"1==1","targets":[]}]}}`,
			"task_routing.filters[0].targets", "at least one target"},
		{"expression not a string", `{"task_routing":{"filters":[{"expression":true,"targets":[{"queue":"q"}]}]}}`,
			"task_routing.filters[0].expression", "must be a string"},
		{"nothing to route", `{"task_routing":{}}`, "task_routing", "neither filters nor a default_filter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := policyfile.Parse("tr.json", []byte(c.doc), policyfile.Options{WorkflowID: "w"})
			require.Error(t, err)
			require.Contains(t, err.Error(), "tr.json: "+c.path+": ", "the refusal names the JSON path")
			require.Contains(t, err.Error(), c.why)
		})
	}

	// Every problem at once.
	_, err := policyfile.Parse("tr.json", []byte(`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"q","priority":1000,"known_worker_friendly_name":"a"}]}],"default_filter":{"queue":"WQcccccccccccccccccccccccccccccccc"}}}`), policyfile.Options{WorkflowID: "w"})
	require.Error(t, err)
	require.Len(t, strings.Split(err.Error(), "\n"), 3, "%v", err)
}

// In a policy file, a workflow may be a TaskRouter configuration (an object or the
// JSON string TaskRouter's API returns), its queues mapped by taskRouterQueues; a
// problem the router finds in it is placed at its TaskRouter path.
func TestPolicyFileTaskRouterWorkflow(t *testing.T) {
	seed, err := os.ReadFile("testdata/taskrouter-seed.json")
	require.NoError(t, err)
	doc := `
taskRouterQueues:
  WQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: sales-specialists
  WQbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb: sales
  WQcccccccccccccccccccccccccccccccc: everyone
queues:
  - id: sales
workflows:
  - id: inbound
    name: Inbound calls
    taskRouter: ` + string(mustJSONString(t, string(seed))) + `
  - id: as-object
    taskRouter: {task_routing: {default_filter: {queue: WQcccccccccccccccccccccccccccccccc}}}
`
	f, err := policyfile.Parse("p.yaml", []byte(doc), policyfile.Options{})
	require.NoError(t, err)
	require.Len(t, f.Puts, 3)
	var wf events.WorkflowSpec
	require.NoError(t, json.Unmarshal(f.Puts[1].Spec, &wf))
	require.Equal(t, "Inbound calls", wf.Name)
	require.Equal(t, "sales-specialists", wf.Filters[0].Targets[0].Queue)
	require.JSONEq(t, `{"filters":[],"defaultFilter":{"queue":"everyone"}}`, string(f.Puts[2].Spec))

	require.Equal(t, "workflows[0] (workflow inbound): task_routing.filters[0].targets[1].expression", f.Locate("puts/1/spec/filters/0/targets/1/expression"))
	require.Equal(t, "workflows[0] (workflow inbound): task_routing.filters[0].filter_friendly_name", f.Locate("puts/1/spec/filters/0/name"))
	require.Equal(t, "workflows[1] (workflow as-object): task_routing.default_filter.order_by", f.Locate("puts/2/spec/defaultFilter/orderBy"))

	_, err = policyfile.Parse("p.yaml", []byte(`
workflows:
  - id: w
    filters: []
    taskRouter: {task_routing: {default_filter: {queue: q}}}
`), policyfile.Options{})
	require.ErrorContains(t, err, "p.yaml: workflows[0]: filters: a workflow given as taskRouter has an id, a name and taskRouter only")

	_, err = policyfile.Parse("p.yaml", []byte(`{"workflows":[{"id":"w","taskRouter":"{not json"}]}`), policyfile.Options{})
	require.ErrorContains(t, err, "p.yaml: workflows[0].taskRouter: not a TaskRouter workflow configuration: not JSON")

	_, err = policyfile.Parse("p.yaml", []byte("taskRouterQueues: {WQx: 'a b'}\nqueues: [{id: q}]"), policyfile.Options{})
	require.ErrorContains(t, err, "taskRouterQueues: WQx")
	_, err = policyfile.Parse("p.yaml", []byte("taskRouterQueues: {WQx: a}\nqueues: [{id: q}]"), policyfile.Options{QueueMap: map[string]string{"WQx": "b"}})
	require.ErrorContains(t, err, `WQx maps to "a" here and to "b"`)
}

func mustJSONString(t *testing.T, s string) []byte {
	b, err := json.Marshal(s)
	require.NoError(t, err)
	return b
}
