// Package policyfile reads a file of routing policies (YAML or JSON) into policy.put
// commands, and watches it for changes. The file lists each kind under its own key,
// each policy with its id and its spec's fields inline:
//
//	distributionPolicies:
//	  - id: fast
//	    offerExpiresAfterSeconds: 10
//	    mode: {kind: roundRobin, maxConcurrentOffers: 2}
//	queues:
//	  - id: support
//	    distributionPolicyId: fast
//	    order: lifo
//
// The specs themselves are validated by the router when the commands are applied.
package policyfile

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.yaml.in/yaml/v3"

	"github.com/patchbay/patchbay/events"
)

// sections maps the file's top-level keys to policy kinds.
var sections = map[string]events.PolicyKind{
	"queues":                 events.KindQueue,
	"distributionPolicies":   events.KindDistributionPolicy,
	"workflows":              events.KindWorkflow,
	"exceptionPolicies":      events.KindExceptionPolicy,
	"classificationPolicies": events.KindClassificationPolicy,
	"activities":             events.KindActivity,
}

// Sections lists the top-level keys a policy file may have.
func Sections() []string {
	out := make([]string, 0, len(sections))
	for k := range sections {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Parse reads the policies in data (YAML or JSON; name is used in errors). Policies
// come out in an order that applies cleanly: activities, distribution and exception
// policies, queues, workflows.
func Parse(name string, data []byte) ([]events.PolicyPut, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: not YAML or JSON: %w", name, err)
	}
	var puts []events.PolicyPut
	for _, key := range []string{"activities", "distributionPolicies", "classificationPolicies", "exceptionPolicies", "queues", "workflows"} {
		list, ok := doc[key]
		if !ok {
			continue
		}
		items, ok := list.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: %s must be a list", name, key)
		}
		seen := map[string]bool{}
		for i, it := range items {
			where := fmt.Sprintf("%s: %s[%d]", name, key, i)
			m, ok := it.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s must be a mapping with an id", where)
			}
			id, _ := m["id"].(string)
			if err := events.CheckID("id", id); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			if seen[id] {
				return nil, fmt.Errorf("%s: id %q is listed twice", where, id)
			}
			seen[id] = true
			spec := map[string]any{}
			for k, v := range m {
				if k != "id" {
					spec[k] = v
				}
			}
			raw, err := json.Marshal(spec)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			puts = append(puts, events.PolicyPut{Kind: sections[key], ID: id, Spec: raw})
		}
	}
	for key := range doc {
		if _, ok := sections[key]; !ok {
			return nil, fmt.Errorf("%s: unknown section %q (want %v)", name, key, Sections())
		}
	}
	return puts, nil
}

// Read parses the file at path.
func Read(path string) ([]events.PolicyPut, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Watch calls apply with the file's policies now and after every change of the file
// (writes, and editors' rename-and-replace), until ctx ends. A file that does not
// parse is reported to onError and skipped until it changes again.
func Watch(ctx context.Context, path string, apply func([]events.PolicyPut), onError func(error)) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		_ = w.Close()
		return err
	}
	// Watch the directory: an editor that replaces the file would end a watch on it.
	if err := w.Add(filepath.Dir(abs)); err != nil {
		_ = w.Close()
		return fmt.Errorf("watch %s: %w", path, err)
	}
	load := func() {
		puts, err := Read(abs)
		if err != nil {
			onError(err)
			return
		}
		apply(puts)
	}
	load()
	go func() {
		defer w.Close()
		var debounce <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
					debounce = time.After(100 * time.Millisecond) // let the writer finish
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				onError(err)
			case <-debounce:
				debounce = nil
				load()
			}
		}
	}()
	return nil
}
