package router

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// A label a client controls keeps its first labelValuesMax values; later ones count
// as "other", and a value seen before keeps its own series.
func TestBoundedLabel(t *testing.T) {
	var b boundedLabel
	for i := range labelValuesMax {
		v := fmt.Sprintf("d%d", i)
		require.Equal(t, v, b.value(v))
	}
	require.Equal(t, labelOther, b.value("new"))
	require.Equal(t, "d0", b.value("d0"))
	require.Equal(t, labelOther, b.value("another"))
}
