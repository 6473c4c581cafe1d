package azapi

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

// Azure's classification policy maps onto patchbay's and back.
func TestClassificationMapping(t *testing.T) {
	az := `{
		"name": "Sorter",
		"fallbackQueueId": "general",
		"queueSelectorAttachments": [
			{"kind": "static", "queueSelector": {"key": "Id", "labelOperator": "equal", "value": "vip"}},
			{"kind": "conditional", "condition": {"kind": "expression", "expression": "tier == 'gold'"},
			 "queueSelectors": [{"key": "Id", "labelOperator": "equal", "value": "gold"}]},
			{"kind": "weightedAllocation", "allocations": [
				{"weight": 0.3, "queueSelectors": [{"key": "Id", "labelOperator": "equal", "value": "a"}]},
				{"weight": 0.7, "queueSelectors": [{"key": "Id", "labelOperator": "equal", "value": "b"}]}]}
		],
		"prioritizationRule": {"kind": "static", "value": 5},
		"workerSelectorAttachments": [
			{"kind": "static", "workerSelector": {"key": "language", "labelOperator": "equal", "value": "en"}},
			{"kind": "passThrough", "key": "region", "labelOperator": "equal"}
		]
	}`
	spec, err := classificationFromAzure([]byte(az), nil)
	require.NoError(t, err)
	s := spec.(events.ClassificationPolicySpec)
	require.Equal(t, "vip", s.QueueSelectors[0].QueueID)
	require.Equal(t, "tier == 'gold'", s.QueueSelectors[1].Condition)
	require.Equal(t, "gold", s.QueueSelectors[1].QueueID)
	require.Equal(t, []events.QueueAllocation{{Weight: 0.3, QueueID: "a"}, {Weight: 0.7, QueueID: "b"}}, s.QueueSelectors[2].Allocations)
	require.Equal(t, []events.PrioritizationRule{{Kind: "static", Priority: 5}}, s.PrioritizationRules)
	require.Equal(t, "region", s.WorkerSelectors[1].Key)

	raw, err := json.Marshal(s)
	require.NoError(t, err)
	back, lossy, err := classificationToAzure(raw)
	require.NoError(t, err)
	require.Empty(t, lossy)
	var want, got any
	require.NoError(t, json.Unmarshal([]byte(az), &want))
	b, err := json.Marshal(back)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, want, got)

	// what patchbay has and Azure's representation cannot say
	_, lossy, err = classificationToAzure(json.RawMessage(`{"queueSelectorAttachments": [{"kind": "passThrough", "key": "queue"}]}`))
	require.NoError(t, err)
	require.Contains(t, lossy, "passThrough")
}

// What has no equivalent is refused with the field.
func TestPolicyRefusals(t *testing.T) {
	for _, c := range []struct {
		name   string
		from   func([]byte, json.RawMessage) (any, error)
		body   string
		target string
	}{
		{"queue selector by label", classificationFromAzure, `{"queueSelectorAttachments": [{"kind": "static", "queueSelector": {"key": "Region", "labelOperator": "equal", "value": "eu"}}]}`, "queueSelectorAttachments/0/queueSelector"},
		{"rule engine", classificationFromAzure, `{"queueSelectorAttachments": [{"kind": "ruleEngine"}]}`, "queueSelectorAttachments/0/kind"},
		{"powerFx", classificationFromAzure, `{"workerSelectorAttachments": [{"kind": "conditional", "condition": {"kind": "expression", "language": "powerFx", "expression": "true"}}]}`, "workerSelectorAttachments/0/condition/language"},
		{"function rule", classificationFromAzure, `{"prioritizationRule": {"kind": "function"}}`, "prioritizationRule"},
		{"passThrough expiry", classificationFromAzure, `{"workerSelectorAttachments": [{"kind": "passThrough", "key": "k", "labelOperator": "equal", "expiresAfterSeconds": 5}]}`, "workerSelectorAttachments/0/expiresAfterSeconds"},
		{"scoring rule", distributionFromAzure, `{"mode": {"kind": "bestWorker", "scoringRule": {"kind": "static", "value": 1}}}`, "mode/scoringRule"},
		{"action id", exceptionFromAzure, `{"exceptionRules": [{"id": "r", "trigger": {"kind": "queueLength", "threshold": 1}, "actions": [{"id": "a", "kind": "cancel"}]}]}`, "id"},
		{"unknown queue field", queueFromAzure, `{"name": "q", "order": "lifo"}`, "order"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.from([]byte(c.body), nil)
			var ae *apiError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, 400, ae.status)
			require.Equal(t, c.target, ae.target, ae.msg)
		})
	}
}

// An upsert keeps what Azure's representation has no field for.
func TestPolicyUpsertKeepsPatchbayFields(t *testing.T) {
	spec, err := queueFromAzure([]byte(`{"name": "Support", "distributionPolicyId": "p"}`), json.RawMessage(`{"order": "lifo", "name": "old"}`))
	require.NoError(t, err)
	require.Equal(t, events.QueueSpec{Name: "Support", DistributionPolicyID: "p", Order: "lifo"}, spec)

	cur := json.RawMessage(`{"mode": {"kind": "bestWorker", "scoringRule": [{"expression": "skill > 3", "weight": 2}]}, "expiredOfferMakesWorkerUnavailable": true}`)
	spec, err = distributionFromAzure([]byte(`{"offerExpiresAfterSeconds": 30, "mode": {"kind": "bestWorker", "maxConcurrentOffers": 2}}`), cur)
	require.NoError(t, err)
	d := spec.(events.DistributionPolicySpec)
	require.Equal(t, []events.ScoringTerm{{Expression: "skill > 3", Weight: 2}}, d.Mode.ScoringRule)
	require.True(t, d.ExpiredOfferMakesWorkerUnavailable)
	// a scoring rule belongs to bestWorker: another mode drops it
	spec, err = distributionFromAzure([]byte(`{"mode": {"kind": "roundRobin"}}`), cur)
	require.NoError(t, err)
	require.Nil(t, spec.(events.DistributionPolicySpec).Mode.ScoringRule)
}
