package azapi

import (
	"net/http"
	"strconv"
)

// queueStatistics answers Azure's RouterQueueStatistics from the queue query.
func (a *api) queueStatistics(w http.ResponseWriter, r *http.Request, p params) error {
	info, err := a.c.QueueInfo(r.Context(), p["queueId"])
	if err != nil {
		return err
	}
	waits := map[string]float64{}
	for _, pw := range info.EstimatedWait {
		if pw.EstimatedWaitSeconds != nil {
			waits[strconv.Itoa(pw.Priority)] = minutesUp(pw.EstimatedWaitSeconds)
		}
	}
	longest := info.LongestWaitSeconds / 60
	return writeJSON(w, http.StatusOK, struct {
		QueueID                   string             `json:"queueId"`
		Length                    int                `json:"length"`
		EstimatedWaitTimeMinutes  map[string]float64 `json:"estimatedWaitTimeMinutes,omitempty"`
		LongestJobWaitTimeMinutes float64            `json:"longestJobWaitTimeMinutes"`
	}{info.QueueID, info.Length, waits, longest}, "")
}
