// Package expr implements the TaskRouter expression language that patchbay uses for
// workflow filters (`type == 'Sales'`), workflow target expressions
// (`task.subSection = worker.specializedSubField`) and a queue's target-workers
// expression (`skills HAS 'support' AND level >= 3`).
//
// An expression is compiled once with Compile and evaluated once per candidate with
// Expr.Eval. A compiled Expr is immutable and safe for concurrent use. Evaluation
// never fails and never panics: a missing key is null, and a comparison that does
// not make sense is false. The package does no I/O.
//
// # Grammar
//
// In EBNF (keywords are case-insensitive: AND, and and And are the same; names and
// string contents are case-sensitive; spaces, tabs and newlines separate tokens):
//
//	expression = or .
//	or         = and { "OR" and } .
//	and        = unary { "AND" unary } .
//	unary      = "NOT" unary | "(" expression ")" | condition .
//	condition  = operand [ operator operand ] .
//	operator   = "==" | "=" | "!=" | "<" | ">" | "<=" | ">="
//	           | "CONTAINS" | "HAS" | "IN" | "NOT" "IN" .
//	operand    = key | literal | list .
//	key        = name { "." name | "[" digit { digit } "]" } .
//	name       = ( letter | "_" ) { letter | digit | "_" } .
//	literal    = string | number | "true" | "false" | "null" .
//	list       = "[" [ literal { "," literal } ] "]" .
//	string     = "'" { char | escape } "'" | '"' { char | escape } '"' .
//	escape     = "\\" ( "\\" | "'" | '"' ) .
//	number     = [ "-" ] digit { digit } [ "." digit { digit } ]
//	             [ ( "e" | "E" ) [ "+" | "-" ] digit { digit } ] .
//	letter     = "a" … "z" | "A" … "Z" .
//	digit      = "0" … "9" .
//
// A key is written without spaces (`task.items[2].name`); a key cannot start with a
// keyword (`in.x` is not a key) but may contain one after a dot (`task.in`). A name
// cannot contain "-". A condition without an operator is allowed only for a key or
// true/false, and is true when the value is the boolean true (`worker.available`,
// `NOT worker.busy`).
//
// Precedence, from the tightest: NOT, then the comparison operators, then AND, then
// OR. Comparisons do not chain (`a == b == c` is an error) and never take a boolean
// expression as an operand, so NOT always negates a whole condition or parenthesised
// group: `NOT a == 1 AND b == 2` is `(NOT (a == 1)) AND (b == 2)`.
//
// # Keys and roots
//
// An expression is evaluated against an Env: named roots (RootTask, RootWorker, and
// any other the caller adds) and a default root. A key that starts with `task.` or
// `worker.` looks in that root; a key whose first name is another root of the Env
// (`queue.name` with Env.Roots["queue"]) looks there; any other key looks in the
// default root: the task for a workflow filter, the worker for a target-workers
// expression. A target expression relates the two: `task.subSection =
// worker.specializedSubField`.
//
// # Semantics
//
//   - A missing key, or one whose value is JSON null, is null. Every comparison with
//     a null operand is false, `!=` included; the one way to test for absence is the
//     literal null: `x == null` is true when x is missing or null, `x != null` when it
//     is present.
//   - == (also written =) and != compare values of the same kind: numbers
//     numerically (JSON float64, any Go integer or float, json.Number), strings and
//     booleans exactly, lists element by element, objects entry by entry. Values of
//     different kinds are never equal: == is false and != is true. There is no
//     coercion, so `3 == '3'` is false.
//   - < > <= >= compare two numbers, or two strings lexically (byte-wise); anything
//     else, booleans included, is false.
//   - `a HAS b` is true when a is a list (an array attribute) with an element equal
//     to b: `worker.skills HAS 'support'` against {"skills": ["support", "sales"]}.
//     A scalar a is never a list, so `language HAS 'en'` is false (use ==).
//   - `a CONTAINS b` is true when a is a string with the substring b
//     (case-sensitive: `name CONTAINS 'Alice'`), or a list with a string element
//     that has the substring b (`skills CONTAINS 'port'` is true for ["support"]),
//     or, for a b that is not a string, a list with an element equal to b. HAS is
//     the operator for an exact element.
//   - `a IN b` is true when b is a list (a literal or an attribute) with an element
//     equal to a (`language IN ['en', 'fr']`); when a is itself a list, it is true
//     when any element of a is in b (`languages IN ['en', 'fr']` for ["de", "fr"]).
//   - `a NOT IN b` is the negation of `a IN b` when a is present and b is a list;
//     like every comparison it is false when a or b is null, and when b is not a
//     list.
//   - == and != on lists compare whole lists, element by element in order; a list
//     is never equal to a scalar (`skills == 'support'` is false: use HAS).
//
// # Dotted keys and flat labels
//
// A key's leading names joined with dots may also be one entry of the root: labels
// written before they could nest ({"skills.finance": 10}). When the root holds such
// an entry, and it is not null, it is used; otherwise the key is walked through
// nested objects ({"skills": {"finance": 10}}). So `skills.finance` reads the flat
// label when there is one, the nested attribute otherwise; and `a.b[1]` reads element
// 1 of a flat label "a.b" when there is one.
//
// # Limits
//
// Compile refuses sources longer than MaxSourceLen bytes, nesting of parentheses and
// NOTs deeper than MaxDepth, and list literals longer than MaxListLen elements.
// Every compile error is a *SyntaxError with the 0-based byte offset of the problem,
// and matches ErrSyntax:
//
//	expr: position 12: expected a value after "=="
//
// # Examples
//
//	type == 'Sales'
//	task.subSection = worker.specializedSubField
//	worker.skills HAS 'support'
//	task.language IN ['en', 'fr']
//	task.priority >= 5 AND (task.vip == true OR task.region NOT IN ["eu", "us"])
//	task.customer.tier != null AND NOT task.tags CONTAINS 'spam'
//	task.items[0].sku == "A-100"
package expr
