package schemas_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/schemas"
)

// schemaLimits is every bound the schemas state, with the Go constant it must equal.
var schemaLimits = []struct {
	file, ptr string // the schema keyword: file and JSON pointer
	want      int
}{
	{"query.history.schema.json", "/properties/limit/maximum", events.MaxHistoryLimit},
	{"defs.schema.json", "/$defs/id/maxLength", events.MaxIDBytes},
	{"defs.schema.json", "/$defs/labels/propertyNames/maxLength", events.MaxKeyBytes},
	{"defs.schema.json", "/$defs/labelValue/maxLength", events.MaxLabelValueBytes},
	{"defs.schema.json", "/$defs/labelValue/maxItems", events.MaxLabelItems},
	{"defs.schema.json", "/$defs/labelValue/maxProperties", events.MaxLabelItems},
	{"defs.schema.json", "/$defs/labelValue/propertyNames/maxLength", events.MaxKeyBytes},
	{"defs.schema.json", "/$defs/scalarValue/maxLength", events.MaxLabelValueBytes},
	{"defs.schema.json", "/$defs/tags/propertyNames/maxLength", events.MaxKeyBytes},
	{"defs.schema.json", "/$defs/workerSelector/properties/key/maxLength", events.MaxKeyBytes},
	{"defs.schema.json", "/$defs/workerSelector/properties/expiresAfterSeconds/maximum", events.MaxDurationSeconds},
	{"defs.schema.json", "/$defs/channelConfig/properties/capacityCostPerJob/maximum", events.MaxCapacity},
	{"defs.schema.json", "/$defs/channelConfig/properties/maxNumberOfJobs/maximum", events.MaxCapacity},
	{"defs.schema.json", "/$defs/priority/minimum", events.MinPriority},
	{"defs.schema.json", "/$defs/priority/maximum", events.MaxPriority},

	{"defs.schema.json", "/$defs/classificationPolicySpec/properties/name/maxLength", events.MaxNameBytes},
	{"defs.schema.json", "/$defs/classificationPolicySpec/properties/queueSelectorAttachments/maxItems", events.MaxPolicyListItems},
	{"defs.schema.json", "/$defs/classificationPolicySpec/properties/queueSelectorAttachments/items/properties/condition/maxLength", events.MaxExpressionBytes},
	{"defs.schema.json", "/$defs/classificationPolicySpec/properties/queueSelectorAttachments/items/properties/key/maxLength", events.MaxKeyBytes},
	{"defs.schema.json", "/$defs/classificationPolicySpec/properties/queueSelectorAttachments/items/properties/allocations/maxItems", events.MaxPolicyListItems},
	{"defs.schema.json", "/$defs/classificationPolicySpec/properties/queueSelectorAttachments/items/properties/allocations/items/properties/weight/maximum", events.MaxWeight},
	{"defs.schema.json", "/$defs/classificationPolicySpec/properties/prioritizationRules/maxItems", events.MaxPolicyListItems},
	{"defs.schema.json", "/$defs/classificationPolicySpec/properties/prioritizationRules/items/properties/condition/maxLength", events.MaxExpressionBytes},
	{"defs.schema.json", "/$defs/classificationPolicySpec/properties/workerSelectorAttachments/maxItems", events.MaxPolicyListItems},
	{"defs.schema.json", "/$defs/classificationPolicySpec/properties/workerSelectorAttachments/items/properties/condition/maxLength", events.MaxExpressionBytes},
	{"defs.schema.json", "/$defs/classificationPolicySpec/properties/workerSelectorAttachments/items/properties/selectors/maxItems", events.MaxWorkerSelectors},
	{"defs.schema.json", "/$defs/classificationPolicySpec/properties/workerSelectorAttachments/items/properties/key/maxLength", events.MaxKeyBytes},
	{"defs.schema.json", "/$defs/classificationPolicySpec/properties/workerSelectorAttachments/items/properties/allocations/maxItems", events.MaxPolicyListItems},
	{"defs.schema.json", "/$defs/classificationPolicySpec/properties/workerSelectorAttachments/items/properties/allocations/items/properties/weight/maximum", events.MaxWeight},
	{"defs.schema.json", "/$defs/classificationPolicySpec/properties/workerSelectorAttachments/items/properties/allocations/items/properties/selectors/maxItems", events.MaxWorkerSelectors},

	{"defs.schema.json", "/$defs/exceptionPolicySpec/properties/name/maxLength", events.MaxNameBytes},
	{"defs.schema.json", "/$defs/exceptionPolicySpec/properties/rules/maxItems", events.MaxPolicyListItems},
	{"defs.schema.json", "/$defs/exceptionPolicySpec/properties/rules/items/properties/trigger/properties/threshold/maximum", events.MaxQueueLengthThreshold},
	{"defs.schema.json", "/$defs/exceptionPolicySpec/properties/rules/items/properties/trigger/properties/thresholdSeconds/maximum", events.MaxDurationSeconds},
	{"defs.schema.json", "/$defs/exceptionPolicySpec/properties/rules/items/properties/actions/maxItems", events.MaxPolicyListItems},
	{"defs.schema.json", "/$defs/exceptionPolicySpec/properties/rules/items/properties/actions/items/properties/labelsToUpsert/maxProperties", events.MaxLabels},
	{"defs.schema.json", "/$defs/exceptionPolicySpec/properties/rules/items/properties/actions/items/properties/dispositionCode/maxLength", events.MaxDispositionCodeBytes},
	{"defs.schema.json", "/$defs/exceptionPolicySpec/properties/rules/items/properties/actions/items/properties/note/maxLength", events.MaxNoteBytes},
	{"defs.schema.json", "/$defs/exceptionPolicySpec/properties/rules/items/properties/actions/items/properties/workerSelectors/maxItems", events.MaxWorkerSelectors},

	{"defs.schema.json", "/$defs/workflowSpec/properties/name/maxLength", events.MaxNameBytes},
	{"defs.schema.json", "/$defs/workflowSpec/properties/filters/maxItems", events.MaxPolicyListItems},
	{"defs.schema.json", "/$defs/workflowFilter/properties/name/maxLength", events.MaxNameBytes},
	{"defs.schema.json", "/$defs/workflowFilter/properties/expression/maxLength", events.MaxExpressionBytes},
	{"defs.schema.json", "/$defs/workflowFilter/properties/targets/maxItems", events.MaxPolicyListItems},
	{"defs.schema.json", "/$defs/workflowTarget/properties/expression/maxLength", events.MaxExpressionBytes},
	{"defs.schema.json", "/$defs/workflowTarget/properties/orderBy/maxLength", events.MaxExpressionBytes},
	{"defs.schema.json", "/$defs/workflowTarget/properties/skipIf/maxLength", events.MaxExpressionBytes},
	{"defs.schema.json", "/$defs/workflowTarget/properties/knownWorker/maxLength", events.MaxNameBytes},
	{"defs.schema.json", "/$defs/workflowTarget/properties/timeoutSeconds/maximum", events.MaxDurationSeconds},

	{"defs.schema.json", "/$defs/queueSpec/properties/name/maxLength", events.MaxNameBytes},
	{"defs.schema.json", "/$defs/queueSpec/properties/labels/maxProperties", events.MaxLabels},
	{"defs.schema.json", "/$defs/distributionPolicySpec/properties/name/maxLength", events.MaxNameBytes},
	{"defs.schema.json", "/$defs/distributionPolicySpec/properties/offerExpiresAfterSeconds/maximum", events.MaxDurationSeconds},
	{"defs.schema.json", "/$defs/distributionMode/properties/minConcurrentOffers/maximum", events.MaxConcurrentOffersPerJob},
	{"defs.schema.json", "/$defs/distributionMode/properties/maxConcurrentOffers/maximum", events.MaxConcurrentOffersPerJob},
	{"defs.schema.json", "/$defs/distributionMode/properties/scoringRule/maxItems", events.MaxPolicyListItems},
	{"defs.schema.json", "/$defs/distributionMode/properties/scoringRule/items/properties/expression/maxLength", events.MaxExpressionBytes},
	{"defs.schema.json", "/$defs/distributionMode/properties/scoringRule/items/properties/weight/minimum", -events.MaxWeight},
	{"defs.schema.json", "/$defs/distributionMode/properties/scoringRule/items/properties/weight/maximum", events.MaxWeight},

	{"job.created.schema.json", "/properties/timeToLiveSeconds/maximum", events.MaxDurationSeconds},
	{"job.created.schema.json", "/properties/channelReference/maxLength", events.MaxReferenceBytes},
	{"job.created.schema.json", "/properties/labels/maxProperties", events.MaxLabels},
	{"job.created.schema.json", "/properties/tags/maxProperties", events.MaxTags},
	{"job.created.schema.json", "/properties/requestedWorkerSelectors/maxItems", events.MaxWorkerSelectors},
	{"job.created.schema.json", "/properties/notes/maxLength", events.MaxNoteBytes},

	{"worker.register.schema.json", "/$defs/update/properties/labels/maxProperties", events.MaxLabels},
	{"worker.register.schema.json", "/$defs/update/properties/tags/maxProperties", events.MaxTags},
	{"worker.register.schema.json", "/$defs/update/properties/queues/maxItems", events.MaxWorkerQueues},
	{"worker.register.schema.json", "/$defs/update/properties/channels/maxItems", events.MaxWorkerChannels},
	{"worker.register.schema.json", "/$defs/update/properties/totalCapacity/maximum", events.MaxCapacity},
	{"worker.register.schema.json", "/$defs/update/properties/maxConcurrentOffers/maximum", events.MaxCapacity},

	{"job.complete.schema.json", "/properties/note/maxLength", events.MaxNoteBytes},
	{"job.close.schema.json", "/properties/dispositionCode/maxLength", events.MaxDispositionCodeBytes},
	{"job.close.schema.json", "/properties/note/maxLength", events.MaxNoteBytes},
	{"job.cancel.schema.json", "/properties/dispositionCode/maxLength", events.MaxDispositionCodeBytes},
	{"job.cancel.schema.json", "/properties/note/maxLength", events.MaxNoteBytes},
	{"policy.put.schema.json", "/properties/revision/maximum", events.MaxRevision},
	{"policy.delete.schema.json", "/properties/revision/maximum", events.MaxRevision},
	{"query.jobs.schema.json", "/properties/limit/maximum", events.MaxListLimit},
	{"query.jobs.schema.json", "/properties/after/maxLength", events.MaxCursorBytes},
	{"query.workers.schema.json", "/properties/limit/maximum", events.MaxListLimit},
	{"query.workers.schema.json", "/properties/after/maxLength", events.MaxCursorBytes},
	{"query.queues.schema.json", "/properties/limit/maximum", events.MaxListLimit},
	{"query.queues.schema.json", "/properties/after/maxLength", events.MaxCursorBytes},
	{"query.policies.schema.json", "/properties/limit/maximum", events.MaxListLimit},
	{"query.policies.schema.json", "/properties/after/maxLength", events.MaxCursorBytes},
	{"query.explain.schema.json", "/properties/limit/maximum", events.MaxExplainWorkers},
	{"query.result.schema.json", "/$defs/explanation/properties/workers/maxItems", events.MaxExplainWorkers},
	{"query.result.schema.json", "/$defs/jobList/properties/jobs/maxItems", events.MaxListLimit},
	{"query.result.schema.json", "/$defs/workerList/properties/workers/maxItems", events.MaxListLimit},
	{"query.result.schema.json", "/$defs/queueList/properties/queues/maxItems", events.MaxListLimit},
	{"query.result.schema.json", "/$defs/policyList/properties/policies/maxItems", events.MaxListLimit},
	{"query.result.schema.json", "/$defs/jobList/properties/next/maxLength", events.MaxCursorBytes},
	{"query.result.schema.json", "/$defs/workerList/properties/next/maxLength", events.MaxCursorBytes},
	{"query.result.schema.json", "/$defs/queueList/properties/next/maxLength", events.MaxCursorBytes},
	{"query.result.schema.json", "/$defs/policyList/properties/next/maxLength", events.MaxCursorBytes},
	{"policy.apply.schema.json", "/properties/puts/maxItems", events.MaxPolicyApplyItems},
	{"policy.apply.schema.json", "/properties/deletes/maxItems", events.MaxPolicyApplyItems},
}

// TestSchemaLimitsMatchGo keeps the bounds in the schemas equal to the constants in
// events/limits.go.
func TestSchemaLimitsMatchGo(t *testing.T) {
	t.Parallel()
	docs := map[string]any{}
	for _, l := range schemaLimits {
		if docs[l.file] == nil {
			docs[l.file] = readJSON(t, l.file)
		}
		v, ok := pointer(docs[l.file], l.ptr)
		require.True(t, ok, "%s#%s: missing", l.file, l.ptr)
		n, ok := v.(float64)
		require.True(t, ok, "%s#%s: not a number (%v)", l.file, l.ptr, v)
		require.Equal(t, float64(l.want), n, "%s#%s", l.file, l.ptr)
	}
	id, _ := pointer(docs["defs.schema.json"], "/$defs/id/pattern")
	require.Equal(t, fmt.Sprintf("^[A-Za-z0-9][A-Za-z0-9_-]{0,%d}$", events.MaxIDBytes-1), id)
}

// unboundedDefs are the shared definitions no client sends on its own: outbound-only
// ones, and those whose count is bounded where they are used (every use is checked
// by TestInboundRefsAreBounded).
var unboundedDefs = []string{
	"error", "errorCode", "inboundType", "workflowPosition", "policyRevision", // outbound
	"labels", "tags", "workerSelectors", // counted at each use
}

// TestInboundSchemasAreBounded checks that every string, list, map and number a
// client can send has a bound: a string a maxLength (or an enum, const or date-time
// format), a list maxItems, a map (an object with free keys) maxProperties, a number
// a maximum.
func TestInboundSchemasAreBounded(t *testing.T) {
	t.Parallel()
	files := []string{"defs.schema.json"}
	for _, typ := range slices.Concat(events.Inbound(), events.Queries()) {
		if f, _, _ := strings.Cut(schemas.SchemaName(typ), "#"); !slices.Contains(files, f) {
			files = append(files, f)
		}
	}
	for _, file := range files {
		doc := readJSON(t, file)
		walk(doc, "", func(ptr string, obj map[string]any) {
			if file == "defs.schema.json" {
				for _, d := range unboundedDefs {
					if ptr == "/$defs/"+d || strings.HasPrefix(ptr, "/$defs/"+d+"/") {
						return
					}
				}
			}
			if strings.Contains(ptr, "/examples") || (file == "policy.put.schema.json" && ptr == "/properties/spec") {
				return // the spec's schema is chosen by kind, and each one is closed
			}
			types := typesOf(obj["type"])
			_, isEnum := obj["enum"]
			_, isConst := obj["const"]
			bounded := func(kw ...string) bool {
				for _, k := range kw {
					if _, ok := obj[k]; ok {
						return true
					}
				}
				return false
			}
			if slices.Contains(types, "string") && !isEnum && !isConst && obj["format"] != "date-time" {
				require.True(t, bounded("maxLength"), "%s#%s: a string without maxLength", file, ptr)
			}
			if slices.Contains(types, "array") {
				require.True(t, bounded("maxItems"), "%s#%s: an array without maxItems", file, ptr)
			}
			if slices.Contains(types, "number") || slices.Contains(types, "integer") {
				if !slices.Contains(types, "string") { // labelValue: numbers are 64-bit floats
					require.True(t, bounded("maximum", "exclusiveMaximum"), "%s#%s: a number without maximum", file, ptr)
				}
			}
			if slices.Contains(types, "object") && obj["additionalProperties"] != false && obj["properties"] == nil {
				require.True(t, bounded("maxProperties"), "%s#%s: a map without maxProperties", file, ptr)
			}
		})
	}
}

// TestInboundRefsAreBounded checks that every inbound use of labels, tags and
// worker selectors carries its count.
func TestInboundRefsAreBounded(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"defs.schema.json#/$defs/labels": "maxProperties", "#/$defs/labels": "maxProperties",
		"defs.schema.json#/$defs/tags": "maxProperties", "#/$defs/tags": "maxProperties",
		"defs.schema.json#/$defs/workerSelectors": "maxItems", "#/$defs/workerSelectors": "maxItems",
	}
	files := []string{"defs.schema.json", "job.created.schema.json", "worker.register.schema.json"}
	n := 0
	for _, file := range files {
		walk(readJSON(t, file), "", func(ptr string, obj map[string]any) {
			ref, _ := obj["$ref"].(string)
			kw, ok := want[ref]
			if !ok || (file == "defs.schema.json" && strings.HasPrefix(ptr, "/$defs/workflowPosition")) {
				return
			}
			n++
			_, has := obj[kw]
			require.True(t, has, "%s#%s: %s without %s", file, ptr, ref, kw)
		})
	}
	require.Greater(t, n, 8)
}

func typesOf(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
