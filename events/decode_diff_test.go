package events

// Differential tests: Decode must decode every message exactly as referenceDecode
// (the decoder before the structured mode was read in one pass) does.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDecodeMatchesReference runs every input of decodeCorpus through Decode and
// referenceDecode.
func TestDecodeMatchesReference(t *testing.T) {
	t.Parallel()
	corpus := decodeCorpus(t)
	t.Logf("%d messages", len(corpus))
	for _, in := range corpus {
		if msg := compareWithReference(ParseFuzzHeader(in.header), in.body); msg != "" {
			t.Errorf("%s: %s\nheader %q\nbody   %q", in.name, msg, in.header, in.body)
		}
	}
}

// FuzzDecodeMatchesReference checks that Decode and referenceDecode agree on any
// message: the same error (code, field, message), or equal events. The seed corpus is
// testdata/fuzz/FuzzDecodeMatchesReference and decodeCorpus, of whose hostile
// variants one in eight (TestDecodeMatchesReference runs them all; so many seeds
// would take the fuzzer a minute to load).
func FuzzDecodeMatchesReference(f *testing.F) {
	for i, in := range decodeCorpus(f) {
		if !in.hostile || i%8 == 0 {
			f.Add(in.header, in.body)
		}
	}
	f.Fuzz(func(t *testing.T, rawHeader string, body []byte) {
		if msg := compareWithReference(ParseFuzzHeader(rawHeader), body); msg != "" {
			t.Fatalf("%s\nheader %q\nbody   %q", msg, rawHeader, body)
		}
	})
}

// BenchmarkDecode decodes a typical job.created command and a typical offer.accept,
// as the client sends them (events.New, then Structured), with Decode ("new") and
// with the decoder it replaced ("reference").
func BenchmarkDecode(b *testing.B) {
	at := time.Date(2025, 3, 14, 9, 0, 0, 123456789, time.UTC)
	jobCreated := JobCreated{
		JobID: "call-4711", QueueID: "support", ChannelID: "voice", ChannelReference: "CA9f3b1c2d7e4a", Priority: 10,
		Labels: Labels{"language": "en", "skillLevel": 5.0, "vip": false},
		Tags:   map[string]any{"crmTicket": "CS-98231", "callerNumber": "+14155550123"},
		WorkerSelectors: []WorkerSelector{
			{Key: "language", Operator: OpEqual, Value: "en"},
			{Key: "skillLevel", Operator: OpGreaterThanOrEqual, Value: 5.0},
		},
		Notes: "Caller asks about a refund for order 5531.",
	}
	for _, c := range []struct {
		name string
		typ  Type
		data any
	}{
		{"job.created", TypeJobCreated, jobCreated},
		{"offer.accept", TypeOfferAccept, OfferAccept{JobID: "call-4711", OfferID: "Fk3JtW9c1xQmV2bZr8LpYd", WorkerID: "alice"}},
	} {
		e, err := New(c.typ, "c7a4e2d0-9b1f-4e3a-8c5d-2f6e7a8b9c01", "/contact-centre/ivr", "call-4711", at, c.data)
		if err != nil {
			b.Fatal(err)
		}
		body, err := Structured(e)
		if err != nil {
			b.Fatal(err)
		}
		for _, impl := range []struct {
			name   string
			decode func(map[string][]string, []byte) (Event, error)
		}{{"new", Decode}, {"reference", referenceDecode}} {
			b.Run(c.name+"/"+impl.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					if _, err := impl.decode(nil, body); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// compareWithReference decodes a message with Decode and with referenceDecode and
// says how the outcomes differ, or returns "" when they agree: the same error (code,
// field and message) and equal events (every attribute, extension and data byte; on
// an error too, since a caller may read what was decoded, e.g. the id).
//
// The reference is not deterministic everywhere: the SDK's reader applies the
// extensions it meets before specversion in map order, and lists validation errors
// in map order. Validation messages are compared line by line in any order; for the
// rest, when the outcomes differ the reference is run again, and Decode's outcome is
// accepted if the reference can give it.
func compareWithReference(header map[string][]string, body []byte) string {
	got, gotErr := Decode(header, body)
	var diff string
	for range 200 {
		want, wantErr := referenceDecode(header, body)
		if diff = outcomeDiff(got, gotErr, want, wantErr); diff == "" {
			return ""
		}
	}
	return diff
}

func outcomeDiff(got Event, gotErr error, want Event, wantErr error) string {
	if g, w := describeError(gotErr), describeError(wantErr); g != w {
		return fmt.Sprintf("errors differ:\n  Decode    %s\n  reference %s", g, w)
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("events differ (error %s):\n  Decode    %s\n  reference %s", describeError(gotErr), describeEvent(got), describeEvent(want))
	}
	return ""
}

// describeError gives an error's code, field and message; the lines of a validation
// message are sorted (the SDK lists them in map order).
func describeError(err error) string {
	if err == nil {
		return "no error"
	}
	var e *Error
	if !errors.As(err, &e) {
		return fmt.Sprintf("not an *Error: %T %q", err, err)
	}
	msg := e.Message
	if rest, ok := strings.CutPrefix(msg, "invalid CloudEvent: "); ok {
		lines := strings.Split(rest, "\n")
		slices.Sort(lines)
		msg = "invalid CloudEvent: " + strings.Join(lines, "\n")
	}
	return fmt.Sprintf("code %s, field %q, message %q", e.Code, e.Field, msg)
}

func describeEvent(e Event) string {
	if e.Context == nil {
		return fmt.Sprintf("no context, data %q base64 %v", e.DataEncoded, e.DataBase64)
	}
	return fmt.Sprintf("%#v %v data %q (nil %v) base64 %v field errors %v",
		e.Context, e.Extensions(), e.DataEncoded, e.DataEncoded == nil, e.DataBase64, e.FieldErrors)
}

// ParseFuzzHeader turns "Key: value" lines into NATS-style headers, so that the
// fuzzers reach both content modes; lines without a colon are ignored. Exported for
// the external tests (FuzzDecode).
func ParseFuzzHeader(s string) map[string][]string {
	if s == "" {
		return nil
	}
	h := map[string][]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		h[k] = append(h[k], strings.TrimPrefix(v, " "))
	}
	return h
}

// decodeInput is one message: its headers as ParseFuzzHeader reads them, its body.
type decodeInput struct {
	name    string
	header  string
	body    []byte
	hostile bool // one of hostileBodies
}

// decodeCorpus is every message the tests of this package decode (the seed corpus of
// FuzzDecode, the bodies of the codec and limit tests), the golden samples and
// invalid samples under schemas/testdata, and hostile variants of a few events.
func decodeCorpus(tb testing.TB) []decodeInput {
	tb.Helper()
	var in []decodeInput
	add := func(name, header string, body []byte) {
		in = append(in, decodeInput{name: name, header: header, body: body})
	}

	// The seed corpus of FuzzDecode.
	seeds, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecode", "*"))
	if err != nil || len(seeds) == 0 {
		tb.Fatalf("no FuzzDecode corpus: %v", err)
	}
	for _, name := range seeds {
		header, body := readFuzzSeed(tb, name)
		add(name, header, body)
	}

	// The golden samples and the invalid samples.
	for _, pattern := range []string{"*.json", filepath.Join("invalid", "*.json")} {
		names, err := filepath.Glob(filepath.Join("..", "schemas", "testdata", pattern))
		if err != nil || len(names) == 0 {
			tb.Fatalf("no samples %s: %v", pattern, err)
		}
		for _, name := range names {
			body, err := os.ReadFile(name)
			if err != nil {
				tb.Fatal(err)
			}
			add(name, "", body)
			var compact bytes.Buffer
			if json.Compact(&compact, body) == nil {
				add(name+" (compact)", "", compact.Bytes())
			}
		}
	}

	for i, body := range existingTestBodies(tb) {
		add(fmt.Sprintf("test body %d", i), "", body)
	}
	for i, m := range existingBinaryMessages() {
		add(fmt.Sprintf("binary test message %d", i), m[0], []byte(m[1]))
	}
	for i, body := range hostileBodies() {
		in = append(in, decodeInput{name: fmt.Sprintf("hostile body %d", i), body: body, hostile: true})
	}
	return in
}

// readFuzzSeed reads a corpus file of FuzzDecode: a header string and a body.
func readFuzzSeed(tb testing.TB, name string) (string, []byte) {
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	var values []string
	for _, line := range strings.Split(string(b), "\n")[1:] {
		open, close := strings.Index(line, "("), strings.LastIndex(line, ")")
		if open < 0 || close < open {
			continue
		}
		v, err := strconv.Unquote(line[open+1 : close])
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		values = append(values, v)
	}
	if len(values) != 2 {
		tb.Fatalf("%s: want a header and a body, got %d values", name, len(values))
	}
	return values[0], []byte(values[1])
}

// existingTestBodies are the structured bodies the other tests of this package
// decode (codec_test.go, encode_test.go, limits_test.go, regression_test.go), built
// the same way.
func existingTestBodies(tb testing.TB) [][]byte {
	bodies := [][]byte{}
	for _, s := range []string{
		"", " \r\n\t", "hello", `{"specversion":"1.0","id":"e1"`, `[1,2,3]`, `"event"`, `null`, `{}`,
		`{"queueId":"q","channelId":"voice"}`,
		`{"specversion":"1.0","type":"io.patchbay.job.cancel","source":"/p"}`,
		`{"specversion":"1.0","id":"","type":"io.patchbay.job.cancel","source":"/p"}`,
		`{"specversion":"1.0","id":"e1","source":"/p"}`,
		`{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel"}`,
		`{"id":"e1","type":"io.patchbay.job.cancel","source":"/p"}`,
		`{"specversion":"2.0","id":"e1","type":"io.patchbay.job.cancel","source":"/p"}`,
		`{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":"/p","time":"yesterday"}`,
		`{"specversion":"1.0","id":1,"type":"io.patchbay.job.cancel","source":"/p"}`,
		`{"specversion":"1.0","id":{"a":1},"type":"io.patchbay.job.cancel","source":"/p"}`,
		`{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":5}`,
		`{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":"%zz"}`,
		`{"specversion":"1.0","id":"e1","type":7,"source":"/p"}`,
		`{"specversion":"1.0","id":"e1","type":null,"source":"/p"}`,
		`{"specversion":"1.0","id":"e1","type":"","source":"/p"}`,
		`{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":""}`,
		`{"specversion":1,"id":"e1","type":"io.patchbay.job.cancel","source":"/p"}`,
		`{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":"/p","subject":3}`,
		`{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":"/p","time":3}`,
		`{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":"/p","datacontenttype":5}`,
		`{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":"/p","traceparent":{"a":1}}`,
		`{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":"/p"}`,
		`{"specversion":"0.3","id":"e1","type":"io.patchbay.job.cancel","source":"/p"}`,
	} {
		bodies = append(bodies, []byte(s))
	}

	// codec_test.go and encode_test.go: events made by New and Encode.
	at := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	job := JobCreated{JobID: "j-1", QueueID: "support", ChannelID: "voice", Priority: 5,
		Labels:          Labels{"language": "en", "tier": 2.0, "vip": true},
		WorkerSelectors: []WorkerSelector{{Key: "skill", Operator: OpGreaterThanOrEqual, Value: 3.0}},
		Notes:           "callback requested"}
	e, err := New(TypeJobCreated, "evt-1", "/producer/crm", "j-1", at, job)
	if err != nil {
		tb.Fatal(err)
	}
	e.SetExtension("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	b, err := Structured(e)
	if err != nil {
		tb.Fatal(err)
	}
	bodies = append(bodies, b)
	zone := time.FixedZone("x", 3600)
	for _, c := range []struct {
		typ              Type
		id, src, subject string
		data             any
	}{
		{TypeJobQueued, "ev1", RouterSource, "job-1", &Job{JobID: "job-1", QueueID: "q", Status: "queued", Labels: Labels{"a": "<b>&\"c\"", "n": 2.5}}},
		{TypeOfferIssued, "ev2", RouterSource, "", &Offer{OfferID: "o", JobID: "j", WorkerID: "w"}},
		{TypeCommandFailed, "ev-\u00e9", "/src \"q\"", "sub\\ject", CommandFailure{Subject: "s", Error: Errorf(CodeInternal, "", "x")}},
		{TypeCommandSucceeded, "ev3", RouterSource, "j", nil},
	} {
		b, err := Encode(c.typ, c.id, c.src, c.subject, at.In(zone), c.data)
		if err != nil {
			tb.Fatal(err)
		}
		bodies = append(bodies, b)
		if e, err := New(c.typ, c.id, c.src, c.subject, at.In(zone), c.data); err == nil {
			if b, err := Structured(e); err == nil {
				bodies = append(bodies, b)
			}
		}
	}

	// limits_test.go: sizes, depths, attribute lengths.
	structured := func(data string) []byte {
		return []byte(`{"specversion":"1.0","id":"e1","source":"/test","type":"io.patchbay.job.created","datacontenttype":"application/json","data":` + data + `}`)
	}
	nested := func(levels int) string { return strings.Repeat("[", levels) + strings.Repeat("]", levels) }
	for _, levels := range []int{MaxJSONDepth - 2, MaxJSONDepth - 1, MaxJSONDepth, MaxJSONDepth + 1, 9990} {
		data := `{"queueId":"q","channelId":"c","tags":{"a":` + nested(levels) + `}}`
		bodies = append(bodies, structured(data))
		b, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": "e1", "source": "/t", "type": "io.patchbay.job.created",
			"datacontenttype": "application/json", "data_base64": []byte(data)})
		bodies = append(bodies, b)
	}
	bodies = append(bodies,
		structured(`{"queueId":"q","channelId":"c","notes":"`+strings.Repeat("[{", 100)+`"}`),
		structured(`{"queueId":"q","channelId":"c","labels":{"skill":"`+strings.Repeat("v", 200<<10)+`"}}`),
		bytes.Repeat([]byte("{["), 1<<12),
		bytes.Repeat([]byte(" "), MaxMessageBytes+1),
	)
	at256 := strings.Repeat("i", MaxAttributeBytes)
	for _, attr := range []string{"id", "source", "subject", "traceparent", "tenant"} {
		for _, v := range []string{at256, at256 + "i"} {
			m := map[string]any{"specversion": "1.0", "id": "e1", "source": "/t", "type": "io.patchbay.job.cancel", "data": map[string]any{"jobId": "j"}}
			m[attr] = v
			b, _ := json.Marshal(m)
			bodies = append(bodies, b)
		}
	}
	return bodies
}

// existingBinaryMessages are binary-mode messages of codec_test.go: a raw header
// (ParseFuzzHeader) and a body.
func existingBinaryMessages() [][2]string {
	const base = "ce-specversion: 1.0\nce-id: e1\nce-type: io.patchbay.job.cancel\nce-source: /p"
	return [][2]string{
		{base, `{"jobId":"j1"}`},
		{"Ce-Specversion: 1.0\nCE-ID: e1\nCe-Type: io.patchbay.worker.deregister\nce-Source: /w\ncontent-type: application/json", `{"workerId":"w1"}`},
		{base + "\nContent-Type: text/plain; charset=utf-8", `{"workerId":"w1"}`},
		{base + "\nce-id: e2\nce-tenant: acme", `{"workerId":"w1"}`},
		{base + "\nce-dataschema: https://patchbay.io/schemas/worker.deregister.json", `{"workerId":"w1"}`},
		{"ce-specversion: 0.3\nce-id: e1\nce-type: t\nce-source: /p", `{}`},
		{"ce-specversion: \nce-id: e1", `{}`},
		{base + "\nce-time: 2025-03-14 15:09:26", `{}`},
		{base + "\nce-bad_name: x", `{}`},
		{base + "\nce-: x", `{}`},
		{base + "\nce-datacontenttype: application/json", `{"jobId":"j1"}`},
		{base, `null`},
		{base, ``},
	}
}

// kv is one member of a hand-written object: a key written between quotes as it
// is (so it may hold escapes) and a value written as it is.
type kv = [2]string

func object(ms []kv, colon, comma string) []byte {
	var b bytes.Buffer
	b.WriteString("{")
	for i, m := range ms {
		if i > 0 {
			b.WriteString(comma)
		}
		b.WriteString(`"` + m[0] + `"` + colon + m[1])
	}
	b.WriteString("}")
	return b.Bytes()
}

// hostileBodies are variants of a few structured events: members moved, removed,
// repeated, renamed, their values replaced by values of every kind; data and
// data_base64 in every order and form; broken JSON around them.
func hostileBodies() [][]byte {
	bases := [][]kv{
		{{"specversion", `"1.0"`}, {"id", `"e1"`}, {"source", `"/p"`}, {"type", `"io.patchbay.job.cancel"`}},
		{{"specversion", `"1.0"`}, {"id", `"e1"`}, {"source", `"/p"`}, {"type", `"io.patchbay.job.cancel"`},
			{"datacontenttype", `"application/json"`}, {"data", `{"jobId":"j1"}`}},
		{{"specversion", `"1.0"`}, {"id", `"e1"`}, {"source", `"https://example.com/p"`}, {"type", `"io.patchbay.job.cancel"`},
			{"subject", `"j1"`}, {"time", `"2025-03-14T09:00:00.5+02:00"`}, {"dataschema", `"https://example.com/s.json"`},
			{"datacontenttype", `"application/json; charset=utf-8"`}, {"traceparent", `"00-4bf9-01"`}, {"seq", `7`}, {"sampled", `true`},
			{"data", `{"jobId":"j1","labels":{"a":[1,2,{"b":null}]}}`}},
		{{"specversion", `"1.0"`}, {"id", `"e2"`}, {"type", `"io.patchbay.worker.deregister"`}, {"source", `"/w"`},
			{"datacontenttype", `"application/octet-stream"`}, {"data_base64", `"eyJ3b3JrZXJJZCI6IncxIn0="`}},
		{{"specversion", `"1.0"`}, {"id", `"e3"`}, {"type", `"t"`}, {"source", `"/w"`},
			{"datacontenttype", `"text/plain"`}, {"data", `"hello [[[ \"x\" \u00e9"`}},
	}
	values := []string{
		`null`, `0`, `7`, `-0`, `1.5`, `-2.9999999999999999`, `2147483647`, `2147483648`, `-2147483649`, `1e3`, `1E-3`, `1e400`,
		`true`, `false`, `{}`, `[]`, `{"a":1}`, `[1]`, `""`, `" "`, `"x"`, `"1.0"`, `"0.3"`, `"1.0 "`, `"1\u002e0"`,
		`"/p"`, `"%zz"`, `"http://[::1"`, `"https://example.com/x?y#z"`, `"urn:x:y"`, `"rel/path"`, `"/p q"`,
		`"application/json"`, `"text/json"`, `"application/cloudevents+json"`, `"text/plain"`, `"application/xml"`, `"bad type/"`, `" application/json "`,
		`"2025-03-14T09:00:00Z"`, `"2025-03-14T09:00:00.123456789-07:30"`, `"2025-03-14t09:00:00z"`, `"2025-03-14T09:00:00"`,
		`"2025-03-14 09:00:00Z"`, `"2025-02-30T00:00:00Z"`, `"2025-03-14T23:59:60Z"`, `"2025-03-14T09:00:00.1234567890Z"`,
		`"AQID"`, `"AQ=="`, `"AQ\u003d\u003d"`, `"!!!"`, `"eyJqb2JJZCI6ImoxIn0="`, `"W1tbW1tbW1tbW1tbXV1dXV1dXV1dXV1d"`,
		`"\u0000"`, `"a\tb"`, `"x\ud800y"`, `"\ud83d\ude00"`, `"é"`, `"\u00e9"`, "\"\xff\xfe\"", `"\/p"`, `"<&>"`,
		`"` + strings.Repeat("v", MaxAttributeBytes) + `"`, `"` + strings.Repeat("v", MaxAttributeBytes+1) + `"`,
		`"` + strings.Repeat("é", MaxAttributeBytes/2) + `"`, "\"" + strings.Repeat("\xff", MaxAttributeBytes-1) + "\"",
		`[[[[[[[[[[]]]]]]]]]]`, `[[[[[[[[[[[]]]]]]]]]]]`, `"[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]"`,
		`01`, `1.`, `.5`, `-`, `+1`, `1e`, `tru`, `nul`, `"\x"`, `"\u12"`, `{"a"}`, `[1,]`, `{"a":1,}`, "\"a\nb\"",
		// trace contexts: valid, a later version, uppercase, zero ids, too long; tracestates
		`"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"`, `"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz"`,
		`"00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"`, `"00-00000000000000000000000000000000-00f067aa0ba902b7-01"`,
		`"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"`, `"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01` + strings.Repeat("0", MaxTraceParentBytes) + `"`,
		`"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"`, `"=x"`, `"` + strings.Repeat("k=v,", MaxTraceStateBytes/4+1) + `"`,
	}
	names := []string{
		"", "ID", "Id", "Source", "SPECVERSION", "Data", "DATA_BASE64", "data_base64", "data", "datacontenttype",
		"dataschema", "subject", "time", "schemaurl", "datacontentencoding", "tenant", "Tenant", "bad_name", "ext-1",
		`\u0069d`, `i\u0064`, `\u0064ata`, "\xff", "\xfe", `\ud800`, "é", "traceparent", "TraceParent", "tracestate", "a" + strings.Repeat("b", 30),
	}
	var out [][]byte
	emit := func(ms []kv) {
		out = append(out, object(ms, ":", ","), object(ms, " : ", ",\n  "))
	}
	with := func(ms []kv, i int, m kv) []kv {
		c := slices.Clone(ms)
		c[i] = m
		return c
	}
	for _, base := range bases {
		emit(base)
		out = append(out, []byte("\ufeff"+string(object(base, ":", ","))), append(object(base, ":", ","), " x"...),
			append(object(base, ":", ","), "{}"...), append(object(base, ":", ","), "\n\t\r "...), []byte("\v"+string(object(base, ":", ","))))
		full := object(base, ":", ",")
		for n := 1; n < len(full); n += 7 {
			out = append(out, full[:n])
		}
		rev := slices.Clone(base)
		slices.Reverse(rev)
		emit(rev)
		for i, m := range base {
			front := append([]kv{m}, slices.Delete(slices.Clone(base), i, i+1)...)
			back := append(slices.Delete(slices.Clone(base), i, i+1), m)
			emit(front)
			emit(back)
			emit(slices.Delete(slices.Clone(base), i, i+1))
			emit(append(slices.Clone(base), m))
			for _, v := range values {
				emit(with(base, i, kv{m[0], v}))
				emit(append(slices.Clone(base), kv{m[0], v}))
				emit(append([]kv{{m[0], v}}, base...))
			}
		}
		for _, name := range names {
			for _, v := range []string{`"x"`, `"application/json"`, `1`, `5`, `true`, `null`, `{}`, `"AQID"`} {
				emit(append(slices.Clone(base), kv{name, v}))
				emit(append([]kv{{name, v}}, base...))
			}
		}
		// data and data_base64 with specversion and datacontenttype before and after.
		for _, data := range []kv{
			{"data", `{"a":1}`}, {"data", `"text"`}, {"data", `null`}, {"data", `1`}, {"data", `12`}, {"data", `[]`},
			{"data_base64", `"AQID"`}, {"data_base64", `""`}, {"data_base64", `1`}, {"data_base64", `12`}, {"data_base64", `null`},
			{"data_base64", `"AQ\u003d\u003d"`}, {"data_base64", `{}`}, {"data_base64", `"!"`},
			{"data_base64", `"` + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("[", 12))) + `"`},
		} {
			for _, ct := range []string{"", `"application/json"`, `"text/plain"`, `"application/octet-stream"`, `""`} {
				core := []kv{{"id", `"e1"`}, {"source", `"/p"`}, {"type", `"t"`}}
				spec := kv{"specversion", `"1.0"`}
				orders := [][]kv{{spec, data}, {data, spec}}
				if ct != "" {
					dct := kv{"datacontenttype", ct}
					orders = [][]kv{{spec, dct, data}, {spec, data, dct}, {dct, spec, data}, {data, spec, dct}, {dct, data, spec}, {data, dct, spec}}
				}
				for _, order := range orders {
					emit(append(slices.Clone(core), order...))
					other := kv{"data", `{"b":2}`}
					if data[0] == "data" {
						other = kv{"data_base64", `"AQID"`}
					}
					emit(append(append(slices.Clone(core), order...), other))
					emit(append([]kv{other}, append(slices.Clone(core), order...)...))
					emit(append(append(slices.Clone(core), order...), data))
				}
			}
		}
	}
	// Two attributes wrong: the first in the order of the names is reported.
	full := bases[2]
	for i := range full {
		for j := range full {
			if i != j {
				emit(with(with(full, i, kv{full[i][0], `{}`}), j, kv{full[j][0], `""`}))
				emit(with(with(full, i, kv{full[i][0], `"%zz"`}), j, kv{full[j][0], `"` + strings.Repeat("v", MaxAttributeBytes+1) + `"`}))
			}
		}
	}

	// Many members (checkEnvelope finds repeated names with a map): all different,
	// one repeated, two that differ only in case.
	many := slices.Clone(bases[1])
	for i := range 40 {
		many = append(many, kv{fmt.Sprintf("ext%d", i), strconv.Itoa(i)})
	}
	emit(many)
	emit(append(slices.Clone(many), kv{"ext7", `"again"`}))
	emit(append(slices.Clone(many), kv{"EXT7", `"again"`}))
	emit(append(slices.Clone(many), kv{"id", `""`}))
	emit(append([]kv{{"id", `""`}}, many...))

	// Not objects.
	for _, v := range append(values, ` null `, "\t[]\n", `[{"specversion":"1.0"}]`, strings.Repeat("[", 20)+strings.Repeat("]", 20)) {
		out = append(out, []byte(v))
	}
	return out
}

// TestDecodeKeepsQuirks pins some of what the old decoder did that one would not
// guess, and Decode still does (the SDK's reader does it).
func TestDecodeKeepsQuirks(t *testing.T) {
	t.Parallel()
	const head = `"specversion":"1.0","id":"e1","source":"/p","type":"t"`
	for _, c := range []struct {
		name, body string
		check      func(t *testing.T, e Event, err error)
	}{
		{"the reader stops at an empty name", `{` + head + `,"":"x","tenant":"acme"}`, func(t *testing.T, e Event, err error) {
			if err != nil || len(e.Extensions()) != 0 {
				t.Fatalf("want the event without its extension, got %v %v", e.Extensions(), err)
			}
		}},
		{"data is copied with the spaces after the colon", `{` + head + `,"data": {"a":1}}`, func(t *testing.T, e Event, err error) {
			if err != nil || string(e.Data()) != ` {"a":1}` {
				t.Fatalf("got %q %v", e.Data(), err)
			}
		}},
		{"data_base64 after specversion, before datacontenttype, after a space", `{` + head + `,"data_base64": "AQID"}`, func(t *testing.T, e Event, err error) {
			if err == nil || AsError(err).Message != "not a structured CloudEvent: illegal base64 data at input byte 0" {
				t.Fatalf("want the reader's base64 error, got %v", err)
			}
		}},
		{"data_base64 after specversion, before datacontenttype", `{` + head + `,"data_base64":"AQID"}`, func(t *testing.T, e Event, err error) {
			if err != nil || string(e.Data()) != "\x01\x02\x03" {
				t.Fatalf("got %q %v", e.Data(), err)
			}
		}},
		{`datacontenttype "" before specversion`, `{"datacontenttype":"",` + head + `}`, func(t *testing.T, e Event, err error) {
			if err != nil {
				t.Fatal(err)
			}
		}},
		{`datacontenttype "" after specversion`, `{` + head + `,"datacontenttype":""}`, func(t *testing.T, e Event, err error) {
			if err == nil || !strings.HasPrefix(AsError(err).Message, "invalid CloudEvent: datacontenttype") {
				t.Fatalf("want a validation error, got %v", err)
			}
		}},
		{"a repeated id passes the envelope (the last is a string), not the reader", `{"id":1,` + head + `}`, func(t *testing.T, e Event, err error) {
			if err == nil || !strings.HasPrefix(AsError(err).Message, "not a structured CloudEvent: ReadString") {
				t.Fatalf("want the reader's error, got %v", err)
			}
		}},
		{"an extension number is an int32, truncated", `{` + head + `,"seq":2.9}`, func(t *testing.T, e Event, err error) {
			if err != nil || e.Extensions()["seq"] != int32(2) {
				t.Fatalf("got %#v %v", e.Extensions(), err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := Decode(nil, []byte(c.body))
			c.check(t, e, err)
			if msg := compareWithReference(nil, []byte(c.body)); msg != "" {
				t.Fatal(msg)
			}
		})
	}
}
