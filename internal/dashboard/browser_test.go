package dashboard_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/dashboard"
	"github.com/patchbay/patchbay/internal/monitor"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// chromium finds a headless-capable Chromium: Debian's /usr/bin/chromium (.ci/run
// installs it), or one on the PATH. Without one the browser test is skipped, except
// under CI, where it must run.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("CI is set but no Chromium was found (/usr/bin/chromium): .ci/run installs it with apt-get install -y chromium")
	}
	t.Skip("no Chromium (/usr/bin/chromium) to drive the dashboard: apt-get install chromium to run this test (under CI=true it must run)")
	return ""
}

// artifacts is where the test saves its screenshots: $PATCHBAY_ARTIFACTS, else a
// temporary directory.
func artifacts(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("PATCHBAY_ARTIFACTS"); dir != "" {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		return dir
	}
	return t.TempDir()
}

// poll waits until the JavaScript expression is true in the page.
func poll(what, expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(waitFor))(ctx, t); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		return nil
	})
}

// eval reads the value of a JavaScript expression in the page.
func eval[T any](t *testing.T, browser context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(browser, chromedp.Evaluate[T](expr))
	require.NoError(t, err, expr)
	return v
}

// jobStatusIs is true when the recent-jobs row of job id shows one of statuses.
func jobStatusIs(id string, statuses ...string) string {
	return fmt.Sprintf(`(() => { const s = document.querySelector('#jobs tr[data-job=%q] .status');
		return !!s && %q.split(",").includes(s.textContent); })()`, id, strings.Join(statuses, ","))
}

// cell is true when the row of a table whose data-<key> is id shows want in column i.
func cell(table, key, id string, i int, want string) string {
	return fmt.Sprintf(`(() => { const r = document.querySelector('%s tbody tr[data-%s=%q]');
		return !!r && r.children[%d].textContent === %q; })()`, table, key, id, i, want)
}

// The dashboard in a real browser: a job created through the client appears on the
// page as queued and, once a worker took, completed and closed it, shows closed
// without a reload, the queue and worker tables following along; its page shows its whole timeline; what a producer wrote in its
// labels stays text. Screenshots go to $PATCHBAY_ARTIFACTS (dashboard.png, and
// dashboard-job.png).
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	out := artifacts(t)

	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns.ClientURL())
	r := natstest.StartRouter(t, nc, router.Config{})
	c, err := patchbay.New(nc, patchbay.WithRetryDeadline(waitFor))
	require.NoError(t, err)
	d := dashboard.New(c, dashboard.Config{})
	require.NoError(t, d.Start(ctx(t)))
	t.Cleanup(d.Stop)
	// The listener of serve --http: the dashboard at /, the probes beside it.
	srv := httptest.NewServer(monitor.Handler(r, monitor.WithDashboard(d)))
	t.Cleanup(srv.Close)

	alloc, cancel := chromedp.NewExecAllocator(ctx(t),
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	defer cancel()
	browser, cancel := chromedp.NewContext(alloc)
	defer cancel()
	require.NoError(t, chromedp.Do(browser,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#overview")),
		poll("the live event stream", `document.querySelector("#live").classList.contains("on")`),
	), "open the dashboard")

	_, err = c.CreateJob(ctx(t), patchbay.JobSpec{JobID: "call-1", QueueID: "support", ChannelID: "voice", Priority: 5,
		Labels: events.Labels{"customer": hostile}})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(browser, poll("call-1 queued", jobStatusIs("call-1", "queued", "offered"))))

	offers, err := nc.SubscribeSync(events.OfferWorkerAll("alice"))
	require.NoError(t, err)
	require.NoError(t, nc.Flush())
	one := 1
	_, err = c.RegisterWorker(ctx(t), patchbay.WorkerSpec{WorkerID: "alice", Queues: []string{"support"}, TotalCapacity: &one,
		Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}}})
	require.NoError(t, err)
	m, err := offers.NextMsg(waitFor)
	require.NoError(t, err)
	ev, err := events.Decode(m.Header, m.Data)
	require.NoError(t, err)
	var offer events.Offer
	require.NoError(t, ev.DataAs(&offer))
	require.Equal(t, "call-1", offer.JobID)
	aid, err := c.Accept(ctx(t), offer)
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(browser, poll("call-1 assigned", jobStatusIs("call-1", "assigned"))))
	// A second job waits: alice is busy.
	_, err = c.CreateJob(ctx(t), patchbay.JobSpec{JobID: "chat-2", QueueID: "support", ChannelID: "voice"})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(browser,
		poll("chat-2 queued", jobStatusIs("chat-2", "queued")),
		poll("the support queue holding chat-2", cell("#queues", "queue", "support", 1, "1")),
		poll("alice holding call-1", cell("#workers", "worker", "alice", 6, "1")),
	))
	require.NoError(t, c.Complete(ctx(t), "call-1", aid, ""))
	require.NoError(t, c.Close(ctx(t), "call-1", aid, patchbay.CloseOptions{DispositionCode: "Resolved"}))
	require.NoError(t, chromedp.Do(browser,
		poll("call-1 closed", jobStatusIs("call-1", "closed")),
		poll("chat-2 offered to alice", cell("#workers", "worker", "alice", 5, "1")),
	))

	shot, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	path := filepath.Join(out, "dashboard.png")
	require.NoError(t, os.WriteFile(path, shot, 0o644))
	t.Logf("dashboard screenshot: %s", path)

	// The job's page: its whole life, in order, with the worker of each offer.
	require.NoError(t, chromedp.Do(browser,
		chromedp.Click(chromedp.CSS(`#jobs tr[data-job="call-1"] a`)),
		chromedp.WaitVisible(chromedp.CSS("#jobpage")),
		poll("the timeline up to closed", `Array.from(document.querySelectorAll("#timeline tbody tr")).some(r => r.dataset.type === "job.closed")`),
	))
	types := eval[[]string](t, browser, `Array.from(document.querySelectorAll("#timeline tbody tr")).map(r => r.dataset.type)`)
	workers := eval[[]string](t, browser, `Array.from(document.querySelectorAll("#timeline tbody tr")).filter(r => r.dataset.type.startsWith("offer.")).map(r => r.children[2].textContent)`)
	labels := eval[string](t, browser, `document.querySelector("#job-facts").textContent`)
	images := eval[int](t, browser, `document.querySelectorAll("img").length`)
	shot, err = chromedp.Run(browser, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.Equal(t, []string{"job.received", "job.queued", "offer.issued", "offer.accepted", "job.assigned", "job.completed", "job.closed"}, types)
	require.Equal(t, []string{"alice", "alice"}, workers)
	require.Contains(t, labels, hostile, "the label is shown as text")
	require.Zero(t, images, "and never becomes an element")
	path = filepath.Join(out, "dashboard-job.png")
	require.NoError(t, os.WriteFile(path, shot, 0o644))
	t.Logf("job page screenshot: %s", path)
}
