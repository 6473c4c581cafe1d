package events

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"unicode/utf8"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	jsoniter "github.com/json-iterator/go"
)

// decodeStructured decodes a structured CloudEvent (a JSON body) in one pass.
//
// Why one pass: the body used to be parsed three times (encoding/json into a map and
// every attribute again, to check the attributes one by one; then the SDK's reader),
// and that was 5% of the router's CPU. Now scanObject reads the body once, exactly as
// strictly as encoding/json, splitting the object into its members; checkEnvelope
// checks them as before; build makes of them the event the SDK's reader makes.
//
// What a client sees does not change: the same messages are refused with the same
// words, the same events are decoded. decode_diff_test.go keeps the old decoder and
// compares the two on every input it has, and under the fuzzer. For that, two kinds
// of message, both rare, leave the one pass: a body that is not a JSON object has
// its error worded by encoding/json, as before (notAnObject); and a body the SDK's
// reader handles idiosyncratically (see build) is given to that reader, whose quirks
// are then kept exactly (readWithSDK).
func decodeStructured(body []byte) (Event, error) {
	var stack [16]member
	obj, ms, ok := scanObject(body, stack[:0])
	if !ok {
		return Event{}, notAnObject(body)
	}
	if err := checkEnvelope(body, ms); err != nil {
		return Event{}, err
	}
	e, dataScanned, ok := build(body, ms)
	if !ok {
		var err error
		if e, err = readWithSDK(obj); err != nil {
			return e, err
		}
		dataScanned = false
	}
	if err := e.Validate(); err != nil {
		return e, Errorf(CodeMalformed, "", "invalid CloudEvent: %v", err)
	}
	// Data taken as it is from the body is no deeper than scanObject allowed;
	// data_base64, or a string, hid its data from the scan.
	if !dataScanned {
		if err := checkDepth(e.Data(), 0); err != nil {
			return e, err
		}
	}
	return e, nil
}

// member is one member of the object of a structured CloudEvent, located in its body.
type member struct {
	name       string // as encoding/json decodes it
	keyPlain   bool   // the key has no escapes and is valid UTF-8: every reader reads it as written
	colon      int    // just past the ':' (the SDK's reader takes data from there)
	start, end int    // the value, body[start:end]
	plain      bool   // the value is a string with no escapes, valid UTF-8
	hidden     bool   // a later member has the same name (encoding/json keeps the last)
	decoded    bool   // text is set
	text       string // a string or null value as encoding/json decodes it
}

// jsonText is a string or null value as encoding/json decodes it into a string.
func (m *member) jsonText(body []byte) string {
	if !m.decoded {
		m.text, m.decoded = decodeString(body[m.start:m.end], m.plain), true
	}
	return m.text
}

// sdkText is a string value as the SDK's reader decodes it (with jsoniter); ok is
// false for a value of another kind.
func (m *member) sdkText(body []byte) (s string, ok bool) {
	if body[m.start] != '"' {
		return "", false
	}
	if m.plain {
		return m.jsonText(body), true
	}
	it := jsoniter.ConfigFastest.BorrowIterator(body[m.start:])
	defer jsoniter.ConfigFastest.ReturnIterator(it)
	s = it.ReadString()
	return s, it.Error == nil
}

// sdkValue is an extension's value as the SDK's reader reads it: a string, a bool or
// a float64 (checkEnvelope lets no other kind through).
func (m *member) sdkValue(body []byte) (any, bool) {
	switch body[m.start] {
	case '"':
		return m.sdkText(body)
	case 't':
		return true, true
	case 'f':
		return false, true
	}
	// Read the number where the reader reads it, with what follows it.
	it := jsoniter.ConfigFastest.BorrowIterator(body[m.start:])
	defer jsoniter.ConfigFastest.ReturnIterator(it)
	v := it.Read()
	return v, it.Error == nil
}

// decodeString decodes a JSON string (or null) as encoding/json does.
func decodeString(raw []byte, plain bool) string {
	if plain {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	_ = json.Unmarshal(raw, &s) // raw is a string or null: scanObject checked it
	return s
}

// notAnObject says why body is not a structured CloudEvent when scanObject cannot
// read it: too deep, or in encoding/json's words (as it always was).
func notAnObject(body []byte) error {
	if err := checkDepth(body, 1); err != nil {
		return err
	}
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(body, &attrs); err != nil {
		return Errorf(CodeMalformed, "", "not a structured CloudEvent (a JSON object): %v", err)
	}
	if attrs == nil {
		return Errorf(CodeMalformed, "", "not a structured CloudEvent (a JSON object): null")
	}
	// Not reached: scanObject refuses only what encoding/json refuses.
	return Errorf(CodeMalformed, "", "not a structured CloudEvent (a JSON object)")
}

// checkEnvelope checks the attributes of a structured CloudEvent one by one, so that
// an error names the attribute that is wrong (the CloudEvents SDK reports the first
// problem its parser meets, often under another name). It reads the members as
// encoding/json reads them into a map: when a name is repeated the last value
// counts, and the first error in the order of the names is reported.
func checkEnvelope(body []byte, ms []member) error {
	markHidden(ms)
	present := 0 // a bit per required attribute
	for i := range ms {
		if r := slices.Index(requiredAttributes, ms[i].name); r >= 0 {
			present |= 1 << r
		}
	}
	if present == 0 {
		return Errorf(CodeMalformed, "", "not a CloudEvent: no specversion, id, source or type (send the data inside a CloudEvent, or in the binary mode with ce- headers)")
	}
	for r, name := range requiredAttributes {
		if present&(1<<r) == 0 {
			return Errorf(CodeMalformed, name, "missing required attribute %s", name)
		}
	}
	var first error
	var firstName string
	for i := range ms {
		m := &ms[i]
		if m.hidden || m.name == "data" || m.name == "data_base64" || (first != nil && m.name > firstName) {
			continue
		}
		if err := checkMember(body, m); err != nil {
			first, firstName = err, m.name
		}
	}
	return first
}

// markHidden marks the members whose name a later member repeats.
func markHidden(ms []member) {
	if len(ms) <= 32 {
		for i := range ms {
			for j := i + 1; j < len(ms); j++ {
				if ms[j].name == ms[i].name {
					ms[i].hidden = true
					break
				}
			}
		}
		return
	}
	last := make(map[string]int, len(ms))
	for i := range ms {
		last[ms[i].name] = i
	}
	for i := range ms {
		ms[i].hidden = last[ms[i].name] != i
	}
}

// checkMember checks one attribute: a string (null reads as ""), or a number or a
// boolean for an extension.
func checkMember(body []byte, m *member) error {
	raw := body[m.start:m.end]
	switch raw[0] {
	case '"', 'n':
	case '{', '[':
		return Errorf(CodeMalformed, m.name, "attribute %s must be a string (got %s)", m.name, jsonKind(raw))
	default:
		if slices.Contains(requiredAttributes, m.name) || isKnownAttribute(m.name) {
			return Errorf(CodeMalformed, m.name, "attribute %s must be a string (got %s)", m.name, jsonKind(raw))
		}
		return nil // an extension may be a number or a boolean
	}
	return checkAttribute(m.name, m.name, m.jsonText(body))
}

// build makes the event the SDK's reader (Event.UnmarshalJSON) makes of a body that
// passed checkEnvelope; dataScanned says its data, if any, was copied from the body
// (scanObject checked its depth). ok is false
// for a body the reader reads idiosyncratically, or refuses: the caller then gives
// the body to the reader. That is one with
//   - a repeated name (the reader refuses some repeats and keeps the last of others,
//     or data read before specversion over data read after);
//   - an empty name (the reader stops reading there, ignoring the rest) or one with
//     escapes or invalid UTF-8 (encoding/json and jsoniter decode those differently);
//   - an attribute or extension that is null (null data is read, as JSON);
//   - both data and data_base64 (which wins depends on where specversion and
//     datacontenttype are), or schemaurl or datacontentencoding (attributes of
//     CloudEvents 0.3, which the reader keeps aside);
//   - anything the reader refuses: a source it cannot parse, an extension name or
//     value the SDK refuses, data_base64 that is not base64, data that is not JSON
//     and not a string.
//
// Otherwise build does what the reader does, which depends on where a member is:
// before specversion a datacontenttype "" is no datacontenttype, after it it is "";
// data_base64 read after specversion but before any datacontenttype is decoded from
// just after the ':' with its first and last byte dropped (so " \"AQID\"" is not
// base64); data read as JSON is copied from just after the ':', spaces included.
// Of two extension names that differ only in case the last wins (the SDK keeps one
// name in lower case; the reader sets those it meets before specversion in map
// order, so when both come before it either may win).
func build(body []byte, ms []member) (e Event, dataScanned, ok bool) {
	ctx := &cloudevents.EventContextV1{}
	var (
		afterSpec, typed bool    // the reader has read specversion; a datacontenttype
		data             *member // data or data_base64
		dataAfterSpec    bool    // data came after specversion
		dataTyped        bool    // data came after datacontenttype
	)
	for i := range ms {
		m := &ms[i]
		if m.hidden || !m.keyPlain || m.name == "" || (body[m.start] == 'n' && m.name != "data") {
			return e, false, false
		}
		switch m.name {
		case "specversion":
			s, ok := m.sdkText(body)
			if !ok || s != cloudevents.CloudEventsVersionV1 {
				return e, false, false
			}
			afterSpec = true
		case "id", "type":
			s, ok := m.sdkText(body)
			if !ok {
				return e, false, false
			}
			if m.name == "id" {
				ctx.ID = s
			} else {
				ctx.Type = s
			}
		case "source":
			s, ok := m.sdkText(body)
			u := types.ParseURIRef(s)
			if !ok || u == nil {
				return e, false, false
			}
			ctx.Source = *u
		case "subject":
			s, ok := m.sdkText(body)
			if !ok {
				return e, false, false
			}
			if s != "" {
				ctx.Subject = &s
			}
		case "time":
			s, ok := m.sdkText(body)
			t, err := types.ParseTimestamp(s)
			if !ok || err != nil {
				return e, false, false
			}
			ctx.Time = t
		case "datacontenttype":
			s, ok := m.sdkText(body)
			if !ok {
				return e, false, false
			}
			if s != "" || afterSpec {
				ctx.DataContentType = &s
			}
			typed = true
		case "dataschema":
			s, ok := m.sdkText(body)
			if !ok {
				return e, false, false
			}
			ctx.DataSchema = types.ParseURI(s)
		case "data", "data_base64":
			if data != nil {
				return e, false, false
			}
			data, dataAfterSpec, dataTyped = m, afterSpec, typed
		case "schemaurl", "datacontentencoding":
			return e, false, false
		default:
			v, ok := m.sdkValue(body)
			if !ok || ctx.SetExtension(m.name, v) != nil {
				return e, false, false
			}
		}
	}
	e.Context = ctx
	if data == nil {
		return e, true, true
	}
	mediaType, _ := ctx.GetDataMediaType()
	switch {
	case data.name == "data" && readAsJSON(mediaType):
		e.DataEncoded = slices.Clone(body[data.colon:data.end])
		return e, true, true
	case data.name == "data":
		s, ok := data.sdkText(body)
		if !ok {
			return e, false, false
		}
		e.DataEncoded = []byte(s)
		return e, false, true
	}
	s, ok := data.sdkText(body)
	if !ok || !isBase64Alphabet(s) {
		return e, false, false
	}
	in := []byte(s)
	if dataAfterSpec && !dataTyped {
		in = body[data.colon+1 : data.end-1]
	}
	decoded := make([]byte, base64.StdEncoding.DecodedLen(len(in)))
	n, err := base64.StdEncoding.Decode(decoded, in)
	if err != nil {
		return e, false, false
	}
	e.DataEncoded, e.DataBase64 = decoded[:n], true
	return e, false, true
}

// readAsJSON says whether the SDK's reader takes data of this media type as JSON (as
// it is) rather than as a string.
func readAsJSON(mediaType string) bool {
	switch mediaType {
	case "", cloudevents.ApplicationJSON, cloudevents.TextJSON, cloudevents.ApplicationCloudEventsJSON, cloudevents.ApplicationCloudEventsBatchJSON:
		return true
	}
	return false
}

// isBase64Alphabet says s has only characters of standard base64 (which JSON and
// jsoniter write as they are).
func isBase64Alphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/', c == '=':
		default:
			return false
		}
	}
	return true
}

// readWithSDK decodes obj, a structured CloudEvent, with the SDK's reader. The reader
// strips the quotes it expects around a data_base64 string without looking, and
// panics when there are fewer than two bytes to strip (data_base64 a one-digit
// number): that is refused as malformed too.
func readWithSDK(obj []byte) (e Event, err error) {
	defer func() {
		if recover() != nil {
			err = Errorf(CodeMalformed, "data_base64", "not a structured CloudEvent: data_base64 must be a base64 string")
		}
	}()
	if err := e.UnmarshalJSON(obj); err != nil {
		return e, Errorf(CodeMalformed, "", "not a structured CloudEvent: %v", err)
	}
	return e, nil
}

// scanObject splits body, a JSON object with nothing but whitespace around it, into
// its members, appended to ms. obj is the object without the whitespace. ok is false
// when body is not such an object, when it is not JSON as encoding/json reads it, or
// when it nests deeper than checkDepth(body, 1) allows.
func scanObject(body []byte, ms []member) (obj []byte, _ []member, ok bool) {
	s := scanner{b: body, depth: 1}
	s.space()
	start := s.i
	if !s.next('{') {
		return nil, ms, false
	}
	s.space()
	if !s.next('}') {
		for {
			var m member
			keyAt := s.i
			if m.keyPlain, ok = s.quoted(); !ok {
				return nil, ms, false
			}
			key := body[keyAt:s.i]
			if s.space(); !s.next(':') {
				return nil, ms, false
			}
			m.colon = s.i
			s.space()
			m.start = s.i
			if s.i < len(body) && body[s.i] == '"' {
				m.plain, ok = s.quoted()
			} else {
				ok = s.value()
			}
			if !ok {
				return nil, ms, false
			}
			m.end = s.i
			if m.keyPlain {
				m.name = attributeName(key[1 : len(key)-1])
			} else {
				m.name = decodeString(key, false)
			}
			ms = append(ms, m)
			s.space()
			if s.next(',') {
				s.space()
				continue
			}
			if s.next('}') {
				break
			}
			return nil, ms, false
		}
	}
	obj = body[start:s.i]
	s.space()
	return obj, ms, s.i == len(body)
}

// attributeName is string(key) without an allocation for the names of attributes.
func attributeName(key []byte) string {
	switch string(key) {
	case "specversion":
		return "specversion"
	case "id":
		return "id"
	case "source":
		return "source"
	case "type":
		return "type"
	case "subject":
		return "subject"
	case "time":
		return "time"
	case "datacontenttype":
		return "datacontenttype"
	case "dataschema":
		return "dataschema"
	case "data":
		return "data"
	case "data_base64":
		return "data_base64"
	}
	return string(key)
}

// scanner reads JSON as strictly as encoding/json does: the same grammar, the same
// whitespace, strings of any bytes but control characters (invalid UTF-8 too). It
// refuses objects and arrays nested deeper than MaxJSONDepth+1 levels, as checkDepth
// does for a structured CloudEvent.
type scanner struct {
	b     []byte
	i     int
	depth int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next consumes c if it is the next byte.
func (s *scanner) next(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// value skips one value.
func (s *scanner) value() bool {
	if s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '{', '[':
		return s.nested()
	case '"':
		_, ok := s.quoted()
		return ok
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return s.number()
}

// nested skips an object or an array.
func (s *scanner) nested() bool {
	if s.depth++; s.depth > MaxJSONDepth+1 {
		return false
	}
	end := byte(']')
	if s.b[s.i] == '{' {
		end = '}'
	}
	s.i++
	s.space()
	if s.next(end) {
		s.depth--
		return true
	}
	for {
		if end == '}' {
			if _, ok := s.quoted(); !ok {
				return false
			}
			if s.space(); !s.next(':') {
				return false
			}
			s.space()
		}
		if !s.value() {
			return false
		}
		s.space()
		if s.next(',') {
			s.space()
			continue
		}
		if s.next(end) {
			s.depth--
			return true
		}
		return false
	}
}

// quoted skips a string. plain says it has no escapes and is valid UTF-8: its bytes
// are its value to every reader.
func (s *scanner) quoted() (plain, ok bool) {
	if !s.next('"') {
		return false, false
	}
	start, escaped, ascii := s.i, false, true
	for i := s.i; i < len(s.b); i++ {
		for i < len(s.b) && s.b[i] > '"' && s.b[i] != '\\' && s.b[i] < utf8.RuneSelf {
			i++ // the common case, at full speed
		}
		if i == len(s.b) {
			break
		}
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			return !escaped && (ascii || utf8.Valid(s.b[start:i])), true
		case c == '\\':
			escaped = true
			if i++; i == len(s.b) {
				return false, false
			}
			switch s.b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(s.b)-i <= 4 {
					return false, false
				}
				for _, h := range s.b[i+1 : i+5] {
					if !isHex(h) {
						return false, false
					}
				}
				i += 4
			default:
				return false, false
			}
		case c < 0x20:
			return false, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return false, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func (s *scanner) literal(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// number skips a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	s.next('-')
	switch {
	case s.next('0'):
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.next('.') && !s.digits() {
		return false
	}
	if s.next('e') || s.next('E') {
		if !s.next('+') {
			s.next('-')
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits skips one or more digits.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}
