package router_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/router"
)

// The golden samples in schemas/testdata are the wire contract's examples. This test
// sends the command and query samples to a live router, as a client would, and checks
// its answers against the reply samples, so a sample cannot keep showing an answer the
// router no longer gives (it once showed offer_revoked for a late accept, which the
// router answers with already_assigned).
func TestGoldenSamplesMatchALiveRouter(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	_, err := e.client.PutPolicy(ctx(t), events.KindDistributionPolicy, "pair", patchbay.DistributionPolicySpec{
		OfferExpiresAfterSeconds: 60,
		Mode:                     patchbay.DistributionMode{Kind: events.ModeLongestIdle, MinConcurrentOffers: 2, MaxConcurrentOffers: 2},
	}, nil)
	require.NoError(t, err)
	_, err = e.client.PutPolicy(ctx(t), events.KindQueue, "support", patchbay.QueueSpec{DistributionPolicyID: "pair"}, nil)
	require.NoError(t, err)

	// alice registers with the sample itself, bob with a copy under his name.
	send := func(subject string, sample map[string]any) (events.Type, map[string]any) {
		t.Helper()
		body, err := json.Marshal(sample)
		require.NoError(t, err)
		reply := e.request(subject, nats.Header{"Content-Type": {events.ContentTypeCloudEvent}}, body)
		var data map[string]any
		require.NoError(t, json.Unmarshal(reply.Data(), &data))
		return events.Type(reply.Type()), data
	}
	succeed := func(subject string, sample map[string]any) map[string]any {
		t.Helper()
		typ, data := send(subject, sample)
		require.Equal(t, events.TypeCommandSucceeded, typ, "%s: %v", subject, data)
		return data
	}
	register := golden(t, "worker.register.json")
	succeed(events.WorkerReqSubject(events.TypeWorkerRegister, "alice"), register)
	bob := golden(t, "worker.register.json")
	bob["id"] = "register-bob"
	bob["subject"] = "bob"
	bob["data"].(map[string]any)["workerId"] = "bob"
	succeed(events.WorkerReqSubject(events.TypeWorkerRegister, "bob"), bob)
	succeed(events.ReqSubject(events.TypeJobCreated), golden(t, "job.created.json"))
	toAlice := e.offerFor("alice", "call-4711")
	toBob := e.offerFor("bob", "call-4711")

	// alice accepts with the sample (its offer id is the live one): command.succeeded.
	accept := golden(t, "offer.accept.json")
	accept["data"].(map[string]any)["offerId"] = toAlice.OfferID
	got := succeed(events.WorkerReqSubject(events.TypeOfferAccept, "alice"), accept)
	want := golden(t, "command.succeeded.json")["data"].(map[string]any)
	require.Equal(t, keys(want), keys(got), "command.succeeded.json shows other fields than the router answers: %v", got)
	for _, k := range []string{"commandId", "commandType", "jobId", "workerId", "status"} {
		require.Equal(t, want[k], got[k], "command.succeeded.json: %s", k)
	}

	// bob accepts too late: the command.failed sample's refusal.
	late := golden(t, "offer.accept.json")
	late["id"] = golden(t, "command.failed.json")["data"].(map[string]any)["commandId"]
	late["source"] = "/agents/bob"
	late["data"].(map[string]any)["offerId"] = toBob.OfferID
	late["data"].(map[string]any)["workerId"] = "bob"
	typ, got := send(events.WorkerReqSubject(events.TypeOfferAccept, "bob"), late)
	require.Equal(t, events.TypeCommandFailed, typ)
	want = golden(t, "command.failed.json")["data"].(map[string]any)
	require.Equal(t, keys(want), keys(got))
	for _, k := range []string{"commandId", "commandType", "subject"} {
		require.Equal(t, want[k], got[k], "command.failed.json: %s", k)
	}
	wantErr, gotErr := want["error"].(map[string]any), got["error"].(map[string]any)
	require.Equal(t, wantErr["code"], gotErr["code"], "command.failed.json: error.code (router says %q)", gotErr["message"])
	require.Equal(t, wantErr["field"], gotErr["field"], "command.failed.json: error.field")

	// The queries: every field of a live answer is shown by its sample (the samples may
	// show more: optional fields of other states).
	succeed(events.ReqSubject(events.TypeJobCreated), map[string]any{
		"specversion": "1.0", "id": "create-4712", "source": "/crm", "type": string(events.TypeJobCreated),
		"subject": "call-4712", "datacontenttype": "application/json",
		"data": map[string]any{"jobId": "call-4712", "queueId": "support", "channelId": "voice", "labels": map[string]any{"language": "en"}},
	})
	for _, q := range []struct{ query, result string }{
		{"query.job.json", "query.result.job.json"},
		{"query.queue.json", "query.result.queue.json"},
		{"query.worker.json", "query.result.worker.json"},
	} {
		sample := golden(t, q.query)
		typ, got := send(events.QuerySubject(events.Type(sample["type"].(string))), sample)
		require.Equal(t, events.TypeQueryResult, typ, "%s: %v", q.query, got)
		requireShown(t, q.result, golden(t, q.result)["data"], got)
	}
}

// golden reads a sample of schemas/testdata as JSON.
func golden(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "schemas", "testdata", name))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// requireShown fails when got holds a field (at any depth) that the sample does not.
func requireShown(t *testing.T, at string, sample, got any) {
	t.Helper()
	switch g := got.(type) {
	case map[string]any:
		s, ok := sample.(map[string]any)
		require.True(t, ok, "%s: the sample shows %v where the router answers an object", at, sample)
		for k, v := range g {
			if strings.HasSuffix(at, "/labels") || strings.HasSuffix(at, "/tags") {
				continue // labels and tags are the client's own
			}
			sv, ok := s[k]
			require.True(t, ok, "%s: the router answers %q, which the sample does not show", at, k)
			requireShown(t, at+"/"+k, sv, v)
		}
	case []any:
		s, ok := sample.([]any)
		require.True(t, ok, "%s: the sample shows %v where the router answers a list", at, sample)
		if len(s) > 0 {
			for _, v := range g {
				requireShown(t, at+"[]", s[0], v)
			}
		}
	}
}
