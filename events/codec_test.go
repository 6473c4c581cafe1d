package events_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

var testTime = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

func testJobCreated() events.JobCreated {
	return events.JobCreated{
		JobID:     "j-1",
		QueueID:   "support",
		ChannelID: "voice",
		Priority:  5,
		Labels:    events.Labels{"language": "en", "tier": 2.0, "vip": true},
		WorkerSelectors: []events.WorkerSelector{
			{Key: "skill", Operator: events.OpGreaterThanOrEqual, Value: 3.0},
		},
		Notes: "callback requested",
	}
}

func newTestEvent(t *testing.T) events.Event {
	t.Helper()
	e, err := events.New(events.TypeJobCreated, "evt-1", "/producer/crm", "j-1", testTime, testJobCreated())
	require.NoError(t, err)
	return e
}

func TestNew(t *testing.T) {
	t.Parallel()
	e := newTestEvent(t)
	require.Equal(t, "1.0", e.SpecVersion())
	require.Equal(t, "evt-1", e.ID())
	require.Equal(t, string(events.TypeJobCreated), e.Type())
	require.Equal(t, "/producer/crm", e.Source())
	require.Equal(t, "j-1", e.Subject())
	require.True(t, testTime.Equal(e.Time()))
	require.Equal(t, events.ContentTypeJSON, e.DataContentType())
	require.NoError(t, e.Validate())

	// The time is stored in UTC whatever zone it was given in.
	zone := time.FixedZone("UTC+2", 2*60*60)
	e, err := events.New(events.TypeJobCancel, "evt-2", events.RouterSource, "", testTime.In(zone), events.JobCancel{JobID: "j-1"})
	require.NoError(t, err)
	require.Equal(t, time.UTC, e.Time().Location())
	require.True(t, testTime.Equal(e.Time()))
	require.Empty(t, e.Subject(), "no subject when none was given")
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	_, err := events.New(events.TypeJobCreated, "evt-1", "/p", "", testTime, make(chan int))
	require.Error(t, err, "data that cannot be JSON-encoded")

	_, err = events.New(events.TypeJobCreated, "", "/p", "", testTime, testJobCreated())
	require.Error(t, err, "empty id")

	_, err = events.New(events.TypeJobCreated, "evt-1", "", "", testTime, testJobCreated())
	require.Error(t, err, "empty source")

	_, err = events.New("", "evt-1", "/p", "", testTime, testJobCreated())
	require.Error(t, err, "empty type")
}

func TestStructuredRoundTrip(t *testing.T) {
	t.Parallel()
	e := newTestEvent(t)
	e.SetExtension("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")

	body, err := events.Structured(e)
	require.NoError(t, err)

	var raw map[string]any
	require.NoError(t, json.Unmarshal(body, &raw))
	require.Equal(t, "1.0", raw["specversion"])
	require.Equal(t, "evt-1", raw["id"])
	require.Equal(t, "io.patchbay.job.created", raw["type"])
	require.Equal(t, "2025-03-14T15:09:26.535897932Z", raw["time"])
	require.IsType(t, map[string]any{}, raw["data"], "JSON data is inlined, not base64")

	for _, header := range []map[string][]string{
		nil,
		{},
		{"Content-Type": {events.ContentTypeCloudEvent}, events.HeaderMsgID: {"evt-1"}},
	} {
		got, err := events.Decode(header, body)
		require.NoError(t, err)
		require.Equal(t, e.ID(), got.ID())
		require.Equal(t, e.Type(), got.Type())
		require.Equal(t, e.Source(), got.Source())
		require.Equal(t, e.Subject(), got.Subject())
		require.True(t, e.Time().Equal(got.Time()))
		require.Equal(t, events.ContentTypeJSON, got.DataContentType())
		require.Equal(t, e.Extensions(), got.Extensions())

		var data events.JobCreated
		require.NoError(t, events.DecodeData(got, &data))
		require.Equal(t, testJobCreated(), data)
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	t.Parallel()
	e := newTestEvent(t)
	e.SetExtension("partitionkey", "support")

	header, body := events.Binary(e)
	require.Equal(t, map[string][]string{
		"ce-specversion":  {"1.0"},
		"ce-id":           {"evt-1"},
		"ce-type":         {"io.patchbay.job.created"},
		"ce-source":       {"/producer/crm"},
		"ce-subject":      {"j-1"},
		"ce-time":         {"2025-03-14T15:09:26.535897932Z"},
		"ce-partitionkey": {"support"},
		"Content-Type":    {"application/json"},
	}, header)
	require.JSONEq(t, string(e.Data()), string(body))

	// Other NATS headers ride along and are ignored.
	header[events.HeaderMsgID] = []string{"evt-1"}
	header[events.HeaderReplyTo] = []string{"_INBOX.abc"}

	got, err := events.Decode(header, body)
	require.NoError(t, err)
	require.Equal(t, "1.0", got.SpecVersion())
	require.Equal(t, "evt-1", got.ID())
	require.Equal(t, "io.patchbay.job.created", got.Type())
	require.Equal(t, "/producer/crm", got.Source())
	require.Equal(t, "j-1", got.Subject())
	require.True(t, testTime.Equal(got.Time()), "time to the nanosecond: %s", got.Time())
	require.Equal(t, events.ContentTypeJSON, got.DataContentType())
	require.Equal(t, map[string]any{"partitionkey": "support"}, got.Extensions())

	var data events.JobCreated
	require.NoError(t, events.DecodeData(got, &data))
	require.Equal(t, testJobCreated(), data)

	// Decoding copies the body: the caller may reuse its buffer.
	body[0] = 'X'
	require.NoError(t, events.DecodeData(got, &events.JobCreated{}))
}

func TestBinaryMinimal(t *testing.T) {
	t.Parallel()
	e, err := events.New(events.TypeWorkerDeregister, "evt-9", "/w", "", testTime, events.WorkerDeregister{WorkerID: "w1"})
	require.NoError(t, err)
	header, _ := events.Binary(e)
	require.NotContains(t, header, "ce-subject", "no subject header when there is no subject")
}

func TestDecodeBinaryHeaders(t *testing.T) {
	t.Parallel()
	body := []byte(`{"workerId":"w1"}`)
	tests := []struct {
		name    string
		header  map[string][]string
		wantCT  string
		wantExt map[string]any
	}{
		{
			name: "header names are case-insensitive",
			header: map[string][]string{
				"Ce-Specversion": {"1.0"}, "CE-ID": {"e1"}, "Ce-Type": {"io.patchbay.worker.deregister"},
				"ce-Source": {"/w"}, "content-type": {"application/json"},
			},
			wantCT: "application/json",
		},
		{
			name: "no content type means JSON",
			header: map[string][]string{
				"ce-specversion": {"1.0"}, "ce-id": {"e1"}, "ce-type": {"io.patchbay.worker.deregister"}, "ce-source": {"/w"},
			},
			wantCT: "application/json",
		},
		{
			name: "content type is kept",
			header: map[string][]string{
				"ce-specversion": {"1.0"}, "ce-id": {"e1"}, "ce-type": {"io.patchbay.worker.deregister"}, "ce-source": {"/w"},
				"Content-Type": {"text/plain; charset=utf-8"},
			},
			wantCT: "text/plain; charset=utf-8",
		},
		{
			name: "extensions, first value wins, empty header values ignored",
			header: map[string][]string{
				"ce-specversion": {"1.0"}, "ce-id": {"e1", "e2"}, "ce-type": {"io.patchbay.worker.deregister"}, "ce-source": {"/w"},
				"ce-tenant": {"acme"}, "ce-empty": {},
			},
			wantCT:  "application/json",
			wantExt: map[string]any{"tenant": "acme"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := events.Decode(tt.header, body)
			require.NoError(t, err)
			require.Equal(t, "e1", e.ID())
			require.Equal(t, "/w", e.Source())
			require.Equal(t, tt.wantCT, e.DataContentType())
			if tt.wantExt == nil {
				require.Empty(t, e.Extensions())
			} else {
				require.Equal(t, tt.wantExt, e.Extensions())
			}
		})
	}
}

func TestDecodeBinaryDataSchema(t *testing.T) {
	t.Parallel()
	e, err := events.Decode(map[string][]string{
		"ce-specversion": {"1.0"}, "ce-id": {"e1"}, "ce-type": {"io.patchbay.worker.deregister"}, "ce-source": {"/w"},
		"ce-dataschema": {"https://patchbay.io/schemas/worker.deregister.json"},
	}, []byte(`{"workerId":"w1"}`))
	require.NoError(t, err)
	require.Equal(t, "https://patchbay.io/schemas/worker.deregister.json", e.DataSchema())
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	binary := func(kv ...string) map[string][]string {
		h := map[string][]string{
			"ce-specversion": {"1.0"}, "ce-id": {"e1"}, "ce-type": {"io.patchbay.job.cancel"}, "ce-source": {"/p"},
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(h, kv[i])
				continue
			}
			h[kv[i]] = []string{kv[i+1]}
		}
		return h
	}
	tests := []struct {
		name      string
		header    map[string][]string
		body      string
		wantField string
	}{
		{name: "empty body", body: ""},
		{name: "blank body", body: " \r\n\t"},
		{name: "not JSON", body: "hello"},
		{name: "truncated JSON", body: `{"specversion":"1.0","id":"e1"`},
		{name: "JSON array", body: `[1,2,3]`},
		{name: "JSON string", body: `"event"`},
		{name: "JSON null", body: `null`},
		{name: "empty object", body: `{}`},
		{name: "data without its envelope", body: `{"queueId":"q","channelId":"voice"}`},
		{name: "missing id", body: `{"specversion":"1.0","type":"io.patchbay.job.cancel","source":"/p"}`, wantField: "id"},
		{name: "empty id", body: `{"specversion":"1.0","id":"","type":"io.patchbay.job.cancel","source":"/p"}`, wantField: "id"},
		{name: "missing type", body: `{"specversion":"1.0","id":"e1","source":"/p"}`, wantField: "type"},
		{name: "missing source", body: `{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel"}`, wantField: "source"},
		{name: "missing specversion", body: `{"id":"e1","type":"io.patchbay.job.cancel","source":"/p"}`, wantField: "specversion"},
		{name: "unknown specversion", body: `{"specversion":"2.0","id":"e1","type":"io.patchbay.job.cancel","source":"/p"}`, wantField: "specversion"},
		{name: "bad time", body: `{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":"/p","time":"yesterday"}`, wantField: "time"},
		{name: "id is a number", body: `{"specversion":"1.0","id":1,"type":"io.patchbay.job.cancel","source":"/p"}`, wantField: "id"},
		{name: "id is an object", body: `{"specversion":"1.0","id":{"a":1},"type":"io.patchbay.job.cancel","source":"/p"}`, wantField: "id"},
		{name: "source is a number", body: `{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":5}`, wantField: "source"},
		{name: "source is not a URI reference", body: `{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":"%zz"}`, wantField: "source"},
		{name: "type is a number", body: `{"specversion":"1.0","id":"e1","type":7,"source":"/p"}`, wantField: "type"},
		{name: "type is null", body: `{"specversion":"1.0","id":"e1","type":null,"source":"/p"}`, wantField: "type"},
		{name: "empty type", body: `{"specversion":"1.0","id":"e1","type":"","source":"/p"}`, wantField: "type"},
		{name: "empty source", body: `{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":""}`, wantField: "source"},
		{name: "specversion is a number", body: `{"specversion":1,"id":"e1","type":"io.patchbay.job.cancel","source":"/p"}`, wantField: "specversion"},
		{name: "subject is a number", body: `{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":"/p","subject":3}`, wantField: "subject"},
		{name: "time is a number", body: `{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":"/p","time":3}`, wantField: "time"},
		{name: "datacontenttype is a number", body: `{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":"/p","datacontenttype":5}`, wantField: "datacontenttype"},
		{name: "extension is an object", body: `{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":"/p","traceparent":{"a":1}}`, wantField: "traceparent"},

		{name: "binary, specversion 0.3", header: binary("ce-specversion", "0.3"), body: `{}`, wantField: "ce-specversion"},
		{name: "binary, specversion 2.0", header: binary("ce-specversion", "2.0"), body: `{}`, wantField: "ce-specversion"},
		{name: "binary, specversion empty", header: map[string][]string{"ce-specversion": {""}, "ce-id": {"e1"}}, body: `{}`, wantField: "ce-specversion"},
		{name: "binary, bad ce-time", header: binary("ce-time", "2025-03-14 15:09:26"), body: `{}`, wantField: "ce-time"},
		{name: "binary, ce-time not a time", header: binary("ce-time", "now"), body: `{}`, wantField: "ce-time"},
		{name: "binary, missing ce-id", header: binary("ce-id", ""), body: `{}`, wantField: "ce-id"},
		{name: "binary, missing ce-type", header: binary("ce-type", ""), body: `{}`, wantField: "ce-type"},
		{name: "binary, missing ce-source", header: binary("ce-source", ""), body: `{}`, wantField: "ce-source"},
		{name: "binary, bad extension name", header: binary("ce-bad_name", "x"), body: `{}`},
		{name: "binary, empty extension name", header: binary("ce-", "x"), body: `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := events.Decode(tt.header, []byte(tt.body))
			require.Error(t, err)
			require.ErrorIs(t, err, events.ErrMalformed)
			var e *events.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, events.CodeMalformed, e.Code)
			require.Equal(t, tt.wantField, e.Field)
			require.NotEmpty(t, e.Message)
			require.Equal(t, events.CodeMalformed, events.AsError(err).Code)
		})
	}
}

func TestDecodeData(t *testing.T) {
	t.Parallel()
	withData := func(ct, data string) events.Event {
		e, err := events.Decode(map[string][]string{
			"ce-specversion": {"1.0"}, "ce-id": {"e1"}, "ce-type": {"io.patchbay.offer.accept"}, "ce-source": {"/w"},
			"Content-Type": {ct},
		}, []byte(data))
		require.NoError(t, err)
		return e
	}
	const accept = `{"jobId":"j1","offerId":"o1","workerId":"w1"}`
	want := events.OfferAccept{JobID: "j1", OfferID: "o1", WorkerID: "w1"}
	tests := []struct {
		name      string
		event     events.Event
		wantErr   error
		wantField string
	}{
		{name: "json", event: withData("application/json", accept)},
		{name: "json with charset", event: withData("application/json; charset=utf-8", accept)},
		{name: "+json suffix", event: withData("application/vnd.patchbay.offer+json", accept)},
		{name: "+json suffix with parameter", event: withData("application/vnd.patchbay.offer+json; v=1", accept)},
		{name: "surrounding space", event: withData("application/json", "\n "+accept+"\n")},
		{name: "unknown field", event: withData("application/json", `{"jobId":"j1","offerId":"o1","workerId":"w1","priority":1}`), wantErr: events.ErrInvalidData, wantField: "data"},
		{name: "misspelt field", event: withData("application/json", `{"job_id":"j1","offerId":"o1","workerId":"w1"}`), wantErr: events.ErrInvalidData, wantField: "data"},
		{name: "wrong field type", event: withData("application/json", `{"jobId":1,"offerId":"o1","workerId":"w1"}`), wantErr: events.ErrInvalidData, wantField: "data"},
		{name: "array instead of object", event: withData("application/json", `[]`), wantErr: events.ErrInvalidData, wantField: "data"},
		{name: "broken JSON", event: withData("application/json", `{"jobId":`), wantErr: events.ErrInvalidData, wantField: "data"},
		{name: "empty data", event: withData("application/json", ``), wantErr: events.ErrInvalidData, wantField: "data"},
		{name: "blank data", event: withData("application/json", " \n\t"), wantErr: events.ErrInvalidData, wantField: "data"},
		{name: "text/plain", event: withData("text/plain", accept), wantErr: events.ErrInvalidData, wantField: "datacontenttype"},
		{name: "xml", event: withData("application/xml", accept), wantErr: events.ErrInvalidData, wantField: "datacontenttype"},
		{name: "octet-stream", event: withData("application/octet-stream", accept), wantErr: events.ErrInvalidData, wantField: "datacontenttype"},
		{name: "+json only in a parameter", event: withData("text/plain; x=a+json", accept), wantErr: events.ErrInvalidData, wantField: "datacontenttype"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got events.OfferAccept
			err := events.DecodeData(tt.event, &got)
			if tt.wantErr == nil {
				require.NoError(t, err)
				require.Equal(t, want, got)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			var e *events.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, events.CodeInvalidData, e.Code)
			require.Equal(t, tt.wantField, e.Field)
		})
	}
}

func TestDecodeDataStructuredNoData(t *testing.T) {
	t.Parallel()
	e, err := events.Decode(nil, []byte(`{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":"/p"}`))
	require.NoError(t, err)
	err = events.DecodeData(e, &events.JobCancel{})
	require.ErrorIs(t, err, events.ErrInvalidData)
	require.Equal(t, "data", events.AsError(err).Field)
}

func TestDecodeDataEveryInboundPayload(t *testing.T) {
	t.Parallel()
	retry := testTime.Add(time.Minute)
	closeAt := testTime.Add(time.Hour)
	total := 10
	avail := true
	tests := []struct {
		ty   events.Type
		data any
		into func() any
	}{
		{events.TypeJobCreated, testJobCreated(), func() any { return &events.JobCreated{} }},
		{events.TypeJobComplete, events.JobComplete{JobID: "j1", AssignmentID: "a1", Note: "done"}, func() any { return &events.JobComplete{} }},
		{events.TypeJobClose, events.JobClose{JobID: "j1", AssignmentID: "a1", DispositionCode: "resolved", CloseAt: &closeAt}, func() any { return &events.JobClose{} }},
		{events.TypeJobCancel, events.JobCancel{JobID: "j1", DispositionCode: "dup", Note: "n"}, func() any { return &events.JobCancel{} }},
		{events.TypeWorkerRegister, events.WorkerRegister{WorkerID: "w1", Queues: []string{"q1"}, TotalCapacity: &total, AvailableForOffers: &avail,
			Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 10, MaxNumberOfJobs: 1}}}, func() any { return &events.WorkerRegister{} }},
		{events.TypeWorkerUpdate, events.WorkerRegister{WorkerID: "w1", AvailableForOffers: &avail}, func() any { return &events.WorkerRegister{} }},
		{events.TypeWorkerDeregister, events.WorkerDeregister{WorkerID: "w1"}, func() any { return &events.WorkerDeregister{} }},
		{events.TypeOfferAccept, events.OfferAccept{JobID: "j1", OfferID: "o1", WorkerID: "w1"}, func() any { return &events.OfferAccept{} }},
		{events.TypeOfferDecline, events.OfferDecline{JobID: "j1", OfferID: "o1", WorkerID: "w1", RetryOfferAt: &retry}, func() any { return &events.OfferDecline{} }},
		{events.TypePolicyPut, events.PolicyPut{Kind: events.KindQueue, ID: "q1", Spec: []byte(`{"order":"lifo"}`)}, func() any { return &events.PolicyPut{} }},
		{events.TypePolicyDelete, events.PolicyDelete{Kind: events.KindQueue, ID: "q1"}, func() any { return &events.PolicyDelete{} }},
		{events.TypeJobUpdate, events.JobUpdate{JobID: "j1", MatchingMode: &events.MatchingMode{Kind: events.MatchSuspend}}, func() any { return &events.JobUpdate{} }},
		{events.TypeJobUnassign, events.JobUnassign{JobID: "j1", AssignmentID: "a1", SuspendMatching: true}, func() any { return &events.JobUnassign{} }},
		{events.TypePolicyApply, events.PolicyApply{Puts: []events.PolicyPut{{Kind: events.KindQueue, ID: "q1", Spec: []byte(`{"order":"lifo"}`)}},
			Deletes: []events.PolicyDelete{{Kind: events.KindWorkflow, ID: "w1"}}, Prune: true}, func() any { return &events.PolicyApply{} }},
	}
	require.Len(t, tests, len(events.Inbound()))
	for _, tt := range tests {
		t.Run(tt.ty.Name(), func(t *testing.T) {
			t.Parallel()
			e, err := events.New(tt.ty, "e-"+tt.ty.Name(), "/p", "", testTime, tt.data)
			require.NoError(t, err)
			header, body := events.Binary(e)
			got, err := events.Decode(header, body)
			require.NoError(t, err)
			v := tt.into()
			require.NoError(t, events.DecodeData(got, v))
			want, err := json.Marshal(tt.data)
			require.NoError(t, err)
			gotJSON, err := json.Marshal(v)
			require.NoError(t, err)
			require.JSONEq(t, string(want), string(gotJSON))
		})
	}
}
