package matcher

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/expr"
)

// Limits on policies.
const (
	maxConcurrentOffersLimit = 100
	maxOfferExpirySeconds    = 7 * 24 * 3600
)

// policy is a stored policy with its decoded spec.
type policy struct {
	events.Policy
	queue   *events.QueueSpec
	dist    *events.DistributionPolicySpec
	wfSpec  *events.WorkflowSpec
	wf      *workflow
	exc     *events.ExceptionPolicySpec
	clsSpec *events.ClassificationPolicySpec
	cls     *classifier
	act     *events.ActivitySpec
	// scoring is a distribution policy's compiled scoring rule.
	scoring []scoringTerm
}

type scoringTerm struct {
	expr   *expr.Expr
	weight float64
}

func policyKey(kind events.PolicyKind, id string) string { return string(kind) + "." + id }

// distribution is a queue's effective distribution: its policy with the defaults
// filled in.
type distribution struct {
	mode        string
	min, max    int
	bypass      bool
	offerExpiry float64 // seconds; 0: the engine's default
	scoring     []scoringTerm
	// unavailableOnExpiry: an expired offer makes its worker unavailable.
	unavailableOnExpiry bool
}

// queueSpec is a queue's policy (the zero spec when it has none).
func (e *Engine) queueSpec(queueID string) events.QueueSpec {
	if p := e.livePolicy(events.KindQueue, queueID); p != nil {
		return *p.queue
	}
	return events.QueueSpec{}
}

// distributionOf is the distribution a queue uses: its distribution policy, or the
// defaults (longest idle, one offer at a time) when it names none or one that does not
// exist (yet).
func (e *Engine) distributionOf(queueID string) distribution {
	d := distribution{mode: events.ModeLongestIdle, min: 1, max: 1}
	id := e.queueSpec(queueID).DistributionPolicyID
	if id == "" {
		return d
	}
	p := e.livePolicy(events.KindDistributionPolicy, id)
	if p == nil {
		return d
	}
	m := p.dist.Mode
	d.mode, d.bypass, d.offerExpiry, d.scoring = m.Kind, m.BypassSelectors, p.dist.OfferExpiresAfterSeconds, p.scoring
	d.unavailableOnExpiry = p.dist.ExpiredOfferMakesWorkerUnavailable
	if m.MinConcurrentOffers > 0 {
		d.min = m.MinConcurrentOffers
	}
	if m.MaxConcurrentOffers > 0 {
		d.max = m.MaxConcurrentOffers
	}
	if d.min > d.max {
		d.min = d.max
	}
	return d
}

// decodeSpec decodes and validates a policy spec of a kind, and returns it with its
// canonical JSON (for comparing specs).
func decodeSpec(kind events.PolicyKind, raw json.RawMessage) (*policy, error) {
	p := &policy{}
	var v any
	switch kind {
	case events.KindQueue:
		p.queue = &events.QueueSpec{}
		v = p.queue
	case events.KindDistributionPolicy:
		p.dist = &events.DistributionPolicySpec{}
		v = p.dist
	case events.KindWorkflow:
		p.wfSpec = &events.WorkflowSpec{}
		v = p.wfSpec
	case events.KindExceptionPolicy:
		p.exc = &events.ExceptionPolicySpec{}
		v = p.exc
	case events.KindClassificationPolicy:
		p.clsSpec = &events.ClassificationPolicySpec{}
		v = p.clsSpec
	case events.KindActivity:
		p.act = &events.ActivitySpec{}
		v = p.act
	default:
		return nil, events.Errorf(events.CodeInvalidData, "kind", "kind %q is not one of %v", kind, events.PolicyKinds())
	}
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, events.Errorf(events.CodeInvalidData, "spec", "spec is required")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, events.Errorf(events.CodeInvalidData, "spec", "spec is not a %s: %v", kind, err)
	}
	var err error
	switch {
	case p.queue != nil:
		err = validateQueueSpec(p.queue)
	case p.dist != nil:
		if err = validateDistributionSpec(p.dist); err == nil {
			p.scoring, err = compileScoring(p.dist.Mode)
		}
	case p.exc != nil:
		err = validateExceptionSpec(p.exc)
	case p.clsSpec != nil:
		p.cls, err = compileClassification(p.clsSpec)
	case p.act != nil:
		err = validateActivitySpec(raw)
	default:
		p.wf, err = compileWorkflow(p.wfSpec)
	}
	if err != nil {
		return nil, err
	}
	p.Spec = mustJSON(v)
	return p, nil
}

func validateQueueSpec(s *events.QueueSpec) error {
	if s.DistributionPolicyID != "" {
		if err := events.CheckID("spec/distributionPolicyId", s.DistributionPolicyID); err != nil {
			return err
		}
	}
	if s.ExceptionPolicyID != "" {
		if err := events.CheckID("spec/exceptionPolicyId", s.ExceptionPolicyID); err != nil {
			return err
		}
	}
	switch s.Order {
	case "", events.OrderFIFO, events.OrderLIFO:
	default:
		return events.Errorf(events.CodeInvalidData, "spec/order", "spec/order %q must be %q or %q", s.Order, events.OrderFIFO, events.OrderLIFO)
	}
	return validateLabels("spec/labels", s.Labels)
}

func validateDistributionSpec(s *events.DistributionPolicySpec) error {
	if s.OfferExpiresAfterSeconds < 0 || s.OfferExpiresAfterSeconds > maxOfferExpirySeconds {
		return events.Errorf(events.CodeInvalidData, "spec/offerExpiresAfterSeconds",
			"spec/offerExpiresAfterSeconds must be between 0 and %d (got %g)", maxOfferExpirySeconds, s.OfferExpiresAfterSeconds)
	}
	m := s.Mode
	switch m.Kind {
	case events.ModeLongestIdle, events.ModeRoundRobin, events.ModeBestWorker:
	case "":
		return events.Errorf(events.CodeInvalidData, "spec/mode/kind", "spec/mode/kind is required (%s, %s or %s)", events.ModeLongestIdle, events.ModeRoundRobin, events.ModeBestWorker)
	default:
		return events.Errorf(events.CodeInvalidData, "spec/mode/kind", "spec/mode/kind %q must be %s, %s or %s", m.Kind, events.ModeLongestIdle, events.ModeRoundRobin, events.ModeBestWorker)
	}
	if m.MinConcurrentOffers < 0 || m.MinConcurrentOffers > maxConcurrentOffersLimit {
		return events.Errorf(events.CodeInvalidData, "spec/mode/minConcurrentOffers", "spec/mode/minConcurrentOffers must be between 0 and %d (got %d)", maxConcurrentOffersLimit, m.MinConcurrentOffers)
	}
	if m.MaxConcurrentOffers < 0 || m.MaxConcurrentOffers > maxConcurrentOffersLimit {
		return events.Errorf(events.CodeInvalidData, "spec/mode/maxConcurrentOffers", "spec/mode/maxConcurrentOffers must be between 0 and %d (got %d)", maxConcurrentOffersLimit, m.MaxConcurrentOffers)
	}
	if max := max(m.MaxConcurrentOffers, 1); m.MinConcurrentOffers > max {
		return events.Errorf(events.CodeInvalidData, "spec/mode/minConcurrentOffers", "spec/mode/minConcurrentOffers (%d) must not exceed maxConcurrentOffers (%d; 1 when unset)", m.MinConcurrentOffers, max)
	}
	return nil
}

// compileScoring compiles a best-worker scoring rule.
func compileScoring(m events.DistributionMode) ([]scoringTerm, error) {
	if len(m.ScoringRule) > 0 && m.Kind != events.ModeBestWorker {
		return nil, events.Errorf(events.CodeInvalidData, "spec/mode/scoringRule", "spec/mode/scoringRule applies to the %s mode only", events.ModeBestWorker)
	}
	var out []scoringTerm
	for i, t := range m.ScoringRule {
		e, err := compileExpr(fmt.Sprintf("spec/mode/scoringRule/%d/expression", i), t.Expression, true)
		if err != nil {
			return nil, err
		}
		out = append(out, scoringTerm{expr: e, weight: t.Weight})
	}
	return out, nil
}

// checkRevision refuses a command that names a revision other than the current one
// (0 for a policy that does not exist, or was deleted).
func checkRevision(cur *policy, want *uint64, kind events.PolicyKind, id string) error {
	if want == nil {
		return nil
	}
	var have uint64
	if cur != nil && !cur.Deleted {
		have = cur.Revision
	}
	if *want != have {
		return events.Errorf(events.CodeRevisionMismatch, "revision", "%s %q is at revision %d, not %d", kind, id, have, *want)
	}
	return nil
}

func (e *Engine) putPolicy(_ Command, d *events.PolicyPut) error {
	if err := events.CheckID("id", d.ID); err != nil {
		return err
	}
	p, err := decodeSpec(d.Kind, d.Spec)
	if err != nil {
		return err
	}
	key := policyKey(d.Kind, d.ID)
	cur := e.policies[key]
	if d.Kind == events.KindActivity {
		if err := e.checkActivityPut(d.ID, p, cur); err != nil {
			return err
		}
	}
	if err := checkRevision(cur, d.Revision, d.Kind, d.ID); err != nil {
		return err
	}
	if cur != nil && !cur.Deleted && bytes.Equal(cur.Spec, p.Spec) {
		e.res.Reply = &events.CommandResult{PolicyKind: d.Kind, PolicyID: d.ID, Revision: cur.Revision, Duplicate: true}
		return nil
	}
	p.Kind, p.ID, p.UpdatedAt, p.Revision = d.Kind, d.ID, e.now, 1
	if cur != nil {
		p.Revision = cur.Revision + 1
	}
	e.policies[key] = p
	e.policyChanged(p, cur)
	e.emit(events.PolicySubject(p.Kind, p.ID, events.TypePolicyUpdated), events.TypePolicyUpdated, key, p.Policy)
	e.res.Reply = &events.CommandResult{PolicyKind: p.Kind, PolicyID: p.ID, Revision: p.Revision}
	return nil
}

func (e *Engine) deletePolicy(_ Command, d *events.PolicyDelete) error {
	if err := events.CheckID("id", d.ID); err != nil {
		return err
	}
	key := policyKey(d.Kind, d.ID)
	cur := e.policies[key]
	if d.Kind == events.KindActivity {
		if err := e.checkActivityDelete(d.ID); err != nil {
			return err
		}
	}
	if cur == nil || cur.Deleted {
		return events.Errorf(events.CodeUnknownPolicy, "id", "no %s %q", d.Kind, d.ID)
	}
	if err := checkRevision(cur, d.Revision, d.Kind, d.ID); err != nil {
		return err
	}
	users := e.queuesUsing(d.ID)
	if d.Kind == events.KindExceptionPolicy {
		users = e.queuesUsingException(d.ID)
	}
	if (d.Kind == events.KindDistributionPolicy || d.Kind == events.KindExceptionPolicy) && len(users) > 0 {
		sort.Strings(users)
		return events.Errorf(events.CodePolicyInUse, "id", "%s %q is used by queue %q", d.Kind, d.ID, users[0])
	}
	// Keep a tombstone so that the policy, created again, continues its revisions.
	gone := &policy{Policy: cur.Policy}
	gone.Revision++
	gone.UpdatedAt, gone.Deleted = e.now, true
	e.policies[key] = gone
	e.policyChanged(gone, cur)
	e.emit(events.PolicySubject(cur.Kind, cur.ID, events.TypePolicyDeleted), events.TypePolicyDeleted, key, gone.Policy)
	e.res.Reply = &events.CommandResult{PolicyKind: cur.Kind, PolicyID: cur.ID, Revision: gone.Revision}
	return nil
}

// checkQueue has the exception policy of a queue looked at for each of its jobs.
func (e *Engine) checkQueue(queueID string) {
	for _, j := range e.queue(queueID).jobs {
		e.checkJobs[j.JobID] = true
	}
}

// queuesUsing lists the queues whose policy names a distribution policy.
func (e *Engine) queuesUsing(distID string) []string {
	var out []string
	for _, p := range e.policies {
		if !p.Deleted && p.queue != nil && p.queue.DistributionPolicyID == distID {
			out = append(out, p.ID)
		}
	}
	sort.Strings(out)
	return out
}

// policyChanged records the KV write and applies the change to the queues it touches:
// a queue's order, and the matching of every queue the policy governs.
func (e *Engine) policyChanged(now, was *policy) {
	p := now
	if p == nil {
		p = was
	}
	e.dirtyPolicy[policyKey(p.Kind, p.ID)] = true
	switch p.Kind {
	case events.KindQueue:
		e.queue(p.ID).setOrder(e.queueSpec(p.ID).Order == events.OrderLIFO)
		e.emptied[p.ID] = true // not kept if it has no jobs
		e.touched[p.ID] = true
		e.checkQueue(p.ID)
	case events.KindExceptionPolicy:
		for _, q := range e.queuesUsingException(p.ID) {
			e.checkQueue(q)
		}
	case events.KindDistributionPolicy:
		for _, q := range e.queuesUsing(p.ID) {
			e.touched[q] = true
		}
	}
}

// livePolicy is a policy that exists (nil when it never did or was deleted).
func (e *Engine) livePolicy(kind events.PolicyKind, id string) *policy {
	if p := e.policies[policyKey(kind, id)]; p != nil && !p.Deleted {
		return p
	}
	return nil
}

// Policy returns a stored policy.
func (e *Engine) Policy(kind events.PolicyKind, id string) (events.Policy, bool) {
	p := e.livePolicy(kind, id)
	if p == nil {
		return events.Policy{}, false
	}
	return p.Policy, true
}

func loadPolicy(v []byte) (*policy, error) {
	var stored events.Policy
	if err := json.Unmarshal(v, &stored); err != nil {
		return nil, err
	}
	if stored.Deleted {
		return &policy{Policy: stored}, nil
	}
	p, err := decodeSpec(stored.Kind, stored.Spec)
	if err != nil {
		return nil, fmt.Errorf("stored %s %q: %w", stored.Kind, stored.ID, err)
	}
	p.Policy = stored
	return p, nil
}
