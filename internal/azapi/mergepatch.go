package azapi

import (
	"encoding/json"
	"net/http"
)

// mergePatch applies an RFC 7396 JSON merge patch to target: an object patch merges
// member by member (a null member removes it), anything else replaces the target.
// Neither argument is modified. The recursion follows the target's nesting, which
// the router bounds (events.MaxJSONDepth).
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	out := make(map[string]any, len(t)+len(p))
	if ok {
		for k, v := range t {
			out[k] = v
		}
	}
	for k, v := range p {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = mergePatch(out[k], v)
	}
	return out
}

// toMap turns v into its generic JSON form (an object as map[string]any).
func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// parsePatch decodes a merge-patch body, which must be a JSON object.
func parsePatch(body []byte) (map[string]any, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, jsonError(err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, badRequest("", "the merge patch must be a JSON object")
	}
	return m, nil
}

// jsonMarshal is the one encoder of canonical JSON (sorted object keys).
var jsonMarshal = json.Marshal

// readUpsertOf reads an upsert of the entity get reads (nil while there is none) and
// checks the request's If-Match against the entity's ETag.
func readUpsertOf[T any](w http.ResponseWriter, r *http.Request, get func() (*T, error), etag func(*T) string) (*T, map[string]any, error) {
	pre, patch, err := readUpsert(w, r)
	if err != nil {
		return nil, nil, err
	}
	cur, err := get()
	if err != nil {
		return nil, nil, err
	}
	tag := ""
	if cur != nil {
		tag = etag(cur)
	}
	if err := pre.check(tag); err != nil {
		return nil, nil, err
	}
	return cur, patch, nil
}

// readUpsert reads an upsert request: its If-Match precondition and its merge patch.
func readUpsert(w http.ResponseWriter, r *http.Request) (precondition, map[string]any, error) {
	pre, err := ifMatch(r)
	if err != nil {
		return pre, nil, err
	}
	body, err := readBody(w, r, true)
	if err != nil {
		return pre, nil, err
	}
	patch, err := parsePatch(body)
	return pre, patch, err
}
