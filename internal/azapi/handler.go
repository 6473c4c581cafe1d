package azapi

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
)

// APIVersion is the one api-version served: the query parameter is required and must
// be exactly this.
const APIVersion = "2023-11-01"

// Prefix is where the API is mounted.
const Prefix = "/routing/"

// MaxBodyBytes bounds a request body. A command must fit in one NATS message of
// events.MaxMessageBytes (64 KiB) anyway, so a larger body could never be applied.
const MaxBodyBytes = events.MaxMessageBytes

// Option configures the handler.
type Option func(*api)

// WithToken makes every request carry "Authorization: Bearer <token>"; others are
// answered 401. Empty means no check (put the API behind your own authentication).
func WithToken(token string) Option { return func(a *api) { a.token = token } }

// Handler serves the Azure-compatible API with c's commands and queries. Mount it at
// Prefix (it answers only paths under it).
func Handler(c *patchbay.Client, opts ...Option) http.Handler {
	a := &api{c: c, offers: newOfferCache(offerCacheSize)}
	for _, o := range opts {
		o(a)
	}
	a.routes = a.table()
	return a
}

// Mount serves the API under Prefix and everything else with next: the one line
// that puts the API on an existing listener.
func Mount(next, api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(Prefix, api)
	mux.Handle("/", next)
	return mux
}

type api struct {
	c      *patchbay.Client
	token  string
	offers *offerCache
	routes []route
}

// route is one operation: a method and a path template as in schemas/openapi.yaml,
// e.g. /routing/jobs/{jobId}:cancel.
type route struct {
	method string
	path   string
	h      func(w http.ResponseWriter, r *http.Request, p params) error
}

// params are a request's path parameters by name.
type params map[string]string

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := a.serve(w, r); err != nil {
		writeError(w, err)
	}
}

func (a *api) serve(w http.ResponseWriter, r *http.Request) error {
	if a.token != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(a.token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="patchbay"`)
			return &apiError{status: http.StatusUnauthorized, code: "Unauthorized", msg: "a valid bearer token is required"}
		}
	}
	segs := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	var allowed []string
	for _, rt := range a.routes {
		p, ok := match(rt.path, segs)
		if !ok {
			continue
		}
		if rt.method != r.Method {
			allowed = append(allowed, rt.method)
			continue
		}
		if err := checkAPIVersion(r); err != nil {
			return err
		}
		for name, v := range p {
			if err := events.CheckID(name, v); err != nil {
				return badRequest(name, "%s", err.Error())
			}
		}
		return rt.h(w, r, p)
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		return &apiError{status: http.StatusMethodNotAllowed, code: "MethodNotAllowed", msg: fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)}
	}
	return &apiError{status: http.StatusNotFound, code: "NotFound", msg: fmt.Sprintf("no operation at %s", r.URL.Path)}
}

// match matches path segments against a template; a template segment is a literal,
// a parameter ({jobId}) or a parameter with an action suffix ({jobId}:cancel).
func match(template string, segs []string) (params, bool) {
	ts := strings.Split(strings.TrimPrefix(template, "/"), "/")
	if len(ts) != len(segs) {
		return nil, false
	}
	var p params
	for i, t := range ts {
		s := segs[i]
		if !strings.HasPrefix(t, "{") {
			if t != s {
				return nil, false
			}
			continue
		}
		end := strings.Index(t, "}")
		name, suffix := t[1:end], t[end+1:]
		v, ok := strings.CutSuffix(s, suffix)
		if !ok || v == "" || (suffix == "" && strings.Contains(s, ":")) {
			return nil, false
		}
		if p == nil {
			p = params{}
		}
		p[name] = v
	}
	return p, true
}

func checkAPIVersion(r *http.Request) error {
	v, ok := r.URL.Query()["api-version"]
	switch {
	case !ok || len(v) == 0 || v[0] == "":
		return &apiError{status: http.StatusBadRequest, code: "MissingApiVersionParameter", target: "api-version",
			msg: "the api-version query parameter is required (api-version=" + APIVersion + ")"}
	case len(v) > 1 || v[0] != APIVersion:
		return &apiError{status: http.StatusBadRequest, code: "UnsupportedApiVersion", target: "api-version",
			msg: fmt.Sprintf("api-version %q is not supported; the supported version is %s", strings.Join(v, ","), APIVersion)}
	}
	return nil
}

// readBody reads a request body of at most MaxBodyBytes. An empty body is nil. With
// patch, the content type must be application/merge-patch+json (or application/json).
func readBody(w http.ResponseWriter, r *http.Request, patch bool) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: "RequestEntityTooLarge",
				msg: fmt.Sprintf("the request body is over %d bytes", MaxBodyBytes)}
		}
		return nil, badRequest("", "reading the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if patch {
			return nil, badRequest("", "the request body is empty: send a JSON merge patch")
		}
		return nil, nil
	}
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	if mt != "application/json" && mt != "application/merge-patch+json" {
		return nil, &apiError{status: http.StatusUnsupportedMediaType, code: "UnsupportedMediaType",
			msg: fmt.Sprintf("content type %q: send application/merge-patch+json (upserts) or application/json", ct)}
	}
	return body, nil
}

// decodeStrict decodes a JSON object into v, refusing unknown fields, trailing data
// and wrong types with a message naming the field.
func decodeStrict(body []byte, v any) error {
	if body == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return badRequest("", "the request body holds more than one JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := strings.ReplaceAll(te.Field, ".", "/")
		return badRequest(field, "%s: expected %s, got a JSON %s", field, te.Type, te.Value)
	case errors.As(err, &se):
		return badRequest("", "the request body is not JSON: %v (at byte %d)", se, se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest(name, "unknown field %q: patchbay has no equivalent for it", name)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "the request body is truncated JSON")
	}
	return badRequest("", "the request body: %v", err)
}

// writeJSON answers status with v as JSON, and the ETag header when etag is set.
func writeJSON(w http.ResponseWriter, status int, v any, etag string) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// empty is the body of an action's answer that carries nothing (CancelJobResult, ...).
var empty = struct{}{}
