package azapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/patchbay/patchbay"
)

// policyRoutes are the get, upsert, delete and list operations of each policy kind.
func (a *api) policyRoutes() []route {
	var out []route
	for _, k := range policyKinds {
		k := k
		one := "/routing/" + k.collection + "/{" + k.param + "}"
		out = append(out,
			route{"GET", "/routing/" + k.collection, func(w http.ResponseWriter, r *http.Request, _ params) error { return a.policyList(w, r, k) }},
			route{"GET", one, func(w http.ResponseWriter, r *http.Request, p params) error { return a.policyGet(w, r, k, p[k.param]) }},
			route{"PATCH", one, func(w http.ResponseWriter, r *http.Request, p params) error {
				return a.policyUpsert(w, r, k, p[k.param])
			}},
			route{"DELETE", one, func(w http.ResponseWriter, r *http.Request, p params) error {
				return a.policyDelete(w, r, k, p[k.param])
			}},
		)
	}
	return out
}

// policyView is a policy's Azure representation with its id and etag.
func policyView(k policyKind, info *patchbay.PolicyInfo) (map[string]any, string, error) {
	v, lossy, err := k.toAzure(info.Spec)
	if err != nil {
		return nil, "", err
	}
	m, err := toMap(v)
	if err != nil {
		return nil, "", err
	}
	m["id"] = info.ID
	m["etag"] = revisionETag(info.Revision)
	return m, lossy, nil
}

func (a *api) getPolicy(r *http.Request, k policyKind, id string) (*patchbay.PolicyInfo, error) {
	info, err := a.c.GetPolicy(r.Context(), k.kind, id)
	if errors.Is(err, patchbay.ErrUnknownPolicy) {
		return nil, nil
	}
	return info, err
}

func (a *api) writePolicy(w http.ResponseWriter, status int, k policyKind, info *patchbay.PolicyInfo) error {
	m, _, err := policyView(k, info)
	if err != nil {
		return err
	}
	w.Header().Set("Last-Modified", info.UpdatedAt.UTC().Format(http.TimeFormat))
	return writeJSON(w, status, m, revisionETag(info.Revision))
}

func (a *api) policyGet(w http.ResponseWriter, r *http.Request, k policyKind, id string) error {
	info, err := a.getPolicy(r, k, id)
	if err != nil {
		return err
	}
	if info == nil {
		return notFound(k.what, id)
	}
	return a.writePolicy(w, http.StatusOK, k, info)
}

// upsertAttempts bounds the read-merge-put rounds of an upsert without If-Match that
// another writer keeps overtaking.
const upsertAttempts = 3

// policyUpsert reads the policy, applies the merge patch to its Azure representation
// and puts the result at the revision it read, so the change is atomic: with
// If-Match, a policy changed since is 412; without, the upsert is tried again on
// the new revision.
func (a *api) policyUpsert(w http.ResponseWriter, r *http.Request, k policyKind, id string) error {
	pre, patch, err := readUpsert(w, r)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		cur, err := a.getPolicy(r, k, id)
		if err != nil {
			return err
		}
		etag := ""
		old := map[string]any{}
		var rev uint64
		var spec []byte
		if cur != nil {
			var lossy string
			if old, lossy, err = policyView(k, cur); err != nil {
				return err
			}
			if lossy != "" {
				return &apiError{status: http.StatusConflict, code: "Conflict",
					msg: fmt.Sprintf("%s %q uses what the Azure API cannot express (%s): change it with policy.put", k.what, id, lossy)}
			}
			etag, rev, spec = revisionETag(cur.Revision), cur.Revision, cur.Spec
			delete(old, "id")
			delete(old, "etag")
		}
		if err := pre.check(etag); err != nil {
			return err
		}
		merged := mergePatch(old, patch).(map[string]any)
		if err := checkID(merged, id); err != nil {
			return err
		}
		next, err := k.fromAzure(mustJSON(merged), spec)
		if err != nil {
			return err
		}
		_, err = a.c.PutPolicy(r.Context(), k.kind, id, next, &rev)
		if errors.Is(err, patchbay.ErrRevisionMismatch) && !pre.set && attempt < upsertAttempts {
			continue
		}
		if err != nil {
			return err
		}
		info, err := a.getPolicy(r, k, id)
		if err != nil {
			return err
		}
		if info == nil {
			return notFound(k.what, id)
		}
		status := http.StatusOK
		if cur == nil {
			status = http.StatusCreated
		}
		return a.writePolicy(w, status, k, info)
	}
}

// policyDelete deletes a policy; deleting one that does not exist is 204 too.
func (a *api) policyDelete(w http.ResponseWriter, r *http.Request, k policyKind, id string) error {
	_, err := a.c.DeletePolicy(r.Context(), k.kind, id, nil)
	if err != nil && !errors.Is(err, patchbay.ErrUnknownPolicy) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) policyList(w http.ResponseWriter, r *http.Request, k policyKind) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	list, err := a.c.ListPolicies(r.Context(), k.kind, patchbay.ListOptions{Limit: pg.size, After: pg.after})
	if err != nil {
		return err
	}
	items := []any{}
	for i := range list.Policies {
		m, _, err := policyView(k, &list.Policies[i])
		if err != nil {
			return err
		}
		items = append(items, m)
	}
	return writePage(w, r, items, list.Next)
}
