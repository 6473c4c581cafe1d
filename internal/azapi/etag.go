package azapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// hashETag is the strong ETag of a job or worker: the first 16 bytes of the SHA-256
// of the canonical JSON of its representation (without the etag; encoding/json sorts
// map keys, so equal representations hash the same).
func hashETag(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// revisionETag is the strong ETag of a policy or queue: its revision in the router.
func revisionETag(rev uint64) string { return `"` + strconv.FormatUint(rev, 10) + `"` }

// parseRevisionETag reads a revision ETag back; ok is false for anything else.
func parseRevisionETag(tag string) (uint64, bool) {
	rev, err := strconv.ParseUint(strings.Trim(tag, `"`), 10, 64)
	return rev, err == nil && strings.HasPrefix(tag, `"`) && strings.HasSuffix(tag, `"`)
}

// precondition is a request's If-Match: none, "*" (the entity must exist) or one tag.
type precondition struct {
	set  bool
	any  bool
	etag string
}

func ifMatch(r *http.Request) (precondition, error) {
	if r.Header.Get("If-Unmodified-Since") != "" {
		return precondition{}, badRequest("If-Unmodified-Since", "If-Unmodified-Since is not supported: use If-Match with the entity's ETag")
	}
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	switch {
	case v == "":
		return precondition{}, nil
	case v == "*":
		return precondition{set: true, any: true}, nil
	case strings.Contains(v, ","):
		return precondition{}, badRequest("If-Match", "If-Match takes one ETag (or *)")
	case strings.HasPrefix(v, "W/"):
		return precondition{}, badRequest("If-Match", "ETags are strong: a weak ETag never matches")
	}
	return precondition{set: true, etag: v}, nil
}

// check says whether the precondition holds for an entity with etag current ("" when
// it does not exist).
func (p precondition) check(current string) error {
	if !p.set || (p.any && current != "") || (!p.any && p.etag == current) {
		return nil
	}
	if current == "" {
		return preconditionFailed("the entity does not exist")
	}
	return preconditionFailed("the entity changed: its ETag is " + current + ", not " + p.etag)
}

func preconditionFailed(msg string) *apiError {
	return &apiError{status: http.StatusPreconditionFailed, code: "PreconditionFailed", target: "If-Match", msg: "If-Match: " + msg}
}
