package azapi

import (
	"encoding/json"
	"fmt"

	"github.com/patchbay/patchbay/events"
)

// policyKind maps one of Azure's policy resources onto a patchbay policy kind.
type policyKind struct {
	kind       events.PolicyKind
	collection string // the path segment: distributionPolicies, queues, ...
	param      string // the path parameter: distributionPolicyId, ...
	what       string // for messages
	// toAzure gives the Azure representation of a stored spec (without id and etag),
	// and, when the spec uses what Azure's cannot express, says what (lossy).
	toAzure func(spec json.RawMessage) (view any, lossy string, err error)
	// fromAzure makes the spec to store from an Azure representation (decoded
	// strictly) and the stored spec (nil when new): what Azure's representation has
	// no field for is kept from the stored spec.
	fromAzure func(view []byte, cur json.RawMessage) (any, error)
}

var policyKinds = []policyKind{
	{events.KindDistributionPolicy, "distributionPolicies", "distributionPolicyId", "distribution policy", distributionToAzure, distributionFromAzure},
	{events.KindClassificationPolicy, "classificationPolicies", "classificationPolicyId", "classification policy", classificationToAzure, classificationFromAzure},
	{events.KindExceptionPolicy, "exceptionPolicies", "exceptionPolicyId", "exception policy", exceptionToAzure, exceptionFromAzure},
	{events.KindQueue, "queues", "queueId", "queue", queueToAzure, queueFromAzure},
}

func unmarshalSpec(spec json.RawMessage, v any) error {
	if len(spec) == 0 {
		return nil
	}
	return json.Unmarshal(spec, v)
}

// --- queues ---

// azQueue is Azure's RouterQueue (a patchbay queue policy; its order has no Azure
// field and is kept).
type azQueue struct {
	Name                 string         `json:"name,omitempty"`
	DistributionPolicyID string         `json:"distributionPolicyId,omitempty"`
	Labels               map[string]any `json:"labels,omitempty"`
	ExceptionPolicyID    string         `json:"exceptionPolicyId,omitempty"`
}

func queueToAzure(spec json.RawMessage) (any, string, error) {
	var s events.QueueSpec
	if err := unmarshalSpec(spec, &s); err != nil {
		return nil, "", err
	}
	return azQueue{Name: s.Name, DistributionPolicyID: s.DistributionPolicyID, Labels: s.Labels, ExceptionPolicyID: s.ExceptionPolicyID}, "", nil
}

func queueFromAzure(view []byte, cur json.RawMessage) (any, error) {
	var in azQueue
	if err := decodeStrict(view, &in); err != nil {
		return nil, err
	}
	var s events.QueueSpec
	if err := unmarshalSpec(cur, &s); err != nil {
		return nil, err
	}
	s.Name, s.DistributionPolicyID, s.Labels, s.ExceptionPolicyID = in.Name, in.DistributionPolicyID, in.Labels, in.ExceptionPolicyID
	return s, nil
}

// --- distribution policies ---

type azDistribution struct {
	Name                     string  `json:"name,omitempty"`
	OfferExpiresAfterSeconds float64 `json:"offerExpiresAfterSeconds,omitempty"`
	Mode                     *azMode `json:"mode,omitempty"`
}

type azMode struct {
	Kind                string          `json:"kind"`
	MinConcurrentOffers int             `json:"minConcurrentOffers,omitempty"`
	MaxConcurrentOffers int             `json:"maxConcurrentOffers,omitempty"`
	BypassSelectors     bool            `json:"bypassSelectors,omitempty"`
	ScoringRule         json.RawMessage `json:"scoringRule,omitempty"`
	ScoringRuleOptions  json.RawMessage `json:"scoringRuleOptions,omitempty"`
}

func distributionToAzure(spec json.RawMessage) (any, string, error) {
	var s events.DistributionPolicySpec
	if err := unmarshalSpec(spec, &s); err != nil {
		return nil, "", err
	}
	m := s.Mode
	return azDistribution{Name: s.Name, OfferExpiresAfterSeconds: s.OfferExpiresAfterSeconds, Mode: &azMode{
		Kind: m.Kind, MinConcurrentOffers: m.MinConcurrentOffers, MaxConcurrentOffers: m.MaxConcurrentOffers, BypassSelectors: m.BypassSelectors,
	}}, "", nil
}

// distributionFromAzure keeps the stored scoring rule (patchbay's weighted
// expressions, which Azure's RouterRule cannot express) while the mode stays
// bestWorker, and expiredOfferMakesWorkerUnavailable.
func distributionFromAzure(view []byte, cur json.RawMessage) (any, error) {
	var in azDistribution
	if err := decodeStrict(view, &in); err != nil {
		return nil, err
	}
	var s events.DistributionPolicySpec
	if err := unmarshalSpec(cur, &s); err != nil {
		return nil, err
	}
	out := events.DistributionPolicySpec{Name: in.Name, OfferExpiresAfterSeconds: in.OfferExpiresAfterSeconds,
		ExpiredOfferMakesWorkerUnavailable: s.ExpiredOfferMakesWorkerUnavailable}
	if m := in.Mode; m != nil {
		if len(m.ScoringRule) > 0 || len(m.ScoringRuleOptions) > 0 {
			return nil, badRequest("mode/scoringRule", "mode/scoringRule, mode/scoringRuleOptions: Azure's router rules are not supported; patchbay's bestWorker scoring rule (weighted expressions) is set with policy.put")
		}
		out.Mode = events.DistributionMode{Kind: m.Kind, MinConcurrentOffers: m.MinConcurrentOffers, MaxConcurrentOffers: m.MaxConcurrentOffers, BypassSelectors: m.BypassSelectors}
		if m.Kind == s.Mode.Kind {
			out.Mode.ScoringRule = s.Mode.ScoringRule
		}
	}
	return out, nil
}

// --- exception policies ---

// azException is Azure's ExceptionPolicy: patchbay's with its rules named
// exceptionRules (triggers and actions have the same fields).
type azException struct {
	Name           string      `json:"name,omitempty"`
	ExceptionRules []azExcRule `json:"exceptionRules,omitempty"`
}

type azExcRule struct {
	ID      string                   `json:"id"`
	Trigger events.ExceptionTrigger  `json:"trigger"`
	Actions []events.ExceptionAction `json:"actions"`
}

func exceptionToAzure(spec json.RawMessage) (any, string, error) {
	var s events.ExceptionPolicySpec
	if err := unmarshalSpec(spec, &s); err != nil {
		return nil, "", err
	}
	out := azException{Name: s.Name}
	for _, r := range s.Rules {
		out.ExceptionRules = append(out.ExceptionRules, azExcRule{ID: r.ID, Trigger: r.Trigger, Actions: r.Actions})
	}
	return out, "", nil
}

func exceptionFromAzure(view []byte, _ json.RawMessage) (any, error) {
	var in azException
	if err := decodeStrict(view, &in); err != nil {
		return nil, err
	}
	out := events.ExceptionPolicySpec{Name: in.Name, Rules: []events.ExceptionRule{}}
	for _, r := range in.ExceptionRules {
		out.Rules = append(out.Rules, events.ExceptionRule{ID: r.ID, Trigger: r.Trigger, Actions: r.Actions})
	}
	return out, nil
}

// --- classification policies ---

type azClassification struct {
	Name                      string           `json:"name,omitempty"`
	FallbackQueueID           string           `json:"fallbackQueueId,omitempty"`
	QueueSelectorAttachments  []azQueueAttach  `json:"queueSelectorAttachments,omitempty"`
	PrioritizationRule        *azRule          `json:"prioritizationRule,omitempty"`
	WorkerSelectorAttachments []azWorkerAttach `json:"workerSelectorAttachments,omitempty"`
}

// azRule is Azure's RouterRule, as far as patchbay has it: static (value) and
// expression (in patchbay's expression language, not PowerFx).
type azRule struct {
	Kind       string `json:"kind"`
	Value      any    `json:"value,omitempty"`
	Expression string `json:"expression,omitempty"`
	Language   string `json:"language,omitempty"`
}

type azQueueSelector struct {
	Key           string `json:"key"`
	LabelOperator string `json:"labelOperator"`
	Value         any    `json:"value,omitempty"`
}

type azQueueAttach struct {
	Kind           string            `json:"kind"`
	QueueSelector  *azQueueSelector  `json:"queueSelector,omitempty"`
	Condition      *azRule           `json:"condition,omitempty"`
	QueueSelectors []azQueueSelector `json:"queueSelectors,omitempty"`
	Allocations    []azQueueAlloc    `json:"allocations,omitempty"`
}

type azQueueAlloc struct {
	Weight         float64           `json:"weight"`
	QueueSelectors []azQueueSelector `json:"queueSelectors"`
}

type azWorkerAttach struct {
	Kind                string                  `json:"kind"`
	WorkerSelector      *events.WorkerSelector  `json:"workerSelector,omitempty"`
	Condition           *azRule                 `json:"condition,omitempty"`
	WorkerSelectors     []events.WorkerSelector `json:"workerSelectors,omitempty"`
	Key                 string                  `json:"key,omitempty"`
	LabelOperator       string                  `json:"labelOperator,omitempty"`
	ExpiresAfterSeconds float64                 `json:"expiresAfterSeconds,omitempty"`
	Allocations         []azWorkerAlloc         `json:"allocations,omitempty"`
}

type azWorkerAlloc struct {
	Weight          float64                 `json:"weight"`
	WorkerSelectors []events.WorkerSelector `json:"workerSelectors"`
}

// queueByID is the one queue selector patchbay attaches: the queue's id.
func queueByID(id string) azQueueSelector {
	return azQueueSelector{Key: "Id", LabelOperator: events.OpEqual, Value: id}
}

func expression(e string) *azRule { return &azRule{Kind: "expression", Expression: e} }

func classificationToAzure(spec json.RawMessage) (any, string, error) {
	var s events.ClassificationPolicySpec
	if err := unmarshalSpec(spec, &s); err != nil {
		return nil, "", err
	}
	out := azClassification{Name: s.Name, FallbackQueueID: s.FallbackQueueID}
	lossy := ""
	for i, a := range s.QueueSelectors {
		switch a.Kind {
		case events.AttachStatic:
			q := queueByID(a.QueueID)
			out.QueueSelectorAttachments = append(out.QueueSelectorAttachments, azQueueAttach{Kind: a.Kind, QueueSelector: &q})
		case events.AttachConditional:
			out.QueueSelectorAttachments = append(out.QueueSelectorAttachments, azQueueAttach{Kind: a.Kind, Condition: expression(a.Condition), QueueSelectors: []azQueueSelector{queueByID(a.QueueID)}})
		case events.AttachWeighted:
			at := azQueueAttach{Kind: a.Kind}
			for _, al := range a.Allocations {
				at.Allocations = append(at.Allocations, azQueueAlloc{Weight: al.Weight, QueueSelectors: []azQueueSelector{queueByID(al.QueueID)}})
			}
			out.QueueSelectorAttachments = append(out.QueueSelectorAttachments, at)
		default:
			lossy = fmt.Sprintf("queueSelectorAttachments/%d is a %s attachment (a job label naming the queue)", i, a.Kind)
		}
	}
	switch {
	case len(s.PrioritizationRules) == 1 && s.PrioritizationRules[0].Kind == events.AttachStatic:
		out.PrioritizationRule = &azRule{Kind: "static", Value: s.PrioritizationRules[0].Priority}
	case len(s.PrioritizationRules) > 0:
		lossy = "prioritizationRules holds conditional rules"
	}
	for _, a := range s.WorkerSelectors {
		switch a.Kind {
		case events.AttachStatic:
			for _, sel := range a.Selectors {
				out.WorkerSelectorAttachments = append(out.WorkerSelectorAttachments, azWorkerAttach{Kind: a.Kind, WorkerSelector: &sel})
			}
		case events.AttachConditional:
			out.WorkerSelectorAttachments = append(out.WorkerSelectorAttachments, azWorkerAttach{Kind: a.Kind, Condition: expression(a.Condition), WorkerSelectors: a.Selectors})
		case events.AttachPassThrough:
			out.WorkerSelectorAttachments = append(out.WorkerSelectorAttachments, azWorkerAttach{Kind: a.Kind, Key: a.Key, LabelOperator: a.LabelOperator})
		case events.AttachWeighted:
			at := azWorkerAttach{Kind: a.Kind}
			for _, al := range a.Allocations {
				at.Allocations = append(at.Allocations, azWorkerAlloc{Weight: al.Weight, WorkerSelectors: al.Selectors})
			}
			out.WorkerSelectorAttachments = append(out.WorkerSelectorAttachments, at)
		}
	}
	return out, lossy, nil
}

func classificationFromAzure(view []byte, _ json.RawMessage) (any, error) {
	var in azClassification
	if err := decodeStrict(view, &in); err != nil {
		return nil, err
	}
	out := events.ClassificationPolicySpec{Name: in.Name, FallbackQueueID: in.FallbackQueueID}
	for i, a := range in.QueueSelectorAttachments {
		f := fmt.Sprintf("queueSelectorAttachments/%d", i)
		switch a.Kind {
		case events.AttachStatic:
			if a.QueueSelector == nil {
				return nil, badRequest(f+"/queueSelector", "%s/queueSelector is required", f)
			}
			id, err := queueIDOf(f+"/queueSelector", *a.QueueSelector)
			if err != nil {
				return nil, err
			}
			out.QueueSelectors = append(out.QueueSelectors, events.QueueSelectorAttachment{Kind: a.Kind, QueueID: id})
		case events.AttachConditional:
			cond, err := conditionOf(f+"/condition", a.Condition)
			if err != nil {
				return nil, err
			}
			if len(a.QueueSelectors) != 1 {
				return nil, badRequest(f+"/queueSelectors", "%s/queueSelectors: patchbay attaches one queue per attachment (got %d)", f, len(a.QueueSelectors))
			}
			id, err := queueIDOf(f+"/queueSelectors/0", a.QueueSelectors[0])
			if err != nil {
				return nil, err
			}
			out.QueueSelectors = append(out.QueueSelectors, events.QueueSelectorAttachment{Kind: a.Kind, Condition: cond, QueueID: id})
		case events.AttachWeighted:
			at := events.QueueSelectorAttachment{Kind: a.Kind}
			for k, al := range a.Allocations {
				g := fmt.Sprintf("%s/allocations/%d/queueSelectors", f, k)
				if len(al.QueueSelectors) != 1 {
					return nil, badRequest(g, "%s: patchbay allocates one queue per allocation (got %d)", g, len(al.QueueSelectors))
				}
				id, err := queueIDOf(g+"/0", al.QueueSelectors[0])
				if err != nil {
					return nil, err
				}
				at.Allocations = append(at.Allocations, events.QueueAllocation{Weight: al.Weight, QueueID: id})
			}
			out.QueueSelectors = append(out.QueueSelectors, at)
		default:
			return nil, badRequest(f+"/kind", "%s/kind %q is not supported: patchbay attaches queues by static, conditional or weightedAllocation attachments", f, a.Kind)
		}
	}
	if r := in.PrioritizationRule; r != nil {
		p, ok := r.Value.(float64)
		if r.Kind != "static" || !ok || p != float64(int(p)) {
			return nil, badRequest("prioritizationRule", "prioritizationRule: only a static rule with an integer value is supported")
		}
		out.PrioritizationRules = []events.PrioritizationRule{{Kind: events.AttachStatic, Priority: int(p)}}
	}
	for i, a := range in.WorkerSelectorAttachments {
		f := fmt.Sprintf("workerSelectorAttachments/%d", i)
		switch a.Kind {
		case events.AttachStatic:
			if a.WorkerSelector == nil {
				return nil, badRequest(f+"/workerSelector", "%s/workerSelector is required", f)
			}
			out.WorkerSelectors = append(out.WorkerSelectors, events.WorkerSelectorAttachment{Kind: a.Kind, Selectors: []events.WorkerSelector{*a.WorkerSelector}})
		case events.AttachConditional:
			cond, err := conditionOf(f+"/condition", a.Condition)
			if err != nil {
				return nil, err
			}
			out.WorkerSelectors = append(out.WorkerSelectors, events.WorkerSelectorAttachment{Kind: a.Kind, Condition: cond, Selectors: a.WorkerSelectors})
		case events.AttachPassThrough:
			if a.ExpiresAfterSeconds != 0 {
				return nil, badRequest(f+"/expiresAfterSeconds", "%s/expiresAfterSeconds: not supported on a passThrough attachment", f)
			}
			out.WorkerSelectors = append(out.WorkerSelectors, events.WorkerSelectorAttachment{Kind: a.Kind, Key: a.Key, LabelOperator: a.LabelOperator})
		case events.AttachWeighted:
			at := events.WorkerSelectorAttachment{Kind: a.Kind}
			for _, al := range a.Allocations {
				at.Allocations = append(at.Allocations, events.WorkerSelectorAllocation{Weight: al.Weight, Selectors: al.WorkerSelectors})
			}
			out.WorkerSelectors = append(out.WorkerSelectors, at)
		default:
			return nil, badRequest(f+"/kind", "%s/kind %q is not supported: patchbay attaches worker selectors by static, conditional, passThrough or weightedAllocation attachments", f, a.Kind)
		}
	}
	return out, nil
}

// queueIDOf reads the queue id of a queue selector: patchbay attaches a queue by
// its id (key "Id", labelOperator "equal").
func queueIDOf(field string, q azQueueSelector) (string, error) {
	id, ok := q.Value.(string)
	if q.Key != "Id" || q.LabelOperator != events.OpEqual || !ok {
		return "", badRequest(field, `%s: patchbay selects a queue by its id: {"key": "Id", "labelOperator": "equal", "value": "<queueId>"}`, field)
	}
	return id, nil
}

// conditionOf reads a condition: an expression rule in patchbay's expression
// language (TaskRouter's, over the job's labels), not PowerFx.
func conditionOf(field string, r *azRule) (string, error) {
	if r == nil || r.Kind != "expression" || r.Expression == "" || r.Value != nil {
		return "", badRequest(field, `%s: patchbay takes an expression rule {"kind": "expression", "expression": "..."} in its own expression language`, field)
	}
	if r.Language != "" {
		return "", badRequest(field+"/language", "%s/language %q: patchbay's expressions are TaskRouter's language, not PowerFx; leave language out", field, r.Language)
	}
	return r.Expression, nil
}
