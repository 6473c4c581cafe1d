package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	jsoniter "github.com/json-iterator/go"
)

// Event is a CloudEvent (sdk-go's model).
type Event = cloudevents.Event

// Content types.
const (
	ContentTypeJSON       = "application/json"
	ContentTypeCloudEvent = "application/cloudevents+json"
)

// RouterSource is the CloudEvent source of every event the router publishes.
const RouterSource = "/patchbay/router"

// New builds a CloudEvent 1.0 with JSON data.
func New(t Type, id, source, subject string, at time.Time, data any) (Event, error) {
	e := cloudevents.New(cloudevents.CloudEventsVersionV1)
	e.SetID(id)
	e.SetType(string(t))
	e.SetSource(source)
	if subject != "" {
		e.SetSubject(subject)
	}
	e.SetTime(at.UTC())
	if err := e.SetData(ContentTypeJSON, data); err != nil {
		return e, fmt.Errorf("encode %s data: %w", t, err)
	}
	return e, e.Validate()
}

// Structured encodes e in the structured content mode: the whole event as a JSON body
// (send it with Content-Type application/cloudevents+json).
func Structured(e Event) ([]byte, error) { return json.Marshal(e) }

// Binary encodes e in the binary content mode: attributes as ce- headers, data as body.
func Binary(e Event) (map[string][]string, []byte) {
	h := map[string][]string{
		"ce-specversion": {e.SpecVersion()},
		"ce-id":          {e.ID()},
		"ce-type":        {e.Type()},
		"ce-source":      {e.Source()},
	}
	if s := e.Subject(); s != "" {
		h["ce-subject"] = []string{s}
	}
	if !e.Time().IsZero() {
		h["ce-time"] = []string{e.Time().UTC().Format(time.RFC3339Nano)}
	}
	if ct := e.DataContentType(); ct != "" {
		h["Content-Type"] = []string{ct}
	}
	if ds := e.DataSchema(); ds != "" {
		h["ce-dataschema"] = []string{ds}
	}
	for k, v := range e.Extensions() {
		s, err := types.Format(v)
		if err != nil {
			s = fmt.Sprint(v)
		}
		h["ce-"+k] = []string{s}
	}
	return h, e.Data()
}

// Decode reads a CloudEvent from a NATS message in either content mode: binary when a
// ce-specversion header is present, structured (JSON body) otherwise. The error is an
// *Error with CodeMalformed saying what is wrong.
func Decode(header map[string][]string, body []byte) (Event, error) {
	h := lowerKeys(header)
	if _, ok := h["ce-specversion"]; ok {
		return decodeBinary(h, body)
	}
	var e Event
	if len(bytes.TrimSpace(body)) == 0 {
		return e, Errorf(CodeMalformed, "", "empty message: expected a CloudEvent (structured JSON body, or ce- headers)")
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return e, Errorf(CodeMalformed, "", "not a structured CloudEvent: %v", err)
	}
	if v := e.SpecVersion(); v != cloudevents.CloudEventsVersionV1 {
		return e, Errorf(CodeMalformed, "specversion", "unsupported specversion %q (want 1.0)", v)
	}
	if err := e.Validate(); err != nil {
		return e, Errorf(CodeMalformed, "", "invalid CloudEvent: %v", err)
	}
	return e, nil
}

func decodeBinary(h map[string]string, body []byte) (Event, error) {
	e := cloudevents.New(h["ce-specversion"])
	if h["ce-specversion"] != cloudevents.CloudEventsVersionV1 {
		return e, Errorf(CodeMalformed, "ce-specversion", "unsupported ce-specversion %q (want 1.0)", h["ce-specversion"])
	}
	for k, v := range h {
		if !strings.HasPrefix(k, "ce-") {
			continue
		}
		name := k[3:]
		switch name {
		case "specversion":
		case "id":
			e.SetID(v)
		case "type":
			e.SetType(v)
		case "source":
			e.SetSource(v)
		case "subject":
			e.SetSubject(v)
		case "dataschema":
			e.SetDataSchema(v)
		case "datacontenttype":
			e.SetDataContentType(v)
		case "time":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return e, Errorf(CodeMalformed, "ce-time", "ce-time %q is not an RFC 3339 time", v)
			}
			e.SetTime(t)
		default:
			e.SetExtension(name, v)
		}
	}
	ct := h["content-type"]
	if ct == "" {
		ct = h["ce-datacontenttype"]
	}
	if ct == "" {
		ct = ContentTypeJSON
	}
	e.SetDataContentType(ct)
	if len(body) > 0 {
		e.DataEncoded = append([]byte(nil), body...)
	}
	if err := e.Validate(); err != nil {
		return e, Errorf(CodeMalformed, "", "invalid CloudEvent: %v", err)
	}
	return e, nil
}

func lowerKeys(header map[string][]string) map[string]string {
	out := make(map[string]string, len(header))
	for k, v := range header {
		if len(v) > 0 {
			out[strings.ToLower(k)] = v[0]
		}
	}
	return out
}

// DecodeData unmarshals e's JSON data into v, refusing unknown fields so that a
// misspelt field is reported rather than ignored.
func DecodeData(e Event, v any) error {
	ct := e.DataContentType()
	if ct != "" && !strings.HasPrefix(ct, ContentTypeJSON) && !strings.HasSuffix(strings.SplitN(ct, ";", 2)[0], "+json") {
		return Errorf(CodeInvalidData, "datacontenttype", "data content type %q is not JSON", ct)
	}
	data := bytes.TrimSpace(e.Data())
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return Errorf(CodeInvalidData, "data", "the event has no data")
	}
	dec := strictJSON.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return Errorf(CodeInvalidData, "data", "data does not match %s: %v", e.Type(), err)
	}
	if dec.More() {
		return Errorf(CodeInvalidData, "data", "data has more than one JSON value")
	}
	return nil
}

// strictJSON matches field names exactly (encoding/json ignores case) and refuses
// unknown fields, so "WORKERID" cannot stand in for "workerId".
var strictJSON = jsoniter.Config{CaseSensitive: true, DisallowUnknownFields: true, UseNumber: false}.Froze()
