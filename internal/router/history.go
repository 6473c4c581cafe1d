package router

import (
	"context"
	"time"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/history"
)

const (
	// historyReadsMax bounds the history queries reading the events stream at once;
	// one more is refused as retryable (the Go client sends it again).
	historyReadsMax = 4
	// historyReadTimeout bounds one history query's read of the stream.
	historyReadTimeout = 10 * time.Second
)

// answerHistory answers io.patchbay.query.history: the job's events read from the
// events stream, not from the engine, so the read runs on its own goroutine and never
// holds up the engine's loop or the other queries, and it answers about jobs the
// router has forgotten (retention) for as long as the stream keeps their events.
func (r *Router) answerHistory(to string, ev events.Event, d events.QueryHistory, fail func(*events.Error, string)) {
	limit, err := events.HistoryLimit(d.Limit)
	if err != nil {
		fail(events.AsError(err), ev.ID())
		return
	}
	select {
	case r.histories <- struct{}{}:
	default:
		busy := events.Errorf(events.CodeInternal, "", "the router is reading %d histories already; try again", historyReadsMax)
		busy.Retryable = true
		fail(busy, ev.ID())
		return
	}
	// The answer's data is {"events":[...],"truncated":true} inside the envelope.
	room := r.answerRoom(ev.Subject()) - len(`{"events":,"truncated":true}`)
	go func() {
		defer func() { <-r.histories }()
		ctx, cancel := context.WithTimeout(context.Background(), historyReadTimeout)
		defer cancel()
		page, err := history.Read(ctx, r.js, d.JobID, limit, room)
		if err != nil {
			r.log.Warn().Err(err).Str("job", d.JobID).Msg("history query")
			failed := events.Errorf(events.CodeInternal, "", "reading the events stream: %v", err)
			failed.Retryable = true
			fail(failed, ev.ID())
			return
		}
		r.reply(to, r.event(events.TypeQueryResult, ev.Subject(), events.JobHistory{Events: page.Events, Truncated: page.Truncated}))
	}()
}
