package schemas_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
	"github.com/patchbay/patchbay/schemas"
)

// allTypes is the whole catalog: inbound, outbound, then the queries.
func allTypes() []events.Type { return schemas.Types() }

func TestTypes(t *testing.T) {
	require.Equal(t, slices.Concat(events.Inbound(), events.Outbound(), events.Queries()), schemas.Types())
}

// goPayload returns a pointer to a zero Go value of t's data.
func goPayload(t *testing.T, typ events.Type) any {
	t.Helper()
	switch typ {
	case events.TypeJobCreated:
		return &events.JobCreated{}
	case events.TypeJobComplete:
		return &events.JobComplete{}
	case events.TypeJobClose:
		return &events.JobClose{}
	case events.TypeJobCancel:
		return &events.JobCancel{}
	case events.TypeWorkerRegister, events.TypeWorkerUpdate:
		return &events.WorkerRegister{}
	case events.TypeWorkerDeregister:
		return &events.WorkerDeregister{}
	case events.TypeOfferAccept:
		return &events.OfferAccept{}
	case events.TypeOfferDecline:
		return &events.OfferDecline{}
	case events.TypePolicyPut:
		return &events.PolicyPut{}
	case events.TypePolicyApply:
		return &events.PolicyApply{}
	case events.TypePolicyDelete:
		return &events.PolicyDelete{}
	case events.TypeJobUpdate:
		return &events.JobUpdate{}
	case events.TypeJobUnassign:
		return &events.JobUnassign{}
	case events.TypeCommandSucceeded:
		return &events.CommandResult{}
	case events.TypeCommandFailed:
		return &events.CommandFailure{}
	case events.TypeQueryJob:
		return &events.QueryJob{}
	case events.TypeQueryQueue:
		return &events.QueryQueue{}
	case events.TypeQueryWorker:
		return &events.QueryWorker{}
	case events.TypeQueryJobs:
		return &events.QueryJobs{}
	case events.TypeQueryWorkers:
		return &events.QueryWorkers{}
	case events.TypeQueryQueues:
		return &events.QueryQueues{}
	case events.TypeQueryPolicies:
		return &events.QueryPolicies{}
	case events.TypeQueryPolicy:
		return &events.QueryPolicy{}
	case events.TypeQueryExplain:
		return &events.QueryExplain{}
	case events.TypeQueryHistory:
		return &events.QueryHistory{}
	}
	switch schemas.SchemaName(typ) {
	case "job.schema.json":
		return &events.Job{}
	case "offer.schema.json":
		return &events.Offer{}
	case "worker.schema.json":
		return &events.Worker{}
	case "policy.schema.json":
		return &events.Policy{}
	}
	t.Fatalf("no Go payload for %s", typ)
	return nil
}

// golden is one golden sample: its file in testdata and the Go type of its data.
type golden struct {
	file    string
	payload func() any
}

// goldens lists typ's golden samples: one per type, named after it, except
// io.patchbay.query.result, which has one per answer (query.result.job.json,
// query.result.queue.json, query.result.worker.json, query.result.jobs.json, ...).
func goldens(t *testing.T, typ events.Type) []golden {
	if typ == events.TypeQueryResult {
		return []golden{
			{file: typ.Name() + ".job.json", payload: func() any { return &events.JobInfo{} }},
			{file: typ.Name() + ".queue.json", payload: func() any { return &events.QueueInfo{} }},
			{file: typ.Name() + ".worker.json", payload: func() any { return &events.WorkerInfo{} }},
			{file: typ.Name() + ".jobs.json", payload: func() any { return &events.JobList{} }},
			{file: typ.Name() + ".workers.json", payload: func() any { return &events.WorkerList{} }},
			{file: typ.Name() + ".queues.json", payload: func() any { return &events.QueueList{} }},
			{file: typ.Name() + ".policies.json", payload: func() any { return &events.PolicyList{} }},
			{file: typ.Name() + ".policy.json", payload: func() any { return &events.PolicyInfo{} }},
			{file: typ.Name() + ".explain.json", payload: func() any { return &events.Explanation{} }},
			{file: typ.Name() + ".history.json", payload: func() any { return &events.JobHistory{} }},
		}
	}
	return []golden{{file: typ.Name() + ".json", payload: func() any { return goPayload(t, typ) }}}
}

// readEvent decodes a structured CloudEvent from testdata.
func readEvent(t *testing.T, path string) events.Event {
	t.Helper()
	body, err := os.ReadFile(path)
	require.NoError(t, err)
	e, err := events.Decode(nil, body)
	require.NoError(t, err, "%s is not a valid structured CloudEvent", path)
	return e
}

func TestGoldenSamples(t *testing.T) {
	for _, typ := range allTypes() {
		for _, g := range goldens(t, typ) {
			t.Run(strings.TrimSuffix(g.file, ".json"), func(t *testing.T) {
				testGolden(t, typ, g)
			})
		}
	}
}

// testGolden checks one golden sample of typ against its schema and its Go type.
func testGolden(t *testing.T, typ events.Type, g golden) {
	e := readEvent(t, filepath.Join("testdata", g.file))
	require.Equal(t, string(typ), e.Type())
	require.Equal(t, events.ContentTypeJSON, e.DataContentType())
	require.False(t, e.Time().IsZero(), "a golden sample has a time")
	require.NotEmpty(t, e.Subject(), "a golden sample has a subject")
	if slices.Contains(events.Outbound(), typ) {
		require.Equal(t, events.RouterSource, e.Source())
	} else {
		require.NotEqual(t, events.RouterSource, e.Source(), "commands and queries come from elsewhere")
	}

	require.NoError(t, schemas.ValidateData(typ, e.Data()))

	// The same JSON decodes into the Go payload with unknown fields refused
	// (every schema property exists in Go) ...
	v := g.payload()
	dec := json.NewDecoder(bytes.NewReader(e.Data()))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), "data does not decode into %T", v)
	require.NoError(t, events.DecodeData(e, g.payload()))
	// ... and encodes back to the same JSON, which still validates (every Go
	// field the sample uses exists in the schema, with the same omitempty).
	back, err := json.Marshal(v)
	require.NoError(t, err)
	require.JSONEq(t, string(e.Data()), string(back))
	require.NoError(t, schemas.ValidateData(typ, back))
}

func TestGoldenSamplesCoverCatalog(t *testing.T) {
	names, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	var want []string
	for _, typ := range allTypes() {
		for _, g := range goldens(t, typ) {
			want = append(want, filepath.Join("testdata", g.file))
		}
	}
	slices.Sort(want)
	require.Equal(t, want, names, "one golden sample per catalog type (one per answer for query.result), and nothing else")
}

type invalidWant struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func TestInvalidSamples(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "invalid", "want.json"))
	require.NoError(t, err)
	var want map[string]invalidWant
	require.NoError(t, json.Unmarshal(b, &want))

	names, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.json"))
	require.NoError(t, err)
	seen := 0
	for _, path := range names {
		name := filepath.Base(path)
		if name == "want.json" {
			continue
		}
		seen++
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			w, ok := want[name]
			require.True(t, ok, "%s has no entry in want.json", name)
			e := readEvent(t, path)
			typ := events.Type(e.Type())
			require.True(t, strings.HasPrefix(name, typ.Name()+"."), "file name starts with its type")

			err := schemas.ValidateData(typ, e.Data())
			require.Error(t, err)
			require.ErrorIs(t, err, events.ErrInvalidData)
			var pe *events.Error
			require.ErrorAs(t, err, &pe)
			require.Equal(t, w.Field, pe.Field)
			require.Equal(t, w.Message, pe.Message)
		})
	}
	require.Equal(t, len(want), seen, "every want.json entry has a file")
}

func TestValidateData(t *testing.T) {
	tests := []struct {
		name      string
		typ       events.Type
		data      string
		wantErr   error // nil, events.ErrInvalidData or events.ErrUnknownType
		wantField string
		wantMsg   string
	}{
		{name: "update needs only workerId", typ: events.TypeWorkerUpdate, data: `{"workerId":"alice"}`},
		{name: "update may empty the queues", typ: events.TypeWorkerUpdate, data: `{"workerId":"alice","queues":[]}`},
		{name: "update refuses unknown property", typ: events.TypeWorkerUpdate, data: `{"workerId":"alice","capacity":5}`,
			wantErr: events.ErrInvalidData, wantField: "capacity", wantMsg: "capacity: unknown property"},
		{name: "register needs queues, capacity and channels", typ: events.TypeWorkerRegister, data: `{"workerId":"alice"}`,
			wantErr: events.ErrInvalidData, wantField: "channels", wantMsg: "channels: missing required property"},
		{name: "register: negative maxNumberOfJobs", typ: events.TypeWorkerRegister,
			data:    `{"workerId":"alice","queues":["support"],"totalCapacity":1,"channels":[{"channelId":"voice","capacityCostPerJob":1,"maxNumberOfJobs":-1}]}`,
			wantErr: events.ErrInvalidData, wantField: "channels/0/maxNumberOfJobs", wantMsg: "channels/0/maxNumberOfJobs: must be >= 0 (got -1)"},
		{name: "register: zero totalCapacity", typ: events.TypeWorkerRegister,
			data:    `{"workerId":"alice","queues":["support"],"totalCapacity":0,"channels":[{"channelId":"voice","capacityCostPerJob":1}]}`,
			wantErr: events.ErrInvalidData, wantField: "totalCapacity", wantMsg: "totalCapacity: must be >= 1 (got 0)"},
		{name: "register: bad queue id", typ: events.TypeWorkerRegister,
			data:    `{"workerId":"alice","queues":["support","sales.emea"],"totalCapacity":1,"channels":[{"channelId":"voice","capacityCostPerJob":1}]}`,
			wantErr: events.ErrInvalidData, wantField: "queues/1"},
		{name: "job without jobId", typ: events.TypeJobCreated, data: `{"queueId":"support","channelId":"voice"}`},
		{name: "priority at the bounds", typ: events.TypeJobCreated, data: `{"queueId":"support","channelId":"voice","priority":-100}`},
		{name: "priority under the bound", typ: events.TypeJobCreated, data: `{"queueId":"support","channelId":"voice","priority":-101}`,
			wantErr: events.ErrInvalidData, wantField: "priority", wantMsg: "priority: must be >= -100 (got -101)"},
		{name: "priority as a whole float", typ: events.TypeJobCreated, data: `{"queueId":"support","channelId":"voice","priority":1e3}`,
			wantErr: events.ErrInvalidData, wantField: "priority", wantMsg: "priority: must be <= 100 (got 1000)"},
		{name: "id too long", typ: events.TypeJobCreated, data: `{"queueId":"` + strings.Repeat("q", 129) + `","channelId":"voice"}`,
			wantErr: events.ErrInvalidData, wantField: "queueId"},
		{name: "id of 128 characters", typ: events.TypeJobCreated, data: `{"queueId":"` + strings.Repeat("q", 128) + `","channelId":"voice"}`},
		{name: "empty label key", typ: events.TypeJobCreated, data: `{"queueId":"support","channelId":"voice","labels":{"":"x"}}`,
			wantErr: events.ErrInvalidData, wantField: "labels", wantMsg: "labels: keys must not be empty"},
		{name: "label key with a slash is escaped", typ: events.TypeJobCreated, data: `{"queueId":"support","channelId":"voice","labels":{"a/b":null}}`,
			wantErr: events.ErrInvalidData, wantField: "labels/a~1b", wantMsg: "labels/a~1b: must be an object, array, string, number or boolean (got null)"},
		{name: "tags may nest", typ: events.TypeJobCreated, data: `{"queueId":"support","channelId":"voice","tags":{"crm":{"ticket":1}}}`},
		{name: "selector without value", typ: events.TypeJobCreated,
			data:    `{"queueId":"support","channelId":"voice","requestedWorkerSelectors":[{"key":"language","labelOperator":"equal"}]}`,
			wantErr: events.ErrInvalidData, wantField: "requestedWorkerSelectors/0/value", wantMsg: "requestedWorkerSelectors/0/value: missing required property"},
		{name: "first problem in path order", typ: events.TypeJobCreated, data: `{"queueId":"support","channelId":"voice","priority":500,"labels":{"x":null}}`,
			wantErr: events.ErrInvalidData, wantField: "labels/x"},
		{name: "many missing: first in name order", typ: events.TypeOfferAccept, data: `{}`,
			wantErr: events.ErrInvalidData, wantField: "jobId", wantMsg: "jobId: missing required property"},
		{name: "decline with retryOfferAt", typ: events.TypeOfferDecline,
			data: `{"jobId":"call-4711","offerId":"o1","workerId":"bob","retryOfferAt":"2025-03-14T09:15:00.5+01:00"}`},
		{name: "close with closeAt as a date only", typ: events.TypeJobClose, data: `{"jobId":"j","assignmentId":"a","closeAt":"2025-03-14"}`,
			wantErr: events.ErrInvalidData, wantField: "closeAt"},
		{name: "rejected job echoes invalid ids", typ: events.TypeJobRejected,
			data: `{"jobId":"a b","queueId":"","channelId":"voice","priority":150,"status":"rejected","createdAt":"2025-03-14T09:00:00Z","reason":{"code":"invalid_data","message":"jobId is invalid","field":"jobId"}}`},
		{name: "rejected job needs a reason", typ: events.TypeJobRejected,
			data:    `{"jobId":"j","queueId":"support","channelId":"voice","priority":0,"status":"rejected","createdAt":"2025-03-14T09:00:00Z"}`,
			wantErr: events.ErrInvalidData, wantField: "reason", wantMsg: "reason: missing required property"},
		{name: "queued job needs valid ids", typ: events.TypeJobQueued,
			data:    `{"jobId":"j","queueId":"","channelId":"voice","priority":0,"status":"queued","createdAt":"2025-03-14T09:00:00Z"}`,
			wantErr: events.ErrInvalidData, wantField: "queueId"},
		{name: "unknown job status", typ: events.TypeJobQueued,
			data:    `{"jobId":"j","queueId":"support","channelId":"voice","priority":0,"status":"waiting","createdAt":"2025-03-14T09:00:00Z"}`,
			wantErr: events.ErrInvalidData, wantField: "status"},
		{name: "succeeded needs a catalog command type", typ: events.TypeCommandSucceeded, data: `{"commandId":"c1","commandType":"io.patchbay.job.queued"}`,
			wantErr: events.ErrInvalidData, wantField: "commandType"},
		{name: "failed may name any command type", typ: events.TypeCommandFailed,
			data: `{"commandType":"com.example.nonsense","error":{"code":"unknown_type","message":"unknown event type"}}`},
		{name: "update: maxConcurrentOffers 0 removes the cap", typ: events.TypeWorkerUpdate, data: `{"workerId":"alice","maxConcurrentOffers":0}`},
		{name: "update: negative maxConcurrentOffers", typ: events.TypeWorkerUpdate, data: `{"workerId":"alice","maxConcurrentOffers":-1}`,
			wantErr: events.ErrInvalidData, wantField: "maxConcurrentOffers", wantMsg: "maxConcurrentOffers: must be >= 0 (got -1)"},
		{name: "policy: empty queue spec", typ: events.TypePolicyPut, data: `{"kind":"queue","id":"support","spec":{}}`},
		{name: "policy: revision 0 creates only", typ: events.TypePolicyPut,
			data: `{"kind":"distributionPolicy","id":"d1","revision":0,"spec":{"mode":{"kind":"bestWorker","bypassSelectors":true}}}`},
		{name: "policy: negative revision", typ: events.TypePolicyPut, data: `{"kind":"queue","id":"support","revision":-1,"spec":{}}`,
			wantErr: events.ErrInvalidData, wantField: "revision", wantMsg: "revision: must be >= 0 (got -1)"},
		{name: "policy: spec is required", typ: events.TypePolicyPut, data: `{"kind":"queue","id":"support"}`,
			wantErr: events.ErrInvalidData, wantField: "spec", wantMsg: "spec: missing required property"},
		{name: "policy: spec is an object", typ: events.TypePolicyPut, data: `{"kind":"queue","id":"support","spec":null}`,
			wantErr: events.ErrInvalidData, wantField: "spec", wantMsg: "spec: must be an object (got null)"},
		{name: "policy: bad id", typ: events.TypePolicyPut, data: `{"kind":"queue","id":"sales.emea","spec":{}}`,
			wantErr: events.ErrInvalidData, wantField: "id"},
		{name: "policy: distribution spec under kind queue", typ: events.TypePolicyPut, data: `{"kind":"queue","id":"support","spec":{"mode":{"kind":"roundRobin"}}}`,
			wantErr: events.ErrInvalidData, wantField: "spec/mode", wantMsg: "spec/mode: unknown property"},
		{name: "policy: queue spec under kind distributionPolicy", typ: events.TypePolicyPut, data: `{"kind":"distributionPolicy","id":"d1","spec":{"order":"lifo"}}`,
			wantErr: events.ErrInvalidData, wantField: "spec/mode", wantMsg: "spec/mode: missing required property"},
		{name: "policy: bad distributionPolicyId", typ: events.TypePolicyPut, data: `{"kind":"queue","id":"support","spec":{"distributionPolicyId":""}}`,
			wantErr: events.ErrInvalidData, wantField: "spec/distributionPolicyId"},
		{name: "policy: unknown mode", typ: events.TypePolicyPut, data: `{"kind":"distributionPolicy","id":"d1","spec":{"mode":{"kind":"random"}}}`,
			wantErr: events.ErrInvalidData, wantField: "spec/mode/kind", wantMsg: `spec/mode/kind: must be one of longestIdle, roundRobin, bestWorker (got "random")`},
		{name: "policy: too many concurrent offers", typ: events.TypePolicyPut, data: `{"kind":"distributionPolicy","id":"d1","spec":{"mode":{"kind":"longestIdle","maxConcurrentOffers":101}}}`,
			wantErr: events.ErrInvalidData, wantField: "spec/mode/maxConcurrentOffers", wantMsg: "spec/mode/maxConcurrentOffers: must be <= 100 (got 101)"},
		{name: "policy: offer expiry over a week", typ: events.TypePolicyPut, data: `{"kind":"distributionPolicy","id":"d1","spec":{"offerExpiresAfterSeconds":604800.5,"mode":{"kind":"longestIdle"}}}`,
			wantErr: events.ErrInvalidData, wantField: "spec/offerExpiresAfterSeconds", wantMsg: "spec/offerExpiresAfterSeconds: must be <= 604800 (got 604800.5)"},
		{name: "policy: fractional offer expiry", typ: events.TypePolicyPut, data: `{"kind":"distributionPolicy","id":"d1","spec":{"offerExpiresAfterSeconds":2.5,"mode":{"kind":"longestIdle"}}}`},
		{name: "policy delete needs kind", typ: events.TypePolicyDelete, data: `{"id":"support"}`,
			wantErr: events.ErrInvalidData, wantField: "kind", wantMsg: "kind: missing required property"},
		{name: "policy delete takes no spec", typ: events.TypePolicyDelete, data: `{"kind":"queue","id":"support","spec":{}}`,
			wantErr: events.ErrInvalidData, wantField: "spec", wantMsg: "spec: unknown property"},
		{name: "policy event needs a revision", typ: events.TypePolicyUpdated, data: `{"kind":"queue","id":"support","spec":{},"updatedAt":"2025-03-14T09:00:00Z"}`,
			wantErr: events.ErrInvalidData, wantField: "revision", wantMsg: "revision: missing required property"},
		{name: "policy event checks the spec by kind", typ: events.TypePolicyDeleted,
			data:    `{"kind":"queue","id":"support","revision":2,"spec":{"order":"random"},"updatedAt":"2025-03-14T09:00:00Z"}`,
			wantErr: events.ErrInvalidData, wantField: "spec/order"},
		{name: "succeeded: policy reply", typ: events.TypeCommandSucceeded,
			data: `{"commandId":"c1","commandType":"io.patchbay.policy.put","policyKind":"distributionPolicy","policyId":"d1","revision":4}`},
		{name: "succeeded: unknown policy kind", typ: events.TypeCommandSucceeded,
			data:    `{"commandId":"c1","commandType":"io.patchbay.policy.delete","policyKind":"team","policyId":"d1","revision":4}`,
			wantErr: events.ErrInvalidData, wantField: "policyKind"},
		{name: "no data", typ: events.TypeJobCancel, data: ` `,
			wantErr: events.ErrInvalidData, wantField: "data"},
		{name: "not JSON", typ: events.TypeJobCancel, data: `{"jobId":`,
			wantErr: events.ErrInvalidData, wantField: "data"},
		{name: "two JSON values", typ: events.TypeJobCancel, data: `{"jobId":"j"} {}`,
			wantErr: events.ErrInvalidData, wantField: "data"},
		{name: "null", typ: events.TypeJobCancel, data: `null`,
			wantErr: events.ErrInvalidData, wantField: "data", wantMsg: "data: must be an object (got null)"},
		{name: "query job", typ: events.TypeQueryJob, data: `{"jobId":"call-4711"}`},
		{name: "query job: bad id", typ: events.TypeQueryJob, data: `{"jobId":"a b"}`,
			wantErr: events.ErrInvalidData, wantField: "jobId"},
		{name: "query job: unknown property", typ: events.TypeQueryJob, data: `{"jobId":"j","verbose":true}`,
			wantErr: events.ErrInvalidData, wantField: "verbose", wantMsg: "verbose: unknown property"},
		{name: "query queue needs queueId", typ: events.TypeQueryQueue, data: `{}`,
			wantErr: events.ErrInvalidData, wantField: "queueId", wantMsg: "queueId: missing required property"},
		{name: "query worker", typ: events.TypeQueryWorker, data: `{"workerId":"alice"}`},
		{name: "query history", typ: events.TypeQueryHistory, data: `{"jobId":"call-4711","limit":10}`},
		{name: "query history: limit over the maximum", typ: events.TypeQueryHistory, data: `{"jobId":"j","limit":10001}`,
			wantErr: events.ErrInvalidData, wantField: "limit"},
		{name: "query history: bad id", typ: events.TypeQueryHistory, data: `{"jobId":"j.*"}`,
			wantErr: events.ErrInvalidData, wantField: "jobId"},
		{name: "result: empty history", typ: events.TypeQueryResult, data: `{"events":[]}`},
		{name: "result: a history event is a CloudEvent", typ: events.TypeQueryResult, data: `{"events":[{"specversion":"1.0"}],"truncated":true}`,
			wantErr: events.ErrInvalidData, wantField: "events/0/id"},
		{name: "query worker: bad id", typ: events.TypeQueryWorker, data: `{"workerId":"alice.*"}`,
			wantErr: events.ErrInvalidData, wantField: "workerId"},
		{name: "query worker needs workerId", typ: events.TypeQueryWorker, data: `{"jobId":"j"}`,
			wantErr: events.ErrInvalidData, wantField: "jobId", wantMsg: "jobId: unknown property"},
		{name: "result: idle worker", typ: events.TypeQueryResult,
			data: `{"worker":{"workerId":"w","queues":["q"],"totalCapacity":1,"channels":[{"channelId":"voice","capacityCostPerJob":1}],"availableForOffers":true,"activity":"available","state":"active","usedCapacity":0,"loadRatio":0,"registeredAt":"2025-03-14T09:00:00Z"},"offers":[],"jobs":[]}`},
		{name: "result: truncated worker answer", typ: events.TypeQueryResult,
			data: `{"worker":{"workerId":"w","queues":["q"],"totalCapacity":1,"channels":[{"channelId":"voice","capacityCostPerJob":1}],"availableForOffers":true,"activity":"available","state":"active","usedCapacity":0,"loadRatio":0,"registeredAt":"2025-03-14T09:00:00Z"},"offers":[],"jobs":[],"truncated":true}`},
		{name: "result: a worker answer is reported as one", typ: events.TypeQueryResult,
			data:    `{"worker":{"workerId":"w","queues":["q"],"totalCapacity":1,"channels":[{"channelId":"voice","capacityCostPerJob":1}],"availableForOffers":true,"activity":"available","state":"active","usedCapacity":0,"loadRatio":0,"registeredAt":"2025-03-14T09:00:00Z"},"offers":[]}`,
			wantErr: events.ErrInvalidData, wantField: "jobs", wantMsg: "jobs: missing required property"},
		{name: "result: a bad offer in a worker answer", typ: events.TypeQueryResult,
			data:    `{"worker":{"workerId":"w","queues":["q"],"totalCapacity":1,"channels":[{"channelId":"voice","capacityCostPerJob":1}],"availableForOffers":true,"activity":"available","state":"active","usedCapacity":0,"loadRatio":0,"registeredAt":"2025-03-14T09:00:00Z"},"offers":[{"offerId":"o"}],"jobs":[]}`,
			wantErr: events.ErrInvalidData, wantField: "offers/0/capacityCost"},
		{name: "result: job not queued", typ: events.TypeQueryResult,
			data: `{"job":{"jobId":"j","queueId":"q","channelId":"voice","priority":0,"status":"closed","createdAt":"2025-03-14T09:00:00Z"}}`},
		{name: "result: empty queue", typ: events.TypeQueryResult,
			data: `{"queueId":"q","length":0,"longestWaitSeconds":0,"availableWorkers":0,"idleWorkers":0,"assignmentsPerMinute":0}`},
		{name: "result: priority without estimate", typ: events.TypeQueryResult,
			data: `{"queueId":"q","length":1,"longestWaitSeconds":2.5,"estimatedWait":[{"priority":0,"ahead":1}],"availableWorkers":0,"idleWorkers":0,"assignmentsPerMinute":0}`},
		{name: "result: neither answer", typ: events.TypeQueryResult, data: `{}`,
			wantErr: events.ErrInvalidData, wantField: "job", wantMsg: "job: missing required property"},
		{name: "result: a queue answer is reported as one", typ: events.TypeQueryResult, data: `{"queueId":"q"}`,
			wantErr: events.ErrInvalidData, wantField: "assignmentsPerMinute", wantMsg: "assignmentsPerMinute: missing required property"},
		{name: "result: a job answer is reported as one", typ: events.TypeQueryResult,
			data:    `{"job":{"jobId":"j","queueId":"q","channelId":"voice","priority":0,"status":"queued","createdAt":"2025-03-14T09:00:00Z"},"position":0,"queueLength":1}`,
			wantErr: events.ErrInvalidData, wantField: "position", wantMsg: "position: must be >= 1 (got 0)"},
		{name: "result: a bad job inside", typ: events.TypeQueryResult, data: `{"job":{"jobId":"j"},"position":1,"queueLength":1}`,
			wantErr: events.ErrInvalidData, wantField: "job/channelId", wantMsg: "job/channelId: missing required property"},
		{name: "result: both answers at once", typ: events.TypeQueryResult,
			data:    `{"job":{"jobId":"j","queueId":"q","channelId":"voice","priority":0,"status":"closed","createdAt":"2025-03-14T09:00:00Z"},"length":1}`,
			wantErr: events.ErrInvalidData, wantField: "length", wantMsg: "length: unknown property"},
		{name: "result: negative estimate", typ: events.TypeQueryResult,
			data:    `{"queueId":"q","length":1,"longestWaitSeconds":2.5,"estimatedWait":[{"priority":0,"ahead":1,"estimatedWaitSeconds":-1}],"availableWorkers":0,"idleWorkers":0,"assignmentsPerMinute":0}`,
			wantErr: events.ErrInvalidData, wantField: "estimatedWait/0/estimatedWaitSeconds", wantMsg: "estimatedWait/0/estimatedWaitSeconds: must be >= 0 (got -1)"},
		{name: "unknown type", typ: "io.patchbay.job.exploded", data: `{}`, wantErr: events.ErrUnknownType},
		{name: "not a patchbay type", typ: "com.example.thing", data: `{}`, wantErr: events.ErrUnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := schemas.ValidateData(tt.typ, []byte(tt.data))
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			var pe *events.Error
			require.ErrorAs(t, err, &pe)
			require.NotContains(t, pe.Message, "\n", "one line")
			require.Equal(t, tt.wantField, pe.Field)
			if tt.wantMsg != "" {
				require.Equal(t, tt.wantMsg, pe.Message)
			}
			if tt.wantErr == events.ErrInvalidData {
				require.True(t, strings.HasPrefix(pe.Message, pe.Field+": "), "message %q starts with the field", pe.Message)
			}
		})
	}
}

func TestValidateDataConcurrently(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "job.created.json"))
	require.NoError(t, err)
	e, err := events.Decode(nil, good)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				if err := schemas.ValidateData(events.TypeJobCreated, e.Data()); err != nil {
					errs <- err
					return
				}
				err := schemas.ValidateData(events.TypeJobCreated, []byte(`{"queueId":"support","channelId":"voice","priority":`+strconv.Itoa(101+i)+`}`))
				var pe *events.Error
				if !errors.As(err, &pe) || pe.Field != "priority" {
					errs <- fmt.Errorf("want a priority error, got %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSchemaName(t *testing.T) {
	require.Equal(t, "job.created.schema.json", schemas.SchemaName(events.TypeJobCreated))
	require.Equal(t, "worker.register.schema.json", schemas.SchemaName(events.TypeWorkerRegister))
	require.Equal(t, "worker.register.schema.json#/$defs/update", schemas.SchemaName(events.TypeWorkerUpdate))
	require.Equal(t, "job.schema.json", schemas.SchemaName(events.TypeJobRejected))
	require.Equal(t, "offer.schema.json", schemas.SchemaName(events.TypeOfferIssued))
	require.Equal(t, "worker.schema.json", schemas.SchemaName(events.TypeWorkerDeregistered))
	require.Equal(t, "command.failed.schema.json", schemas.SchemaName(events.TypeCommandFailed))
	require.Equal(t, "policy.put.schema.json", schemas.SchemaName(events.TypePolicyPut))
	require.Equal(t, "policy.delete.schema.json", schemas.SchemaName(events.TypePolicyDelete))
	require.Equal(t, "policy.schema.json", schemas.SchemaName(events.TypePolicyUpdated))
	require.Equal(t, "policy.schema.json", schemas.SchemaName(events.TypePolicyDeleted))
	require.Equal(t, "query.job.schema.json", schemas.SchemaName(events.TypeQueryJob))
	require.Equal(t, "query.queue.schema.json", schemas.SchemaName(events.TypeQueryQueue))
	require.Equal(t, "query.worker.schema.json", schemas.SchemaName(events.TypeQueryWorker))
	require.Equal(t, "query.history.schema.json", schemas.SchemaName(events.TypeQueryHistory))
	require.Equal(t, "query.result.schema.json", schemas.SchemaName(events.TypeQueryResult))
	require.Empty(t, schemas.SchemaName("io.patchbay.job.exploded"))

	// Every type's schema is an embedded file (and the fragment points into it).
	for _, typ := range allTypes() {
		name := schemas.SchemaName(typ)
		require.NotEmpty(t, name, typ)
		file, frag, _ := strings.Cut(name, "#")
		doc := readJSON(t, file)
		_, ok := pointer(doc, frag)
		require.True(t, ok, "%s: %s does not resolve", typ, name)
	}
}

// readJSON reads an embedded schema file.
func readJSON(t *testing.T, name string) any {
	t.Helper()
	b, err := fs.ReadFile(schemas.Files(), name)
	require.NoError(t, err)
	var v any
	require.NoError(t, json.Unmarshal(b, &v), name)
	return v
}

// pointer resolves a JSON pointer ("" or "/a/b") in a decoded JSON or YAML document.
func pointer(doc any, ptr string) (any, bool) {
	if ptr == "" {
		return doc, true
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, false
	}
	cur := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// walk calls f for every object in a decoded JSON document with its pointer.
func walk(v any, ptr string, f func(ptr string, obj map[string]any)) {
	switch c := v.(type) {
	case map[string]any:
		f(ptr, c)
		for k, x := range c {
			walk(x, ptr+"/"+strings.NewReplacer("~", "~0", "/", "~1").Replace(k), f)
		}
	case []any:
		for i, x := range c {
			walk(x, ptr+"/"+strconv.Itoa(i), f)
		}
	}
}

func schemaFiles(t *testing.T) []string {
	names, err := fs.Glob(schemas.Files(), "*.schema.json")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	return names
}

// overlay reports whether ptr is inside an if/then/else branch or is the root
// properties of worker.register: schemas that only add constraints to properties
// described elsewhere.
func overlay(file, ptr string) bool {
	for _, kw := range []string{"/if/", "/then/", "/else/"} {
		if strings.Contains(ptr+"/", kw) {
			return true
		}
	}
	return file == "worker.register.schema.json" && ptr == ""
}

func TestSchemasAreComplete(t *testing.T) {
	for _, name := range schemaFiles(t) {
		doc := readJSON(t, name)
		root := doc.(map[string]any)
		require.Equal(t, "https://json-schema.org/draft/2020-12/schema", root["$schema"], name)
		require.NotEmpty(t, root["title"], name)
		require.NotEmpty(t, root["description"], name)

		walk(doc, "", func(ptr string, obj map[string]any) {
			props, ok := obj["properties"].(map[string]any)
			if !ok || strings.HasSuffix(ptr, "/properties") || overlay(name, ptr) {
				return // not a schema with properties, or one that only adds constraints
			}
			for p, s := range props {
				desc, _ := s.(map[string]any)["description"].(string)
				require.NotEmpty(t, desc, "%s#%s/properties/%s has no description", name, ptr, p)
			}
			require.Equal(t, false, obj["additionalProperties"], "%s#%s allows additional properties", name, ptr)
		})
		// Every $ref resolves to an embedded file and a place in it.
		walk(doc, "", func(ptr string, obj map[string]any) {
			ref, ok := obj["$ref"].(string)
			if !ok {
				return
			}
			file, frag, _ := strings.Cut(ref, "#")
			target := doc
			if file != "" {
				target = readJSON(t, file)
			}
			_, ok = pointer(target, frag)
			require.True(t, ok, "%s#%s: $ref %q does not resolve", name, ptr, ref)
		})
	}
}

// enum returns the enum at ptr in an embedded schema file.
func enum(t *testing.T, file, ptr string) []string {
	t.Helper()
	v, ok := pointer(readJSON(t, file), ptr)
	require.True(t, ok, "%s#%s", file, ptr)
	var out []string
	for _, x := range v.(map[string]any)["enum"].([]any) {
		out = append(out, x.(string))
	}
	return out
}

func strs[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = string(s)
	}
	return out
}

// TestSchemasMatchGo keeps the enums and the id pattern equal to their Go source.
func TestSchemasMatchGo(t *testing.T) {
	require.Equal(t, events.Operators(), enum(t, "defs.schema.json", "/$defs/labelOperator"))
	require.Equal(t, strs(events.Codes()), enum(t, "defs.schema.json", "/$defs/errorCode"))
	require.Equal(t, strs(events.Inbound()), enum(t, "defs.schema.json", "/$defs/inboundType"))
	require.Equal(t, append(strs(lifecycle.JobStatuses()), events.JobStatusRejected, events.JobStatusClassificationFailed), enum(t, "job.schema.json", "/properties/status"))
	require.Equal(t, strs(lifecycle.JobStatuses()), enum(t, "query.jobs.schema.json", "/properties/status"))
	require.Equal(t, events.ExplainReasons(), enum(t, "query.result.schema.json", "/$defs/workerExplained/properties/reason"))
	require.Equal(t, strs(lifecycle.OfferStatuses()), enum(t, "offer.schema.json", "/properties/status"))
	require.Equal(t, events.RevokeReasons(), enum(t, "offer.schema.json", "/properties/reason"))
	require.Equal(t, events.MatchingModes(), enum(t, "defs.schema.json", "/$defs/matchingMode/properties/kind"))
	require.Equal(t, events.WorkerStates(), enum(t, "worker.schema.json", "/properties/state"))
	require.Equal(t, []string{events.PresenceOnline, events.PresenceLost}, enum(t, "worker.schema.json", "/properties/presence"))
	require.Equal(t, strs(events.PolicyKinds()), enum(t, "defs.schema.json", "/$defs/policyKind"))
	require.Equal(t, []string{events.OrderFIFO, events.OrderLIFO}, enum(t, "defs.schema.json", "/$defs/queueSpec/properties/order"))
	require.Equal(t, []string{events.ModeLongestIdle, events.ModeRoundRobin, events.ModeBestWorker},
		enum(t, "defs.schema.json", "/$defs/distributionMode/properties/kind"))

	// The id pattern is the regexp of events.ValidID.
	v, _ := pointer(readJSON(t, "defs.schema.json"), "/$defs/id/pattern")
	require.Equal(t, events.IDPattern, v)
	for _, id := range []string{"a", "call-4711", "A_b-9", "-a", "_a", "a.b", "a b", "", "é", strings.Repeat("x", 128), strings.Repeat("x", 129)} {
		data := fmt.Sprintf(`{"jobId":%q}`, id)
		require.Equal(t, events.ValidID(id), schemas.ValidateData(events.TypeJobCancel, []byte(data)) == nil, "id %q", id)
	}
}

// TestQuerySchemasMatchGoFields keeps the query schemas' properties equal to the json
// names of their Go types, and their required properties equal to the fields without
// omitempty.
func TestQuerySchemasMatchGoFields(t *testing.T) {
	for _, tt := range []struct {
		file, ptr string
		v         any
	}{
		{"query.job.schema.json", "", events.QueryJob{}},
		{"query.queue.schema.json", "", events.QueryQueue{}},
		{"query.worker.schema.json", "", events.QueryWorker{}},
		{"query.result.schema.json", "/$defs/jobInfo", events.JobInfo{}},
		{"query.result.schema.json", "/$defs/queueInfo", events.QueueInfo{}},
		{"query.result.schema.json", "/$defs/priorityWait", events.PriorityWait{}},
		{"query.result.schema.json", "/$defs/workerInfo", events.WorkerInfo{}},
		{"query.jobs.schema.json", "", events.QueryJobs{}},
		{"query.workers.schema.json", "", events.QueryWorkers{}},
		{"query.queues.schema.json", "", events.QueryQueues{}},
		{"query.policies.schema.json", "", events.QueryPolicies{}},
		{"query.policy.schema.json", "", events.QueryPolicy{}},
		{"query.result.schema.json", "/$defs/jobList", events.JobList{}},
		{"query.result.schema.json", "/$defs/workerList", events.WorkerList{}},
		{"query.result.schema.json", "/$defs/queueList", events.QueueList{}},
		{"query.result.schema.json", "/$defs/policyList", events.PolicyList{}},
		{"query.result.schema.json", "/$defs/policyInfo", events.PolicyInfo{}},
		{"query.result.schema.json", "/$defs/workerSummary", events.WorkerSummary{}},
		{"query.result.schema.json", "/$defs/channelLoad", events.ChannelLoad{}},
		{"query.explain.schema.json", "", events.QueryExplain{}},
		{"query.result.schema.json", "/$defs/explanation", events.Explanation{}},
		{"query.result.schema.json", "/$defs/distributionExplained", events.DistributionExplained{}},
		{"query.result.schema.json", "/$defs/chosenWorker", events.ChosenWorker{}},
		{"query.result.schema.json", "/$defs/orderValue", events.OrderValue{}},
		{"query.result.schema.json", "/$defs/workerExplained", events.WorkerExplained{}},
		{"query.result.schema.json", "/$defs/selectorMiss", events.SelectorMiss{}},
		{"query.result.schema.json", "/$defs/capacityMiss", events.CapacityMiss{}},
		{"query.history.schema.json", "", events.QueryHistory{}},
		{"query.result.schema.json", "/$defs/jobHistory", events.JobHistory{}},
	} {
		v, ok := pointer(readJSON(t, tt.file), tt.ptr)
		require.True(t, ok, "%s#%s", tt.file, tt.ptr)
		obj := v.(map[string]any)
		var props, required, goNames, goRequired []string
		for k := range obj["properties"].(map[string]any) {
			props = append(props, k)
		}
		for _, r := range obj["required"].([]any) {
			required = append(required, r.(string))
		}
		rt := reflect.TypeOf(tt.v)
		for i := range rt.NumField() {
			name, opts, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			goNames = append(goNames, name)
			if !strings.Contains(opts, "omitempty") {
				goRequired = append(goRequired, name)
			}
		}
		require.ElementsMatch(t, goNames, props, "%s#%s properties vs %T", tt.file, tt.ptr, tt.v)
		require.ElementsMatch(t, goRequired, required, "%s#%s required vs %T", tt.file, tt.ptr, tt.v)
	}
}

// --- AsyncAPI ---

func loadAsyncAPI(t *testing.T) (map[string]any, string) {
	t.Helper()
	b, err := fs.ReadFile(schemas.Files(), "asyncapi.yaml")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(b, &doc))
	return doc, string(b)
}

func TestAsyncAPI(t *testing.T) {
	doc, text := loadAsyncAPI(t)
	require.Equal(t, "3.0.0", doc["asyncapi"])
	info := doc["info"].(map[string]any)
	require.NotEmpty(t, info["title"])
	require.NotEmpty(t, info["version"])

	for _, s := range []string{events.StreamIn, events.StreamEvents, events.BucketPolicies, events.HeaderReplyTo, events.HeaderMsgID, events.QueueGroup, events.SubjectQueryPrefix} {
		require.Contains(t, text, s)
	}

	// Every $ref resolves, inside the document or into an embedded schema file.
	walk(doc, "", func(ptr string, obj map[string]any) {
		ref, ok := obj["$ref"].(string)
		if !ok {
			return
		}
		file, frag, _ := strings.Cut(ref, "#")
		var target any = doc
		if file != "" {
			target = readJSON(t, strings.TrimPrefix(file, "./"))
		}
		_, ok = pointer(target, frag)
		require.True(t, ok, "asyncapi.yaml#%s: $ref %q does not resolve", ptr, ref)
	})

	// Messages: one per catalog type, named after it, with its data schema.
	messages := doc["components"].(map[string]any)["messages"].(map[string]any)
	byType := map[string]string{} // type -> message key
	for key, m := range messages {
		m := m.(map[string]any)
		name := m["name"].(string)
		byType[name] = key
		require.Contains(t, m["description"], "CloudEvent", key)
		payload := m["payload"].(map[string]any)
		require.Equal(t, "application/schema+json;version=draft-2020-12", payload["schemaFormat"], key)
		ref := payload["schema"].(map[string]any)["$ref"]
		require.Equal(t, "./"+schemas.SchemaName(events.Type(name)), ref, key)
	}
	require.ElementsMatch(t, strs(allTypes()), mapKeys(byType))

	// Channels: every subject form, and each type on the channel it is published on.
	channels := doc["channels"].(map[string]any)
	addresses := map[string]map[string]any{}
	for _, c := range channels {
		c := c.(map[string]any)
		if a, ok := c["address"].(string); ok {
			addresses[a] = c
		}
	}
	for _, a := range []string{
		"patchbay.events.job.{queueId}.{jobId}.{verb}",
		"patchbay.events.offer.{workerId}.{jobId}.{verb}",
		"patchbay.events.worker.{workerId}.{verb}",
		"patchbay.events.policy.{kind}.{policyId}.{verb}",
		events.SubjectCommandFailed,
		events.QuerySubject(events.TypeQueryJob),
		events.QuerySubject(events.TypeQueryQueue),
		events.QuerySubject(events.TypeQueryWorker),
		events.QuerySubject(events.TypeQueryJobs),
		events.QuerySubject(events.TypeQueryWorkers),
		events.QuerySubject(events.TypeQueryQueues),
		events.QuerySubject(events.TypeQueryPolicies),
		events.QuerySubject(events.TypeQueryPolicy),
		events.QuerySubject(events.TypeQueryExplain),
		events.QuerySubject(events.TypeQueryHistory),
	} {
		require.Contains(t, addresses, a)
	}
	onChannel := func(subject string, typ events.Type) {
		t.Helper()
		for a, c := range addresses {
			re := regexp.MustCompile("^" + regexp.MustCompile(`\\\{[A-Za-z]+\\\}`).ReplaceAllString(regexp.QuoteMeta(a), `[^.]+`) + "$")
			if !re.MatchString(subject) {
				continue
			}
			for _, m := range c["messages"].(map[string]any) {
				if m.(map[string]any)["$ref"] == "#/components/messages/"+byType[string(typ)] {
					return
				}
			}
		}
		t.Errorf("no channel for %s carries %s", subject, typ)
	}
	for _, typ := range events.Inbound() {
		onChannel(events.InSubject(typ), typ)
		onChannel(events.ReqSubject(typ), typ)
	}
	for _, typ := range events.Outbound() {
		switch {
		case strings.HasPrefix(typ.Name(), "job."):
			onChannel(events.JobSubject("support", "call-4711", typ), typ)
		case strings.HasPrefix(typ.Name(), "offer."):
			onChannel(events.OfferSubject("alice", "call-4711", typ), typ)
		case strings.HasPrefix(typ.Name(), "worker."):
			onChannel(events.WorkerSubject("alice", typ), typ)
		case strings.HasPrefix(typ.Name(), "policy."):
			onChannel(events.PolicySubject(events.KindQueue, "support", typ), typ)
			onChannel(events.PolicySubject(events.KindDistributionPolicy, "sales-round-robin", typ), typ)
		}
	}
	onChannel(events.SubjectCommandFailed, events.TypeCommandFailed)
	for _, typ := range events.Queries() {
		onChannel(events.QuerySubject(typ), typ)
		c := addresses[events.QuerySubject(typ)]
		require.Contains(t, c["description"], "Not stored", "a query channel says it is not stored")
	}

	// Every request operation replies with command.succeeded or command.failed, every
	// query operation with query.result or command.failed, answered by the queue group.
	ops := doc["operations"].(map[string]any)
	replies, queries := 0, 0
	for key, op := range ops {
		op := op.(map[string]any)
		ch := op["channel"].(map[string]any)["$ref"].(string)
		chObj, ok := pointer(doc, strings.TrimPrefix(ch, "#"))
		require.True(t, ok, key)
		if addr, _ := chObj.(map[string]any)["address"].(string); strings.HasPrefix(addr, events.SubjectQueryPrefix) {
			queries++
			require.Equal(t, "receive", op["action"], key)
			queue, _ := pointer(op, "/bindings/nats/queue")
			require.Equal(t, events.QueueGroup, queue, key)
			reply := op["reply"].(map[string]any)
			replyCh := reply["channel"].(map[string]any)["$ref"].(string)
			var got []any // message names
			for _, m := range reply["messages"].([]any) {
				ref := m.(map[string]any)["$ref"].(string)
				// The reply carries the messages named, on the reply channel.
				target, ok := pointer(doc, strings.TrimPrefix(ref, "#"))
				require.True(t, ok, "%s: %s", key, ref)
				require.True(t, strings.HasPrefix(ref, replyCh+"/messages/"), "%s: %s is not on %s", key, ref, replyCh)
				msg, ok := pointer(doc, strings.TrimPrefix(target.(map[string]any)["$ref"].(string), "#"))
				require.True(t, ok)
				got = append(got, msg.(map[string]any)["name"])
			}
			require.ElementsMatch(t, []any{string(events.TypeQueryResult), string(events.TypeCommandFailed)}, got, key)
			continue
		}
		if !strings.HasPrefix(ch, "#/channels/req.") {
			continue
		}
		replies++
		var got []string
		for _, m := range op["reply"].(map[string]any)["messages"].([]any) {
			got = append(got, m.(map[string]any)["$ref"].(string))
		}
		require.ElementsMatch(t, []string{"#/channels/reply/messages/commandSucceeded", "#/channels/reply/messages/commandFailed"}, got, key)
	}
	require.Equal(t, len(events.Inbound()), replies)
	require.Equal(t, len(events.Queries()), queries)
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestFiles(t *testing.T) {
	var names []string
	require.NoError(t, fs.WalkDir(schemas.Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	}))
	require.Contains(t, names, "asyncapi.yaml")
	require.Contains(t, names, "defs.schema.json")
	for _, typ := range allTypes() {
		file, _, _ := strings.Cut(schemas.SchemaName(typ), "#")
		require.Contains(t, names, file)
	}
}

// FuzzValidateData checks that any input gives nil or a well-formed refusal.
func FuzzValidateData(f *testing.F) {
	names, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(names) == 0 {
		f.Fatal("no golden samples", err)
	}
	for _, name := range names {
		body, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		e, err := events.Decode(nil, body)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(e.Type(), e.Data())
	}
	f.Add(string(events.TypeJobCreated), []byte(`{"queueId":"a","channelId":"b","labels":{"":{}}}`))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		err := schemas.ValidateData(events.Type(typ), data)
		if err == nil {
			return
		}
		var pe *events.Error
		if !errors.As(err, &pe) {
			t.Fatalf("not an *events.Error: %v", err)
		}
		if pe.Code != events.CodeInvalidData && pe.Code != events.CodeUnknownType {
			t.Fatalf("code %s", pe.Code)
		}
		if pe.Message == "" || strings.Contains(pe.Message, "\n") {
			t.Fatalf("message %q", pe.Message)
		}
	})
}

func BenchmarkValidateJobCreated(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata", "job.created.json"))
	if err != nil {
		b.Fatal(err)
	}
	e, err := events.Decode(nil, body)
	if err != nil {
		b.Fatal(err)
	}
	data := e.Data()
	if err := schemas.ValidateData(events.TypeJobCreated, data); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := schemas.ValidateData(events.TypeJobCreated, data); err != nil {
			b.Fatal(err)
		}
	}
}

// The AsyncAPI document names every policy kind of the catalog, in its policyKind
// parameter and in the prose that explains policies (it once said there were two).
func TestAsyncAPIPolicyKindsMatchTheCatalog(t *testing.T) {
	doc, _ := loadAsyncAPI(t)
	kinds := events.PolicyKinds()
	param := doc["components"].(map[string]any)["parameters"].(map[string]any)["policyKind"].(map[string]any)
	var enum []string
	for _, k := range param["enum"].([]any) {
		enum = append(enum, k.(string))
	}
	var want []string
	for _, k := range kinds {
		want = append(want, string(k))
	}
	require.ElementsMatch(t, want, enum, "asyncapi.yaml#/components/parameters/policyKind/enum")

	desc := doc["info"].(map[string]any)["description"].(string)
	start := strings.Index(desc, "**Policies.**")
	require.GreaterOrEqual(t, start, 0, "asyncapi.yaml: info.description has no **Policies.** paragraph")
	para := desc[start:]
	if end := strings.Index(para, "\n\n"); end > 0 {
		para = para[:end]
	}
	numbers := []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"}
	require.Less(t, len(kinds), len(numbers))
	require.Contains(t, para, "There are "+numbers[len(kinds)]+" kinds", "the Policies paragraph counts the kinds")
	for _, k := range kinds {
		require.Contains(t, para, "`"+string(k)+"`", "the Policies paragraph names kind %s", k)
	}
}

// The tracing extension's limits in the AsyncAPI document are the Go constants.
func TestAsyncAPITraceLimits(t *testing.T) {
	doc, _ := loadAsyncAPI(t)
	for ptr, want := range map[string]int{
		"/components/schemas/cloudEvent/properties/traceparent/maxLength":           events.MaxTraceParentBytes,
		"/components/schemas/cloudEvent/properties/tracestate/maxLength":            events.MaxTraceStateBytes,
		"/components/schemas/cloudEventHeaders/properties/ce-traceparent/maxLength": events.MaxTraceParentBytes,
		"/components/schemas/cloudEventHeaders/properties/ce-tracestate/maxLength":  events.MaxTraceStateBytes,
	} {
		v, ok := pointer(doc, ptr)
		require.True(t, ok, ptr)
		require.EqualValues(t, want, v, ptr)
	}
}

// A policy.apply that fails its schema names the first problem of every put and
// delete that fails, and of the data around them.
func TestValidateDataPolicyApplyNamesEveryProblem(t *testing.T) {
	data := `{"puts":[
		{"kind":"queue","id":"ok","spec":{}},
		{"kind":"distributionPolicy","id":"slow","spec":{"mode":{"kind":"fastest"}}},
		{"kind":"queue","id":"q","spec":{"order":"sideways"}}],
	  "deletes":[{"kind":"queue"}],
	  "purge":true}`
	err := schemas.ValidateData(events.TypePolicyApply, []byte(data))
	require.ErrorIs(t, err, events.ErrInvalidData)
	var pe *events.Error
	require.ErrorAs(t, err, &pe)
	var fields []string
	for _, p := range pe.Problems {
		fields = append(fields, p.Field)
	}
	require.Equal(t, []string{"purge", "puts/1/spec/mode/kind", "puts/2/spec/order", "deletes/0/id"}, fields)
	require.Equal(t, "purge", pe.Field)
	require.Contains(t, pe.Message, "4 problems")

	require.NoError(t, schemas.ValidateData(events.TypePolicyApply, []byte(`{"puts":[{"kind":"queue","id":"ok","spec":{}}],"prune":true}`)))
	err = schemas.ValidateData(events.TypePolicyApply, []byte(`{"puts":[{"kind":"queue","id":"q","spec":{"order":"x"}}]}`))
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "puts/0/spec/order", pe.Field)
	require.Len(t, pe.Problems, 1)
}
