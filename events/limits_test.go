package events_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/expr"
	"github.com/patchbay/patchbay/internal/limitstest"
	"github.com/patchbay/patchbay/schemas"
)

// edge runs a message through what the router does before the engine sees it
// (internal/router's decodeCommand): decode the CloudEvent, validate its data against
// the schema, decode the data into its payload.
func edge(header map[string][]string, body []byte) error {
	ev, err := events.Decode(header, body)
	if err != nil {
		return err
	}
	t := events.Type(ev.Type())
	if err := schemas.ValidateData(t, ev.Data()); err != nil {
		return err
	}
	return events.DecodeData(ev, events.Payload(t))
}

func structured(t events.Type, data string) []byte {
	return []byte(fmt.Sprintf(`{"specversion":"1.0","id":"e1","source":"/test","type":%q,"datacontenttype":"application/json","data":%s}`, t, data))
}

// obj joins JSON members into an object.
func obj(members ...string) string { return "{" + strings.Join(members, ",") + "}" }

func str(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// job is a job.created with extra members.
func job(members ...string) string {
	return obj(append([]string{`"queueId":"q"`, `"channelId":"c"`}, members...)...)
}

// worker is a worker.register with extra members, or its channel replaced.
func worker(members ...string) string {
	base := []string{`"workerId":"w"`, `"queues":["q"]`, `"totalCapacity":1`}
	hasChannels := false
	for _, m := range members {
		hasChannels = hasChannels || strings.HasPrefix(m, `"channels"`)
	}
	if !hasChannels {
		base = append(base, `"channels":[{"channelId":"c","capacityCostPerJob":1}]`)
	}
	return obj(append(base, members...)...)
}

// entries returns n members "k<i>": value(i).
func entries(n int, key func(int) string, value func(int) string) string {
	m := make([]string, n)
	for i := range m {
		m[i] = str(key(i)) + ":" + value(i)
	}
	return strings.Join(m, ",")
}

func keyN(i int) string { return fmt.Sprintf("k%d", i) }
func one(int) string    { return "1" }
func list(n int, item string) string {
	items := make([]string, n)
	for i := range items {
		items[i] = item
	}
	return "[" + strings.Join(items, ",") + "]"
}

// nested returns a tag value nesting arrays depth levels deep.
func nested(depth int) string { return strings.Repeat("[", depth) + strings.Repeat("]", depth) }

func selector(key, value string) string {
	return obj(`"key":`+str(key), `"labelOperator":"equal"`, `"value":`+value)
}

func TestLimitsAtTheEdge(t *testing.T) {
	t.Parallel()
	x := strings.Repeat
	tests := []struct {
		name      string
		typ       events.Type
		data      string
		wantField string // "" when accepted
	}{
		{"labels at the limit", events.TypeJobCreated, job(`"labels":{` + entries(events.MaxLabels, keyN, one) + `}`), ""},
		{"labels over the limit", events.TypeJobCreated, job(`"labels":{` + entries(events.MaxLabels+1, keyN, one) + `}`), "labels"},
		{"1000 labels", events.TypeJobCreated, job(`"labels":{` + entries(1000, keyN, one) + `}`), "labels"},
		{"label key at the limit", events.TypeJobCreated, job(`"labels":{` + str(x("k", events.MaxKeyBytes)) + `:1}`), ""},
		{"label key over the limit", events.TypeJobCreated, job(`"labels":{` + str(x("k", events.MaxKeyBytes+1)) + `:1}`), "labels/" + x("k", events.MaxKeyBytes+1)},
		{"label key over the limit in bytes", events.TypeJobCreated, job(`"labels":{` + str(x("é", events.MaxKeyBytes/2+1)) + `:1}`), "labels/" + x("é", events.MaxKeyBytes/2+1)},
		{"label value at the limit", events.TypeJobCreated, job(`"labels":{"skill":` + str(x("v", events.MaxLabelValueBytes)) + `}`), ""},
		{"label value over the limit", events.TypeJobCreated, job(`"labels":{"skill":` + str(x("v", events.MaxLabelValueBytes+1)) + `}`), "labels/skill"},
		{"label value at the limit in bytes", events.TypeJobCreated, job(`"labels":{"skill":` + str(x("é", events.MaxLabelValueBytes/2)) + `}`), ""},
		{"label value over the limit in bytes", events.TypeJobCreated, job(`"labels":{"skill":` + str(x("é", events.MaxLabelValueBytes/2+1)) + `}`), "labels/skill"},
		{"label key with a slash", events.TypeJobCreated, job(`"labels":{"a/b":` + str(x("v", events.MaxLabelValueBytes+1)) + `}`), "labels/a~1b"},

		{"tags at the limit", events.TypeJobCreated, job(`"tags":{` + entries(events.MaxTags, keyN, one) + `}`), ""},
		{"tags over the limit", events.TypeJobCreated, job(`"tags":{` + entries(events.MaxTags+1, keyN, one) + `}`), "tags"},
		{"tag key over the limit", events.TypeJobCreated, job(`"tags":{` + str(x("k", events.MaxKeyBytes+1)) + `:1}`), "tags/" + x("k", events.MaxKeyBytes+1)},
		{"tag value at the limit", events.TypeJobCreated, job(`"tags":{"a":{"b":[` + str(x("v", events.MaxTagValueBytes)) + `]}}`), ""},
		{"tag value over the limit", events.TypeJobCreated, job(`"tags":{"a":{"b":[1,` + str(x("v", events.MaxTagValueBytes+1)) + `]}}`), "tags/a/b/1"},
		{"nested tag key over the limit", events.TypeJobCreated, job(`"tags":{"a":{` + str(x("k", events.MaxKeyBytes+1)) + `:1}}`), "tags/a/" + x("k", events.MaxKeyBytes+1)},
		{"tag list at the limit", events.TypeJobCreated, job(`"tags":{"a":` + list(events.MaxTags, "1") + `}`), ""},
		{"tag list over the limit", events.TypeJobCreated, job(`"tags":{"a":` + list(events.MaxTags+1, "1") + `}`), "tags/a"},
		{"tag object over the limit", events.TypeJobCreated, job(`"tags":{"a":{"b":{` + entries(events.MaxTags+1, keyN, one) + `}}}`), "tags/a/b"},
		// data (1), tags (2), then the tag value's own levels.
		{"tags nested at the limit", events.TypeJobCreated, job(`"tags":{"a":` + nested(events.MaxJSONDepth-2) + `}`), ""},
		{"tags nested over the limit", events.TypeJobCreated, job(`"tags":{"a":` + nested(events.MaxJSONDepth-1) + `}`), "data"},
		{"tags nested 9990 levels", events.TypeJobCreated, job(`"tags":{"a":` + nested(9990) + `}`), "data"},

		{"selectors at the limit", events.TypeJobCreated, job(`"requestedWorkerSelectors":` + list(events.MaxWorkerSelectors, selector("a", "1"))), ""},
		{"selectors over the limit", events.TypeJobCreated, job(`"requestedWorkerSelectors":` + list(events.MaxWorkerSelectors+1, selector("a", "1"))), "requestedWorkerSelectors"},
		{"1000 selectors", events.TypeJobCreated, job(`"requestedWorkerSelectors":` + list(1000, selector("a", "1"))), "requestedWorkerSelectors"},
		{"selector key at the limit", events.TypeJobCreated, job(`"requestedWorkerSelectors":[` + selector(x("k", events.MaxKeyBytes), "1") + `]`), ""},
		{"selector key over the limit", events.TypeJobCreated, job(`"requestedWorkerSelectors":[` + selector(x("k", events.MaxKeyBytes+1), "1") + `]`), "requestedWorkerSelectors/0/key"},
		{"selector value at the limit", events.TypeJobCreated, job(`"requestedWorkerSelectors":[` + selector("a", str(x("v", events.MaxLabelValueBytes))) + `]`), ""},
		{"selector value over the limit", events.TypeJobCreated, job(`"requestedWorkerSelectors":[` + selector("a", str(x("v", events.MaxLabelValueBytes+1))) + `]`), "requestedWorkerSelectors/0/value"},
		{"selector value over the limit in bytes", events.TypeJobCreated, job(`"requestedWorkerSelectors":[` + selector("a", str(x("é", events.MaxLabelValueBytes/2+1))) + `]`), "requestedWorkerSelectors/0/value"},

		{"notes at the limit", events.TypeJobCreated, job(`"notes":` + str(x("n", events.MaxNoteBytes))), ""},
		{"notes over the limit", events.TypeJobCreated, job(`"notes":` + str(x("n", events.MaxNoteBytes+1))), "notes"},
		{"notes over the limit in bytes", events.TypeJobCreated, job(`"notes":` + str(x("é", events.MaxNoteBytes/2+1))), "notes"},
		{"channelReference at the limit", events.TypeJobCreated, job(`"channelReference":` + str(x("r", events.MaxReferenceBytes))), ""},
		{"channelReference over the limit", events.TypeJobCreated, job(`"channelReference":` + str(x("r", events.MaxReferenceBytes+1))), "channelReference"},
		{"priority at the limit", events.TypeJobCreated, job(`"priority":100`), ""},
		{"priority over the limit", events.TypeJobCreated, job(`"priority":101`), "priority"},
		{"priority at the lower limit", events.TypeJobCreated, job(`"priority":-100`), ""},
		{"priority under the lower limit", events.TypeJobCreated, job(`"priority":-101`), "priority"},
		{"time to live at the limit", events.TypeJobCreated, job(fmt.Sprintf(`"timeToLiveSeconds":%d`, events.MaxDurationSeconds)), ""},
		{"time to live over the limit", events.TypeJobCreated, job(fmt.Sprintf(`"timeToLiveSeconds":%d`, events.MaxDurationSeconds+1)), "timeToLiveSeconds"},
		{"job id at the limit", events.TypeJobCreated, job(`"jobId":` + str(x("j", events.MaxIDBytes))), ""},
		{"job id over the limit", events.TypeJobCreated, job(`"jobId":` + str(x("j", events.MaxIDBytes+1))), "jobId"},

		{"capacity at the limit", events.TypeWorkerRegister, worker(fmt.Sprintf(`"totalCapacity":%d`, events.MaxCapacity)), ""},
		{"capacity over the limit", events.TypeWorkerRegister, worker(fmt.Sprintf(`"totalCapacity":%d`, events.MaxCapacity+1)), "totalCapacity"},
		{"capacity 2^62+1", events.TypeWorkerUpdate, `{"workerId":"w","totalCapacity":4611686018427387905}`, "totalCapacity"},
		{"capacity cost 2^62", events.TypeWorkerRegister, worker(`"totalCapacity":4611686018427387905`, `"channels":[{"channelId":"c","capacityCostPerJob":4611686018427387904}]`), "channels/0/capacityCostPerJob"},
		{"capacity cost at the limit", events.TypeWorkerRegister, worker(fmt.Sprintf(`"channels":[{"channelId":"c","capacityCostPerJob":%d}]`, events.MaxCapacity)), ""},
		{"capacity cost over the limit", events.TypeWorkerRegister, worker(fmt.Sprintf(`"channels":[{"channelId":"c","capacityCostPerJob":%d}]`, events.MaxCapacity+1)), "channels/0/capacityCostPerJob"},
		{"max jobs at the limit", events.TypeWorkerRegister, worker(fmt.Sprintf(`"channels":[{"channelId":"c","capacityCostPerJob":1,"maxNumberOfJobs":%d}]`, events.MaxCapacity)), ""},
		{"max jobs over the limit", events.TypeWorkerRegister, worker(fmt.Sprintf(`"channels":[{"channelId":"c","capacityCostPerJob":1,"maxNumberOfJobs":%d}]`, events.MaxCapacity+1)), "channels/0/maxNumberOfJobs"},
		{"max offers at the limit", events.TypeWorkerRegister, worker(fmt.Sprintf(`"maxConcurrentOffers":%d`, events.MaxCapacity)), ""},
		{"max offers over the limit", events.TypeWorkerRegister, worker(fmt.Sprintf(`"maxConcurrentOffers":%d`, events.MaxCapacity+1)), "maxConcurrentOffers"},
		{"queues at the limit", events.TypeWorkerRegister, worker(`"queues":` + list(events.MaxWorkerQueues, `"q"`)), ""},
		{"queues over the limit", events.TypeWorkerRegister, worker(`"queues":` + list(events.MaxWorkerQueues+1, `"q"`)), "queues"},
		{"channels at the limit", events.TypeWorkerRegister, worker(`"channels":` + list(events.MaxWorkerChannels, `{"channelId":"c","capacityCostPerJob":1}`)), ""},
		{"channels over the limit", events.TypeWorkerRegister, worker(`"channels":` + list(events.MaxWorkerChannels+1, `{"channelId":"c","capacityCostPerJob":1}`)), "channels"},
		{"worker labels over the limit", events.TypeWorkerUpdate, `{"workerId":"w","labels":{` + entries(events.MaxLabels+1, keyN, one) + `}}`, "labels"},
		{"worker tags over the limit", events.TypeWorkerUpdate, `{"workerId":"w","tags":{` + entries(events.MaxTags+1, keyN, one) + `}}`, "tags"},

		{"complete note at the limit", events.TypeJobComplete, `{"jobId":"j","assignmentId":"a","note":` + str(x("n", events.MaxNoteBytes)) + `}`, ""},
		{"complete note over the limit", events.TypeJobComplete, `{"jobId":"j","assignmentId":"a","note":` + str(x("n", events.MaxNoteBytes+1)) + `}`, "note"},
		{"close disposition at the limit", events.TypeJobClose, `{"jobId":"j","assignmentId":"a","dispositionCode":` + str(x("d", events.MaxDispositionCodeBytes)) + `}`, ""},
		{"close disposition over the limit", events.TypeJobClose, `{"jobId":"j","assignmentId":"a","dispositionCode":` + str(x("d", events.MaxDispositionCodeBytes+1)) + `}`, "dispositionCode"},
		{"close disposition over the limit in bytes", events.TypeJobClose, `{"jobId":"j","assignmentId":"a","dispositionCode":` + str(x("é", events.MaxDispositionCodeBytes/2+1)) + `}`, "dispositionCode"},
		{"close note over the limit", events.TypeJobClose, `{"jobId":"j","assignmentId":"a","note":` + str(x("n", events.MaxNoteBytes+1)) + `}`, "note"},
		{"cancel disposition over the limit", events.TypeJobCancel, `{"jobId":"j","dispositionCode":` + str(x("d", events.MaxDispositionCodeBytes+1)) + `}`, "dispositionCode"},
		{"cancel note at the limit", events.TypeJobCancel, `{"jobId":"j","note":` + str(x("n", events.MaxNoteBytes)) + `}`, ""},
		{"cancel note over the limit", events.TypeJobCancel, `{"jobId":"j","note":` + str(x("n", events.MaxNoteBytes+1)) + `}`, "note"},

		{"expression at the limit", events.TypePolicyPut, workflow(1, 1, x("a", events.MaxExpressionBytes)), ""},
		{"expression over the limit", events.TypePolicyPut, workflow(1, 1, x("a", events.MaxExpressionBytes+1)), "spec/filters/0/expression"},
		{"filters at the limit", events.TypePolicyPut, workflow(events.MaxPolicyListItems, 1, "a"), ""},
		{"filters over the limit", events.TypePolicyPut, workflow(events.MaxPolicyListItems+1, 1, "a"), "spec/filters"},
		{"targets over the limit", events.TypePolicyPut, workflow(1, events.MaxPolicyListItems+1, "a"), "spec/filters/0/targets"},
		{"policy name over the limit", events.TypePolicyPut, `{"kind":"queue","id":"q","spec":{"name":` + str(x("n", events.MaxNameBytes+1)) + `}}`, "spec/name"},
		{"queue labels over the limit", events.TypePolicyPut, `{"kind":"queue","id":"q","spec":{"labels":{` + entries(events.MaxLabels+1, keyN, one) + `}}}`, "spec/labels"},
		{"scoring weight over the limit", events.TypePolicyPut, `{"kind":"distributionPolicy","id":"d","spec":{"mode":{"kind":"bestWorker","scoringRule":[{"expression":"a","weight":1000001}]}}}`, "spec/mode/scoringRule/0/weight"},
		{"queue label value over the limit in bytes", events.TypePolicyPut, `{"kind":"queue","id":"q","spec":{"labels":{"a":` + str(x("é", events.MaxLabelValueBytes/2+1)) + `}}}`, "spec/labels/a"},
		{"queue name over the limit in bytes", events.TypePolicyPut, `{"kind":"queue","id":"q","spec":{"name":` + str(x("é", events.MaxNameBytes/2+1)) + `}}`, "spec/name"},
		{"cancel action note over the limit in bytes", events.TypePolicyPut, `{"kind":"exceptionPolicy","id":"x","spec":{"rules":[{"id":"r","trigger":{"kind":"queueLength","threshold":1},"actions":[{"kind":"cancel","note":` + str(x("é", events.MaxNoteBytes/2+1)) + `}]}]}}`, "spec/rules/0/actions/0/note"},
		{"attached selector value over the limit in bytes", events.TypePolicyPut, `{"kind":"classificationPolicy","id":"c","spec":{"workerSelectorAttachments":[{"kind":"static","selectors":[` + selector("a", str(x("é", events.MaxLabelValueBytes/2+1))) + `]}]}}`, "spec/workerSelectorAttachments/0/selectors/0/value"},
		{"activity name over the limit in bytes", events.TypePolicyPut, `{"kind":"activity","id":"lunch","spec":{"available":false,"name":` + str(x("é", events.MaxNameBytes/2+1)) + `}}`, "spec/name"},
		{"activity id over the limit", events.TypeWorkerUpdate, `{"workerId":"w","activity":` + str(x("a", events.MaxIDBytes+1)) + `}`, "activity"},
		{"workflow filter name over the limit in bytes", events.TypePolicyPut, `{"kind":"workflow","id":"wf","spec":{"filters":[{"name":` + str(x("é", events.MaxNameBytes/2+1)) + `,"expression":"a","targets":[{"queue":"q"}]}]}}`, "spec/filters/0/name"},
		{"the deepest policy the contract defines", events.TypePolicyPut, `{"kind":"classificationPolicy","id":"c","spec":{"workerSelectorAttachments":[{"kind":"weightedAllocation","allocations":[{"weight":1,"selectors":[` + selector("a", "1") + `]}]}]}}`, ""},
		{"revision at the limit", events.TypePolicyDelete, fmt.Sprintf(`{"kind":"queue","id":"q","revision":%d}`, events.MaxRevision), ""},
		{"revision over the limit", events.TypePolicyDelete, fmt.Sprintf(`{"kind":"queue","id":"q","revision":%d}`, events.MaxRevision+1), "revision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := edge(nil, structured(tt.typ, tt.data))
			if tt.wantField == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, events.ErrInvalidData)
			e := events.AsError(err)
			require.Equal(t, events.CodeInvalidData, e.Code)
			require.Equal(t, tt.wantField, e.Field, e.Message)
			require.Regexp(t, `the limit|at most|must be [<>]=`, e.Message, "the message names the limit")
		})
	}
}

// workflow is a policy.put of a workflow with filters × targets, each filter's
// expression expr.
func workflow(filters, targets int, expression string) string {
	f := obj(`"name":"f"`, `"expression":`+str(expression), `"targets":`+list(targets, `{"queue":"q"}`))
	return `{"kind":"workflow","id":"wf","spec":{"filters":` + list(filters, f) + `}}`
}

func TestExpressionLimitIsTheCompilers(t *testing.T) {
	t.Parallel()
	require.Equal(t, expr.MaxSourceLen, events.MaxExpressionBytes)
}

func TestCheckLimitsNamesTheLimit(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("v", 200<<10)
	tests := []struct {
		name      string
		payload   any
		wantField string
		wantMsg   string
	}{
		{"200 KB label value", &events.JobCreated{Labels: events.Labels{"skill": big}}, "labels/skill", "labels/skill: label value is 204800 bytes; the limit is 128"},
		{"10000 labels", &events.JobCreated{Labels: manyLabels(10000)}, "labels", "labels: 10000 labels; the limit is 16"},
		{"10000 selectors", &events.JobCreated{WorkerSelectors: make([]events.WorkerSelector, 10000)}, "requestedWorkerSelectors", "requestedWorkerSelectors: 10000 worker selectors; the limit is 8"},
		{"capacity 2^62+1", &events.WorkerRegister{TotalCapacity: ptr(1<<62 + 1)}, "totalCapacity", "totalCapacity: 4611686018427387905 is out of range; the limits are 1 and 1000000"},
		{"capacity cost 2^62", &events.WorkerRegister{Channels: []events.ChannelConfig{{ChannelID: "c", CapacityCostPerJob: 1 << 62}}}, "channels/0/capacityCostPerJob", "channels/0/capacityCostPerJob: 4611686018427387904 is out of range; the limits are 1 and 1000000"},
		{"negative max offers", &events.WorkerRegister{MaxConcurrentOffers: ptr(-1)}, "maxConcurrentOffers", "maxConcurrentOffers: -1 is out of range; the limits are 0 and 1000000"},
		{"selector expiry", &events.JobCreated{WorkerSelectors: []events.WorkerSelector{{Key: "a", ExpiresAfterSeconds: events.MaxDurationSeconds + 1}}}, "requestedWorkerSelectors/0/expiresAfterSeconds", "requestedWorkerSelectors/0/expiresAfterSeconds: 604801 seconds is out of range; the limits are 0 and 604800"},
		{"tag value deep", &events.JobCreated{Tags: map[string]any{"a": []any{map[string]any{"b": big}}}}, "tags/a/0/b", "tags/a/0/b: tag value is 204800 bytes; the limit is 128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := events.AsError(events.CheckLimits(tt.payload))
			require.NotNil(t, e)
			require.Equal(t, events.CodeInvalidData, e.Code)
			require.Equal(t, tt.wantField, e.Field)
			require.Equal(t, tt.wantMsg, e.Message)
		})
	}
	require.NoError(t, events.CheckLimits(&events.OfferAccept{JobID: big}), "payloads without limits of their own pass")
}

func manyLabels(n int) events.Labels {
	l := events.Labels{}
	for i := range n {
		l[keyN(i)] = 1.0
	}
	return l
}

func ptr[T any](v T) *T { return &v }

func TestMessageSize(t *testing.T) {
	t.Parallel()
	valid := structured(events.TypeJobCancel, `{"jobId":"j"}`)
	pad := func(n int) []byte { // valid padded with whitespace to n bytes
		return append(bytes.Repeat([]byte(" "), n-len(valid)), valid...)
	}
	require.NoError(t, edge(nil, pad(events.MaxMessageBytes)), "a message of exactly MaxMessageBytes")

	for name, body := range map[string][]byte{
		"one byte over":     pad(events.MaxMessageBytes + 1),
		"2 MB":              pad(2 << 20),
		"2 MB of garbage":   bytes.Repeat([]byte("{["), 1<<20),
		"200 KB label":      structured(events.TypeJobCreated, job(`"labels":{"skill":`+str(strings.Repeat("v", 200<<10))+`}`)),
		"10000 labels":      structured(events.TypeJobCreated, job(`"labels":{`+entries(10000, keyN, one)+`}`)),
		"10000 selectors":   structured(events.TypeJobCreated, job(`"requestedWorkerSelectors":`+list(10000, selector("a", "1")))),
		"2 MB binary event": pad(2 << 20),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			header := map[string][]string(nil)
			if strings.Contains(name, "binary") {
				header = map[string][]string{"ce-specversion": {"1.0"}, "ce-id": {"e1"}, "ce-source": {"/t"}, "ce-type": {string(events.TypeJobCancel)}}
			}
			_, err := events.Decode(header, body)
			e := events.AsError(err)
			require.NotNil(t, e)
			require.Equal(t, events.CodeInvalidData, e.Code)
			require.Empty(t, e.Field)
			require.Contains(t, e.Message, fmt.Sprintf("message is %d bytes; the limit is %d", len(body)+headerBytes(header), events.MaxMessageBytes))
		})
	}

	// The ce- headers count too.
	h := map[string][]string{"ce-specversion": {"1.0"}, "ce-id": {"e1"}, "ce-source": {"/t"}, "ce-type": {string(events.TypeJobCancel)},
		"ce-big": {strings.Repeat("x", events.MaxMessageBytes)}}
	_, err := events.Decode(h, []byte(`{"jobId":"j"}`))
	require.Empty(t, events.AsError(err).Field)
	require.ErrorIs(t, err, events.ErrInvalidData)
}

func headerBytes(h map[string][]string) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	return n
}

func TestNestingDepth(t *testing.T) {
	t.Parallel()
	deep := func(levels int) string { return job(`"tags":{"a":` + nested(levels) + `}`) }
	binary := map[string][]string{"ce-specversion": {"1.0"}, "ce-id": {"e1"}, "ce-source": {"/t"}, "ce-type": {string(events.TypeJobCreated)}}
	for _, levels := range []int{events.MaxJSONDepth - 2, events.MaxJSONDepth - 1, 9990} {
		ok := levels <= events.MaxJSONDepth-2
		for mode, send := range map[string]func() error{
			"structured": func() error { return edge(nil, structured(events.TypeJobCreated, deep(levels))) },
			"binary":     func() error { return edge(binary, []byte(deep(levels))) },
			"base64": func() error {
				e, err := events.New(events.TypeJobCreated, "e1", "/t", "", time.Now(), json.RawMessage(deep(levels)))
				if err != nil {
					return err
				}
				b, err := json.Marshal(map[string]any{"specversion": "1.0", "id": "e1", "source": "/t", "type": e.Type(), "datacontenttype": "application/json", "data_base64": e.Data()})
				require.NoError(t, err)
				return edge(nil, b)
			},
		} {
			err := send()
			if ok {
				require.NoError(t, err, "%s, %d levels", mode, levels)
				continue
			}
			e := events.AsError(err)
			require.NotNil(t, e, "%s, %d levels", mode, levels)
			require.Equal(t, events.CodeInvalidData, e.Code, "%s, %d levels", mode, levels)
			require.Equal(t, "data", e.Field)
			require.Contains(t, e.Message, fmt.Sprintf("more than %d levels deep", events.MaxJSONDepth))
		}
	}
	// Brackets inside strings do not count.
	require.NoError(t, edge(nil, structured(events.TypeJobCreated, job(`"notes":`+str(strings.Repeat("[{", 100))))))
}

func TestAttributeLimits(t *testing.T) {
	t.Parallel()
	at := strings.Repeat("i", events.MaxAttributeBytes)
	over := at + "i"
	body := func(attr, v string) []byte {
		m := map[string]any{"specversion": "1.0", "id": "e1", "source": "/t", "type": string(events.TypeJobCancel), "data": map[string]any{"jobId": "j"}}
		m[attr] = v
		b, _ := json.Marshal(m)
		return b
	}
	for _, attr := range []string{"id", "source", "subject", "tenant"} {
		require.NoError(t, edge(nil, body(attr, at)), attr)
		err := edge(nil, body(attr, over))
		require.ErrorIs(t, err, events.ErrInvalidData, attr)
		require.Equal(t, attr, events.AsError(err).Field)
		require.Contains(t, events.AsError(err).Message, "the limit is 256")
	}
	h := map[string][]string{"ce-specversion": {"1.0"}, "ce-id": {over}, "ce-source": {"/t"}, "ce-type": {string(events.TypeJobCancel)}}
	_, err := events.Decode(h, []byte(`{"jobId":"j"}`))
	require.ErrorIs(t, err, events.ErrInvalidData)
	require.Equal(t, "ce-id", events.AsError(err).Field)

	// The tracing extension has limits of its own.
	tp := "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-"
	ts := "a=" + strings.Repeat("v", 254) + ",b=" + strings.Repeat("v", events.MaxTraceStateBytes-256-3)
	for attr, v := range map[string]string{
		"traceparent": tp + strings.Repeat("x", events.MaxTraceParentBytes-len(tp)),
		"tracestate":  ts,
	} {
		require.NoError(t, edge(nil, body(attr, v)), attr)
		err := edge(nil, body(attr, v+"x"))
		require.ErrorIs(t, err, events.ErrInvalidData, attr)
		require.Equal(t, attr, events.AsError(err).Field)
	}
}

// TestLargestJobCreated sends the largest job.created the limits allow, every
// free-form character escaped as six bytes: it fits in a message and passes the edge.
func TestLargestJobCreated(t *testing.T) {
	t.Parallel()
	id := func(p string) string { return limitstest.ID(p) }
	for name, payload := range map[string]any{
		"job.created":     limitstest.LargestJobCreated(id("job"), id("queue")),
		"worker.register": limitstest.LargestWorkerRegister(id("worker"), id("queue"), events.MaxCapacity),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			typ := events.TypeJobCreated
			if name == "worker.register" {
				typ = events.TypeWorkerRegister
			}
			long := strings.Repeat("s", events.MaxAttributeBytes)
			e, err := events.New(typ, long, "/"+long[1:], long, time.Now(), payload)
			require.NoError(t, err)
			require.NoError(t, events.CheckLimits(payload), "at the limits, not over")
			body, err := events.Structured(e)
			require.NoError(t, err)
			require.LessOrEqual(t, len(body), events.MaxMessageBytes)
			t.Logf("%s: %d bytes of %d", name, len(body), events.MaxMessageBytes)
			require.Greater(t, bytes.Count(body, []byte(`\u00`)), 3000, "the strings are escaped")
			require.NoError(t, edge(nil, body))

			h, data := events.Binary(e)
			require.NoError(t, edge(h, data))
		})
	}
	// The job really is at every limit: one more of anything is refused.
	j := limitstest.LargestJobCreated("j", "q")
	j.Notes += "x"
	require.Equal(t, "notes", events.AsError(events.CheckLimits(j)).Field)
	j = limitstest.LargestJobCreated("j", "q")
	j.Labels["one-more"] = 1.0
	require.Equal(t, "labels", events.AsError(events.CheckLimits(j)).Field)
	j = limitstest.LargestJobCreated("j", "q")
	j.WorkerSelectors = append(j.WorkerSelectors, j.WorkerSelectors[0])
	require.Equal(t, "requestedWorkerSelectors", events.AsError(events.CheckLimits(j)).Field)
}

// The deepest policy the contract defines still fits when a policy.apply carries it:
// data, puts, a put, spec, workerSelectorAttachments, an attachment, allocations, an
// allocation, selectors, a selector is MaxJSONDepth levels.
func TestPolicyApplyDeepestPolicyFits(t *testing.T) {
	t.Parallel()
	spec := `{"workerSelectorAttachments":[{"kind":"weightedAllocation","allocations":[{"weight":1,"selectors":[{"key":"skill","labelOperator":"equal","value":1}]}]}]}`
	data := `{"puts":[{"kind":"classificationPolicy","id":"deep","spec":` + spec + `}]}`
	require.NoError(t, edge(nil, structured(events.TypePolicyApply, data)))
	var d events.PolicyApply
	e, err := events.Decode(nil, structured(events.TypePolicyApply, data))
	require.NoError(t, err)
	require.NoError(t, events.DecodeData(e, &d))
	require.Len(t, d.Puts, 1)

	// Over the item limit: refused at the edge with the limit.
	var puts []string
	for i := range events.MaxPolicyApplyItems + 1 {
		puts = append(puts, fmt.Sprintf(`{"kind":"queue","id":"q%d","spec":{}}`, i))
	}
	err = edge(nil, structured(events.TypePolicyApply, `{"puts":[`+strings.Join(puts, ",")+`]}`))
	require.ErrorIs(t, err, events.ErrInvalidData)
	require.Equal(t, "puts", events.AsError(err).Field)

	// A name over its limit inside a put is named at its place in the apply.
	long := strings.Repeat("é", events.MaxNameBytes) // 2 bytes a character: within maxLength, over the byte limit
	err = edge(nil, structured(events.TypePolicyApply, `{"puts":[{"kind":"queue","id":"q","spec":{}},{"kind":"queue","id":"r","spec":{"name":"`+long+`"}}]}`))
	require.ErrorIs(t, err, events.ErrInvalidData)
	require.Equal(t, "puts/1/spec/name", events.AsError(err).Field)
}
