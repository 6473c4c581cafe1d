package expr

import "testing"

var benchSources = map[string]string{
	"filter":  `type == 'Sales'`,
	"target":  `task.subSection = worker.specializedSubField`,
	"complex": `task.priority >= 5 AND (task.vip == true OR task.region NOT IN ["eu", "us"]) AND worker.skills HAS 'support' AND task.language IN ['en', 'fr', 'de', 'es'] AND NOT task.title CONTAINS 'spam' AND task.items[0].name != null`,
}

func BenchmarkCompile(b *testing.B) {
	for _, name := range []string{"filter", "target", "complex"} {
		src := benchSources[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if _, err := Compile(src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEval(b *testing.B) {
	task := testTask()
	task["region"] = "apac"
	env := Env{Roots: map[string]any{RootTask: task, RootWorker: testWorker()}, Default: RootTask}
	// The same worker as a named map type (events.Labels-like): lookups go through reflect.
	named := Env{Roots: map[string]any{RootTask: task, RootWorker: labels(testWorker())}, Default: RootTask}
	cases := []struct {
		name string
		src  string
		env  Env
		want bool
	}{
		{"filter", benchSources["filter"], env, true},
		{"target", benchSources["target"], env, true},
		{"complex", benchSources["complex"], env, true},
		{"target-named-map", benchSources["target"], named, true},
		{"missing-key", `task.nope.deeper == 'x'`, env, false},
	}
	for _, c := range cases {
		e := MustCompile(c.src)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if e.Eval(c.env) != c.want {
					b.Fatal("unexpected result")
				}
			}
		})
	}
}
