package events

import (
	"bytes"
	"encoding/json"
	"slices"
)

// referenceDecode is Decode as it was before the structured mode was read in one pass
// (decodeStructured): the body checked byte by byte for depth, decoded by
// encoding/json into a map and each attribute again (referenceCheckEnvelope), then
// parsed a third time by the SDK's reader. It is kept, unchanged, for the
// differential tests in decode_diff_test.go: Decode must give what it gives.
func referenceDecode(header map[string][]string, body []byte) (Event, error) {
	var e Event
	if err := checkSize(header, body); err != nil {
		return e, err
	}
	h := lowerKeys(header)
	if _, ok := h["ce-specversion"]; ok {
		return decodeBinary(h, body)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return e, Errorf(CodeMalformed, "", "empty message: expected a CloudEvent (structured JSON body, or ce- headers)")
	}
	if err := checkDepth(body, 1); err != nil {
		return e, err
	}
	if err := referenceCheckEnvelope(body); err != nil {
		return e, err
	}
	if err := referenceUnmarshalEvent(body, &e); err != nil {
		return e, err
	}
	if err := e.Validate(); err != nil {
		return e, Errorf(CodeMalformed, "", "invalid CloudEvent: %v", err)
	}
	// data_base64 hides the data from the scan of the body.
	if err := checkDepth(e.Data(), 0); err != nil {
		return e, err
	}
	return e, nil
}

// referenceCheckEnvelope is the old checkEnvelope: it checks the attributes of a
// structured CloudEvent one by one, so that an error names the attribute that is
// wrong.
func referenceCheckEnvelope(body []byte) error {
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(body, &attrs); err != nil {
		return Errorf(CodeMalformed, "", "not a structured CloudEvent (a JSON object): %v", err)
	}
	if attrs == nil {
		return Errorf(CodeMalformed, "", "not a structured CloudEvent (a JSON object): null")
	}
	missing := 0
	for _, name := range requiredAttributes {
		if _, ok := attrs[name]; !ok {
			missing++
		}
	}
	if missing == len(requiredAttributes) {
		return Errorf(CodeMalformed, "", "not a CloudEvent: no specversion, id, source or type (send the data inside a CloudEvent, or in the binary mode with ce- headers)")
	}
	for _, name := range requiredAttributes {
		if _, ok := attrs[name]; !ok {
			return Errorf(CodeMalformed, name, "missing required attribute %s", name)
		}
	}
	for _, name := range sortedKeys(attrs) {
		if name == "data" || name == "data_base64" {
			continue
		}
		raw := attrs[name]
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			if !slices.Contains(requiredAttributes, name) && !isKnownAttribute(name) && referenceIsPrimitive(raw) {
				continue // an extension may be a number or a boolean
			}
			return Errorf(CodeMalformed, name, "attribute %s must be a string (got %s)", name, jsonKind(raw))
		}
		if err := checkAttribute(name, name, s); err != nil {
			return err
		}
	}
	return nil
}

// referenceUnmarshalEvent runs the SDK's reader; it panics on some data_base64
// values.
func referenceUnmarshalEvent(body []byte, e *Event) (err error) {
	defer func() {
		if recover() != nil {
			err = Errorf(CodeMalformed, "data_base64", "not a structured CloudEvent: data_base64 must be a base64 string")
		}
	}()
	if err := json.Unmarshal(body, e); err != nil {
		return Errorf(CodeMalformed, "", "not a structured CloudEvent: %v", err)
	}
	return nil
}

func referenceIsPrimitive(raw json.RawMessage) bool {
	switch jsonKind(raw) {
	case "a number", "a boolean":
		return true
	}
	return false
}
