package azapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/patchbay/patchbay/events"
)

// apiError is an answer in Azure's error body:
// {"error": {"code", "message", "target", "innererror": {"code"}}}. The inner code is
// patchbay's own error code when the router refused the command.
type apiError struct {
	status int
	code   string
	msg    string
	target string
	inner  events.Code
}

func (e *apiError) Error() string { return e.msg }

func badRequest(target, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "BadRequest", target: target, msg: fmt.Sprintf(format, args...)}
}

// statusOf is the one table from patchbay's error codes to HTTP statuses and Azure
// error codes.
var statusOf = map[events.Code]struct {
	status int
	code   string
}{
	events.CodeMalformed:          {http.StatusBadRequest, "BadRequest"},
	events.CodeInvalidData:        {http.StatusBadRequest, "InvalidRequest"},
	events.CodeUnknownJob:         {http.StatusNotFound, "NotFound"},
	events.CodeUnknownWorker:      {http.StatusNotFound, "NotFound"},
	events.CodeUnknownOffer:       {http.StatusNotFound, "NotFound"},
	events.CodeUnknownPolicy:      {http.StatusNotFound, "NotFound"},
	events.CodeAssignmentMismatch: {http.StatusNotFound, "NotFound"},
	events.CodeNotYourOffer:       {http.StatusNotFound, "NotFound"},
	events.CodeAlreadyAssigned:    {http.StatusConflict, "Conflict"},
	events.CodeOfferExpired:       {http.StatusConflict, "Conflict"},
	events.CodeOfferRevoked:       {http.StatusConflict, "Conflict"},
	events.CodeOfferDeclined:      {http.StatusConflict, "Conflict"},
	events.CodeInvalidTransition:  {http.StatusConflict, "Conflict"},
	events.CodeJobExists:          {http.StatusConflict, "Conflict"},
	events.CodePolicyInUse:        {http.StatusConflict, "Conflict"},
	events.CodeRevisionMismatch:   {http.StatusPreconditionFailed, "PreconditionFailed"},
	events.CodeForbidden:          {http.StatusForbidden, "Forbidden"},
	events.CodeUnknownType:        {http.StatusInternalServerError, "InternalServerError"},
	events.CodeInternal:           {http.StatusInternalServerError, "InternalServerError"},
}

// asAPIError turns any error into an answer: an *apiError as it is, a router refusal
// by the table (a retryable one is 503), anything else (no router answered in time,
// the broker is down) 503.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var pe *events.Error
	if errors.As(err, &pe) {
		s, ok := statusOf[pe.Code]
		if !ok {
			s = statusOf[events.CodeInternal]
		}
		out := &apiError{status: s.status, code: s.code, msg: pe.Message, target: pe.Field, inner: pe.Code}
		if pe.Retryable {
			out.status, out.code = http.StatusServiceUnavailable, "ServiceUnavailable"
		}
		return out
	}
	return &apiError{status: http.StatusServiceUnavailable, code: "ServiceUnavailable", msg: "the router did not answer: " + err.Error()}
}

type errorBody struct {
	Error errorObject `json:"error"`
}

type errorObject struct {
	Code       string      `json:"code"`
	Message    string      `json:"message"`
	Target     string      `json:"target,omitempty"`
	InnerError *innerError `json:"innererror,omitempty"`
}

type innerError struct {
	Code string `json:"code"`
}

func writeError(w http.ResponseWriter, err error) {
	e := asAPIError(err)
	body := errorBody{Error: errorObject{Code: e.code, Message: e.msg, Target: e.target}}
	if e.inner != "" {
		body.Error.InnerError = &innerError{Code: string(e.inner)}
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-ms-error-code", e.code)
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}
