package lifecycle_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// docTable returns the markdown table of state_machine.md whose header starts with
// "| From", the nth such table: its column names and rows, backticks removed.
func docTable(t *testing.T, nth int) (cols []string, rows [][]string) {
	t.Helper()
	b, err := os.ReadFile("state_machine.md")
	require.NoError(t, err)
	seen := -1
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "|") {
			if seen == nth && cols != nil {
				return cols, rows
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), "|")
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		switch {
		case cells[0] == "From":
			seen++
			if seen == nth {
				cols = cells
			}
		case seen == nth && cols != nil && !strings.HasPrefix(cells[0], "-"):
			rows = append(rows, cells)
		}
	}
	return cols, rows
}

// The job table of state_machine.md is what JobStatus.Next does, cell for cell.
func TestStateMachineDocJobTable(t *testing.T) {
	cols, rows := docTable(t, 0)
	require.Len(t, rows, len(lifecycle.JobStatuses()))
	require.Len(t, cols, 1+len(lifecycle.JobActions()))
	for _, r := range rows {
		from := lifecycle.JobStatus(r[0])
		for i, a := range cols[1:] {
			next, err := from.Next(lifecycle.JobAction(a))
			if r[i+1] == "refused" {
				require.Error(t, err, "state_machine.md says %s from %s is refused", a, from)
			} else {
				require.NoError(t, err, "state_machine.md says %s from %s gives %s", a, from, r[i+1])
				require.Equal(t, lifecycle.JobStatus(r[i+1]), next, "state_machine.md: %s from %s", a, from)
			}
		}
	}
}

// The offer table of state_machine.md is what OfferStatus.Next does, and each
// refusal's wire code is the one its last column names.
func TestStateMachineDocOfferTable(t *testing.T) {
	cols, rows := docTable(t, 1)
	require.Len(t, rows, len(lifecycle.OfferStatuses()))
	actions := cols[1 : len(cols)-1]
	require.Len(t, actions, len(lifecycle.OfferActions()))
	for _, r := range rows {
		from := lifecycle.OfferStatus(r[0])
		for i, a := range actions {
			next, err := from.Next(lifecycle.OfferAction(a))
			if r[i+1] == "refused" {
				require.Error(t, err, "state_machine.md says %s from %s is refused", a, from)
				code := strings.Trim(strings.Fields(r[len(r)-1])[0], "`")
				require.Equal(t, code, string(events.AsError(err).Code), "state_machine.md: the code of %s from %s", a, from)
			} else {
				require.NoError(t, err)
				require.Equal(t, lifecycle.OfferStatus(r[i+1]), next, "state_machine.md: %s from %s", a, from)
			}
		}
	}
}
