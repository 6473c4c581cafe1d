package matcher

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/patchbay/patchbay/events"
)

// maxApplyProblems is the most problems a refused policy.apply lists (the rest are
// counted in its message), and maxProblemBytes the longest message of one, so that
// the refusal always fits in one message: 64 × 512 bytes, twice (in Problems and in
// the message), is 64 KiB before JSON escaping.
const (
	maxApplyProblems = 64
	maxProblemBytes  = 512
)

// applyItem is one policy a policy.apply changes: a put (p set) or a delete.
type applyItem struct {
	kind   events.PolicyKind
	id     string
	field  string  // where the command names it: "puts/3", "deletes/0" or "prune"
	p      *policy // the new policy of a put; nil for a delete
	cur    *policy // the stored record (live or deleted), nil when there is none
	action string  // events.PolicyCreated, ...
}

// applyPlan is a policy.apply validated against the engine's state: what it changes,
// or every problem it has.
type applyPlan struct {
	items    []applyItem
	problems []*events.Error
	// final holds the live policies once the whole apply is done, by key.
	final map[string]*policy
	// invalid are the keys of puts whose spec was refused: a reference to one is
	// not reported again.
	invalid map[string]bool
	// deleted are the keys the apply deletes: a put naming one is reported at the
	// delete (policy_in_use), not again as a missing reference.
	deleted map[string]bool
}

func (pl *applyPlan) problem(field string, kind events.PolicyKind, id string, err error) {
	pe := events.AsError(err)
	if len(pe.Problems) > 0 { // a spec with several problems: each is one
		for _, sub := range pe.Problems {
			pl.problem(field, kind, id, sub)
		}
		return
	}
	out := &events.Error{Code: pe.Code, Field: field, Message: pe.Message}
	if pe.Field != "" {
		out.Field = field + "/" + pe.Field
	}
	if kind != "" || id != "" {
		out.Message = fmt.Sprintf("%s (%s %q): %s", field, kind, id, pe.Message)
	} else {
		out.Message = field + ": " + pe.Message
	}
	if len(out.Message) > maxProblemBytes {
		cut := maxProblemBytes
		for cut > 0 && !utf8.RuneStart(out.Message[cut]) {
			cut--
		}
		out.Message = out.Message[:cut] + "…"
	}
	pl.problems = append(pl.problems, out)
}

// applyPolicies applies io.patchbay.policy.apply: every change is validated against
// the state the whole apply leads to, and either all are made or none (design.md,
// invariant 23).
func (e *Engine) applyPolicies(_ Command, d *events.PolicyApply) error {
	pl := e.planApply(d)
	if len(pl.problems) > 0 {
		return applyRefusal(pl.problems)
	}
	reply := &events.CommandResult{DryRun: d.DryRun, Policies: []events.PolicyChange{}}
	for _, it := range pl.items {
		reply.Policies = append(reply.Policies, events.PolicyChange{Kind: it.kind, ID: it.id, Action: it.action, Revision: it.revision()})
	}
	e.res.Reply = reply
	if d.DryRun {
		return nil
	}
	// Store every change first, then let each take effect: a queue's order, its
	// distribution and exception policies are read from the final state.
	type change struct{ now, was *policy }
	var changes []change
	for _, it := range pl.items {
		if it.action == events.PolicyUnchanged {
			continue
		}
		key := policyKey(it.kind, it.id)
		now := it.p
		if now == nil {
			now = &policy{Policy: it.cur.Policy}
			now.Deleted = true
		}
		now.Kind, now.ID, now.UpdatedAt, now.Revision = it.kind, it.id, e.now, it.revision()
		e.policies[key] = now
		changes = append(changes, change{now, it.cur})
	}
	for _, c := range changes {
		e.policyChanged(c.now, c.was)
		t := events.TypePolicyUpdated
		if c.now.Deleted {
			t = events.TypePolicyDeleted
		}
		e.emit(events.PolicySubject(c.now.Kind, c.now.ID, t), t, policyKey(c.now.Kind, c.now.ID), c.now.Policy)
	}
	return nil
}

// revision is the policy's revision after the item: the stored one for an unchanged
// put, one more otherwise (a policy created again continues from its deletion).
func (it applyItem) revision() uint64 {
	var cur uint64
	if it.cur != nil {
		cur = it.cur.Revision
	}
	if it.action == events.PolicyUnchanged {
		return cur
	}
	return cur + 1
}

// planApply validates a policy.apply as a whole: each put's spec, revision and (for
// activities) flag; each delete; the prune; the count; then the references between
// the policies as they would be once everything is applied.
func (e *Engine) planApply(d *events.PolicyApply) *applyPlan {
	pl := &applyPlan{final: map[string]*policy{}, invalid: map[string]bool{}, deleted: map[string]bool{}}
	for k, p := range e.policies {
		if !p.Deleted {
			pl.final[k] = p
		}
	}
	named := map[string]string{} // key -> where the command names it
	once := func(field string, kind events.PolicyKind, id string) bool {
		key := policyKey(kind, id)
		if at, dup := named[key]; dup {
			pl.problem(field, kind, id, events.Errorf(events.CodeInvalidData, "id", "%s %q is also at %s: a policy may appear once in an apply", kind, id, at))
			return false
		}
		named[key] = field
		return true
	}
	for i, put := range d.Puts {
		field := fmt.Sprintf("puts/%d", i)
		if err := events.CheckID("id", put.ID); err != nil {
			pl.problem(field, put.Kind, put.ID, err)
			continue
		}
		if !once(field, put.Kind, put.ID) {
			continue
		}
		key := policyKey(put.Kind, put.ID)
		cur := e.policies[key]
		p, err := decodeSpec(put.Kind, put.Spec)
		if err != nil {
			pl.problem(field, put.Kind, put.ID, err)
			pl.invalid[key] = true
			delete(pl.final, key)
			continue
		}
		if put.Kind == events.KindActivity {
			if err := e.checkActivityPut(put.ID, p, cur); err != nil {
				pl.problem(field, put.Kind, put.ID, err)
			}
		}
		if err := checkRevision(cur, put.Revision, put.Kind, put.ID); err != nil {
			pl.problem(field, put.Kind, put.ID, err)
		}
		p.Kind, p.ID = put.Kind, put.ID
		it := applyItem{kind: put.Kind, id: put.ID, field: field, p: p, cur: cur, action: events.PolicyCreated}
		switch {
		case cur != nil && !cur.Deleted && string(cur.Spec) == string(p.Spec):
			it.action = events.PolicyUnchanged
		case cur != nil && !cur.Deleted:
			it.action = events.PolicyUpdated
		}
		pl.final[key] = p
		pl.items = append(pl.items, it)
	}
	for i, del := range d.Deletes {
		field := fmt.Sprintf("deletes/%d", i)
		if err := events.CheckID("id", del.ID); err != nil {
			pl.problem(field, del.Kind, del.ID, err)
			continue
		}
		if !once(field, del.Kind, del.ID) {
			continue
		}
		key := policyKey(del.Kind, del.ID)
		cur := e.policies[key]
		if del.Kind == events.KindActivity {
			if err := e.checkActivityDelete(del.ID); err != nil {
				pl.problem(field, del.Kind, del.ID, err)
			}
		}
		if cur == nil || cur.Deleted {
			pl.problem(field, del.Kind, del.ID, events.Errorf(events.CodeUnknownPolicy, "id", "no %s %q", del.Kind, del.ID))
			continue
		}
		if err := checkRevision(cur, del.Revision, del.Kind, del.ID); err != nil {
			pl.problem(field, del.Kind, del.ID, err)
		}
		delete(pl.final, key)
		pl.deleted[key] = true
		pl.items = append(pl.items, applyItem{kind: del.Kind, id: del.ID, field: field, cur: cur, action: events.PolicyDeleted})
	}
	if d.Prune {
		keys := make([]string, 0, len(e.policies))
		for k, p := range e.policies {
			if _, kept := named[k]; !kept && !p.Deleted {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			cur := e.policies[k]
			if cur.Kind == events.KindActivity {
				if err := e.checkActivityDelete(cur.ID); err != nil {
					pl.problem("prune", cur.Kind, cur.ID, err)
				}
			}
			delete(pl.final, k)
			pl.deleted[k] = true
			pl.items = append(pl.items, applyItem{kind: cur.Kind, id: cur.ID, field: "prune", cur: cur, action: events.PolicyDeleted})
		}
	}
	if n := len(pl.items); n > events.MaxPolicyApplyItems {
		pl.problem("puts", "", "", events.Errorf(events.CodeInvalidData, "",
			"the apply changes %d policies (puts, deletes and pruned ones); the limit is %d: apply it in steps", n, events.MaxPolicyApplyItems))
	}
	pl.checkReferences()
	sort.SliceStable(pl.problems, func(i, j int) bool {
		a, b := problemOrder(pl.problems[i].Field), problemOrder(pl.problems[j].Field)
		return a[0] < b[0] || a[0] == b[0] && a[1] < b[1]
	})
	return pl
}

// problemOrder places a problem in the command: its section (puts, deletes, prune)
// and its index there, so that problems are listed in the order of the command.
func problemOrder(field string) [2]int {
	section, rest, _ := strings.Cut(field, "/")
	idx, _, _ := strings.Cut(rest, "/")
	n, _ := strconv.Atoi(idx)
	switch section {
	case "puts":
		return [2]int{0, n}
	case "deletes":
		return [2]int{1, n}
	}
	return [2]int{2, 0}
}

// checkReferences reports a put that names a policy the apply leaves missing, and a
// delete of a policy that a remaining one names.
func (pl *applyPlan) checkReferences() {
	for _, it := range pl.items {
		if it.p == nil {
			continue
		}
		switch {
		case it.p.queue != nil:
			pl.reference(it, "spec/distributionPolicyId", events.KindDistributionPolicy, it.p.queue.DistributionPolicyID)
			pl.reference(it, "spec/exceptionPolicyId", events.KindExceptionPolicy, it.p.queue.ExceptionPolicyID)
		case it.p.exc != nil:
			for r, rule := range it.p.exc.Rules {
				for a, act := range rule.Actions {
					pl.reference(it, fmt.Sprintf("spec/rules/%d/actions/%d/classificationPolicyId", r, a), events.KindClassificationPolicy, act.ClassificationPolicyID)
				}
			}
		}
	}
	for _, it := range pl.items {
		if it.p != nil {
			continue
		}
		if user := pl.userOf(it.kind, it.id); user != "" {
			field := it.field
			if field != "prune" {
				field += "/id"
			}
			pl.problems = append(pl.problems, &events.Error{Code: events.CodePolicyInUse, Field: field,
				Message: fmt.Sprintf("%s (%s %q): cannot be deleted: %s, which stays, names it", it.field, it.kind, it.id, user)})
		}
	}
}

// reference reports a put naming a policy of kind that the apply leaves missing (one
// whose own put was refused is reported there already).
func (pl *applyPlan) reference(it applyItem, field string, kind events.PolicyKind, id string) {
	if id == "" {
		return
	}
	key := policyKey(kind, id)
	if pl.final[key] != nil || pl.invalid[key] || pl.deleted[key] {
		return
	}
	pl.problem(it.field, it.kind, it.id, events.Errorf(events.CodeUnknownPolicy, field,
		"%s names %s %q, which neither exists nor is put by this apply", field, kind, id))
}

// userOf names a policy that stays after the apply and names kind/id ("" when none;
// the least key, for a deterministic answer).
func (pl *applyPlan) userOf(kind events.PolicyKind, id string) string {
	var users []string
	for k, p := range pl.final {
		switch {
		case kind == events.KindDistributionPolicy && p.queue != nil && p.queue.DistributionPolicyID == id,
			kind == events.KindExceptionPolicy && p.queue != nil && p.queue.ExceptionPolicyID == id:
			users = append(users, k)
		case kind == events.KindClassificationPolicy && p.exc != nil:
			for _, r := range p.exc.Rules {
				for _, a := range r.Actions {
					if a.ClassificationPolicyID == id {
						users = append(users, k)
					}
				}
			}
		}
	}
	if len(users) == 0 {
		return ""
	}
	sort.Strings(users)
	p := pl.final[users[0]]
	return fmt.Sprintf("%s %q", p.Kind, p.ID)
}

// applyRefusal is the refusal of a policy.apply: the first problem's code and field,
// and every problem (up to maxApplyProblems) in Problems and in the message.
func applyRefusal(problems []*events.Error) *events.Error {
	n := len(problems)
	listed := problems[:min(n, maxApplyProblems)]
	msgs := make([]string, len(listed))
	for i, p := range listed {
		msgs[i] = p.Message
	}
	what := "1 problem"
	if n > 1 {
		what = fmt.Sprintf("%d problems", n)
	}
	msg := fmt.Sprintf("policy apply refused, nothing changed (%s): %s", what, strings.Join(msgs, "; "))
	if n > len(listed) {
		msg += fmt.Sprintf("; and %d more", n-len(listed))
	}
	return &events.Error{Code: listed[0].Code, Field: listed[0].Field, Message: msg, Problems: listed}
}
