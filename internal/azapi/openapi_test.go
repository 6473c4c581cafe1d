package azapi_test

import (
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/patchbay/patchbay/internal/azapi"
)

// schemas/openapi.yaml describes exactly the operations the handler serves, and every
// $ref in it resolves.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	raw, err := os.ReadFile("../../schemas/openapi.yaml")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &doc))

	var documented []string
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			switch method {
			case "get", "patch", "post", "delete", "put":
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	served := azapi.Routes()
	sort.Strings(documented)
	sort.Strings(served)
	require.Equal(t, served, documented)

	var walk func(ptr string, v any)
	walk = func(ptr string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if k == "$ref" {
					ref := c.(string)
					require.True(t, strings.HasPrefix(ref, "#/"), "%s: $ref %q", ptr, ref)
					var cur any = doc
					for _, seg := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
						m, ok := cur.(map[string]any)
						require.True(t, ok, "%s: $ref %q does not resolve", ptr, ref)
						cur, ok = m[seg]
						require.True(t, ok, "%s: $ref %q does not resolve", ptr, ref)
					}
					continue
				}
				walk(ptr+"/"+k, c)
			}
		case []any:
			for _, c := range x {
				walk(ptr+"/[]", c)
			}
		}
	}
	walk("", doc)
	require.Equal(t, "3.0.3", doc["openapi"])
	require.Equal(t, azapi.APIVersion, doc["info"].(map[string]any)["version"])
}
