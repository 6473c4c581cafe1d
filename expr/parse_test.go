package expr

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompileValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src   string
		canon string // the compiled tree, in canonical form
	}{
		// the ROUTING.md examples
		{`type == 'Sales'`, `type == 'Sales'`},
		{`task.subSection = worker.specializedSubField`, `task.subSection == worker.specializedSubField`},
		{`worker.skills HAS 'support'`, `worker.skills HAS 'support'`},
		{`task.language IN ['en','fr']`, `task.language IN ['en', 'fr']`},
		// every operator
		{`a == 1`, `a == 1`},
		{`a = 1`, `a == 1`},
		{`a != 1`, `a != 1`},
		{`a < 1`, `a < 1`},
		{`a > 1`, `a > 1`},
		{`a <= 1`, `a <= 1`},
		{`a >= 1`, `a >= 1`},
		{`a CONTAINS 'x'`, `a CONTAINS 'x'`},
		{`a HAS 'x'`, `a HAS 'x'`},
		{`a IN [1, 2]`, `a IN [1, 2]`},
		{`a NOT IN [1, 2]`, `a NOT IN [1, 2]`},
		{`a IN b`, `a IN b`},
		{`NOT a == 1`, `NOT a == 1`},
		{`a==1 AND b==2`, `a == 1 AND b == 2`},
		{`a==1 OR b==2`, `a == 1 OR b == 2`},
		// keywords in any case
		{`a in [1] and b not in [2] or not c contains 'x' And d HaS true`, `a IN [1] AND b NOT IN [2] OR NOT c CONTAINS 'x' AND d HAS true`},
		{`a == TRUE OR a == False OR a == NULL`, `a == true OR a == false OR a == null`},
		// literals
		{`a == "double"`, `a == 'double'`},
		{`a == 'it\'s'`, `a == 'it\'s'`},
		{`a == "say \"hi\""`, `a == 'say "hi"'`},
		{`a == 'back\\slash'`, `a == 'back\\slash'`},
		{`a == ''`, `a == ''`},
		{`a == 'héllo wörld'`, `a == 'héllo wörld'`},
		{`a == -3`, `a == -3`},
		{`a == 3.25`, `a == 3.25`},
		{`a == -0.5`, `a == -0.5`},
		{`a == 1e3`, `a == 1000`},
		{`a == 2.5E-3`, `a == 0.0025`},
		{`a>-1`, `a > -1`},
		{`a IN []`, `a IN []`},
		{`a IN ['a', "b", 3, true, null]`, `a IN ['a', 'b', 3, true, null]`},
		{`a == null`, `a == null`},
		{`null == a`, `null == a`},
		// keys
		{`skills[0] == 'x'`, `skills[0] == 'x'`},
		{`task.items[2].name == 'x'`, `task.items[2].name == 'x'`},
		{`a.b.c[0][1].d_e == 1`, `a.b.c[0][1].d_e == 1`},
		{`_private == 1`, `_private == 1`},
		{`task.in == 1`, `task.in == 1`},
		{`Task.x == 1`, `Task.x == 1`},
		{`x1 == y2`, `x1 == y2`},
		// bare conditions
		{`worker.available`, `worker.available`},
		{`true`, `true`},
		{`NOT false`, `NOT false`},
		{`NOT worker.busy AND worker.available`, `NOT worker.busy AND worker.available`},
		// parentheses and precedence
		{`(a == 1)`, `a == 1`},
		{`((((a == 1))))`, `a == 1`},
		{`(a == 1 OR b == 2) AND c == 3`, `(a == 1 OR b == 2) AND c == 3`},
		{`a == 1 OR b == 2 AND c == 3`, `a == 1 OR b == 2 AND c == 3`},
		{`a == 1 AND (b == 2 AND c == 3)`, `a == 1 AND (b == 2 AND c == 3)`},
		{`NOT (a == 1 OR b == 2)`, `NOT (a == 1 OR b == 2)`},
		{`NOT NOT a`, `NOT NOT a`},
		{"\ta == 1\n\r AND b == 2 ", `a == 1 AND b == 2`},
		{`a=='x'AND(b==1)`, `a == 'x' AND b == 1`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := Compile(tt.src)
			require.NoError(t, err)
			require.Equal(t, tt.src, e.String())
			require.Equal(t, tt.canon, canonical(e.root))
			again, err := Compile(tt.canon)
			require.NoError(t, err, "the canonical form compiles")
			require.Equal(t, tt.canon, canonical(again.root))
		})
	}
}

func TestCompileSyntaxErrors(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("(", MaxDepth+1) + "a" + strings.Repeat(")", MaxDepth+1)
	okDeep := strings.Repeat("(", MaxDepth) + "a" + strings.Repeat(")", MaxDepth)
	_, err := Compile(okDeep)
	require.NoError(t, err, "exactly MaxDepth levels compile")
	nots := strings.Repeat("NOT ", MaxDepth+1) + "a"
	bigList := "a IN [" + strings.Repeat("1,", MaxListLen) + "1]"
	tests := []struct {
		src string
		pos int
		msg string
	}{
		// the brief's example
		{`task.type ==`, 12, `expected a value after "=="`},
		// unterminated strings
		{`a == 'abc`, 5, `unterminated string`},
		{`a == "abc'`, 5, `unterminated string`},
		{`a == 'abc\'`, 5, `unterminated string`},
		{`a == 'abc\`, 5, `unterminated string`},
		{`a == 'a\nb'`, 7, `unknown escape "\n" in string (only \\, \' and \" are allowed)`},
		// missing operands
		{`a ==`, 4, `expected a value after "=="`},
		{`a = )`, 4, `expected a value after "="`},
		{`a IN`, 4, `expected a value after "IN"`},
		{`a not in`, 8, `expected a value after "not in"`},
		{`a == AND b == 1`, 5, `expected a value after "=="`},
		{`== 1`, 0, `expected a condition, found "=="`},
		{`a == 1 AND`, 10, `expected a condition after "AND"`},
		{`a == 1 OR OR b`, 10, `expected a condition, found "OR"`},
		{`NOT`, 3, `expected a condition after "NOT"`},
		{``, 0, `empty expression`},
		{`   `, 3, `empty expression`},
		{`a NOT b`, 6, `expected IN after "NOT", found "b"`},
		{`a NOT`, 5, `expected IN after "NOT", found the end of the expression`},
		{`'abc'`, 5, `expected an operator after "'abc'", found the end of the expression`},
		{`1 AND b`, 2, `expected an operator after "1", found "AND"`},
		{`[1] OR b`, 4, `expected an operator after the list, found "OR"`},
		{`null`, 4, `expected an operator after "null", found the end of the expression`},
		// unbalanced parentheses
		{`(a == 1`, 7, `missing ")" to close "(" at position 0`},
		{`((a == 1)`, 9, `missing ")" to close "(" at position 0`},
		{`(a == 1 b`, 8, `expected ")" to close "(" at position 0, found "b"`},
		{`a == 1)`, 6, `unexpected ")" with no matching "("`},
		{`(a == 1))`, 8, `unexpected ")" with no matching "("`},
		{`()`, 1, `expected a condition, found ")"`},
		{`)`, 0, `expected a condition, found ")"`},
		// unknown operators
		{`a === 1`, 2, `unknown operator "==="`},
		{`a <> 1`, 2, `unknown operator "<>"`},
		{`a ! 1`, 2, `unknown operator "!"`},
		{`a =! 1`, 2, `unknown operator "=!"`},
		{`a & b`, 2, `unexpected character "&"`},
		{`a == 1 && b == 2`, 7, `unexpected character "&"`},
		{`a == 'x' || b`, 9, `unexpected character "|"`},
		{`a == é`, 5, `unexpected character "é"`},
		{"a == \xff", 5, `unexpected character "\xff"`},
		// trailing garbage
		{`a == 1 b`, 7, `expected AND, OR or the end of the expression, found "b"`},
		{`a == 1 'x'`, 7, `expected AND, OR or the end of the expression, found "'x'"`},
		{`a == b == c`, 7, `expected AND, OR or the end of the expression, found "=="`},
		{`a b`, 2, `expected AND, OR or the end of the expression, found "b"`},
		{`a == 1 (b == 2)`, 7, `expected AND, OR or the end of the expression, found "("`},
		// malformed keys and numbers
		{`a. == 1`, 2, `expected a name after "a."`},
		{`a.1 == 1`, 2, `expected a name after "a."`},
		{`a[x] == 1`, 1, `expected an index like [0] after "a"`},
		{`a[-1] == 1`, 1, `expected an index like [0] after "a"`},
		{`a[1 == 1`, 1, `expected an index like [0] after "a"`},
		{`a[1234567890] == 1`, 2, `index 1234567890 is too large`},
		{`null.x == 1`, 4, `unexpected character "."`},
		{`a-b == 1`, 1, `unexpected character "-"`},
		{`a == - 1`, 5, `unexpected character "-"`},
		{`a == 1.`, 5, `malformed number "1.": expected digits after the decimal point`},
		{`a == 1e`, 5, `malformed number "1e": expected digits in the exponent`},
		{`a == 12abc`, 5, `malformed number "12a"`},
		{`a == 1.2.3`, 5, `malformed number "1.2."`},
		{`a == 1e999`, 5, `number "1e999" is out of range`},
		// lists
		{`a IN [1,`, 8, `missing "]" to close "[" at position 5`},
		{`a IN [1`, 7, `missing "]" to close "[" at position 5`},
		{`a IN [`, 6, `missing "]" to close "[" at position 5`},
		{`a IN [1,]`, 8, `expected a string, number, boolean or null in the list, found "]"`},
		{`a IN [b]`, 6, `expected a string, number, boolean or null in the list, found "b"`},
		{`a IN [[1]]`, 6, `expected a string, number, boolean or null in the list, found "["`},
		{`a IN [1 2]`, 8, `expected "," or "]" in the list, found "2"`},
		// limits
		{deep, MaxDepth, `expression nested deeper than 64 levels`},
		{nots, 4 * MaxDepth, `expression nested deeper than 64 levels`},
		{bigList, 6 + 2*MaxListLen, `list longer than 1000 elements`},
		{`a == '` + strings.Repeat("x", MaxSourceLen) + `'`, MaxSourceLen, `expression longer than 4096 bytes`},
	}
	for _, tt := range tests {
		name := tt.src
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			e, err := Compile(tt.src)
			require.Nil(t, e)
			require.Error(t, err)
			require.ErrorIs(t, err, ErrSyntax)
			var se *SyntaxError
			require.True(t, errors.As(err, &se))
			require.Equal(t, tt.pos, se.Pos, "position; message %q", se.Msg)
			require.Equal(t, tt.msg, se.Msg)
		})
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	t.Parallel()
	_, err := Compile(`task.type ==`)
	require.EqualError(t, err, `expr: position 12: expected a value after "=="`)
	require.NotErrorIs(t, errors.New("other"), ErrSyntax)
}

func TestCompileLimitsExactlyAtTheEdge(t *testing.T) {
	t.Parallel()
	list := "a IN [" + strings.TrimSuffix(strings.Repeat("1,", MaxListLen), ",") + "]"
	_, err := Compile(list)
	require.NoError(t, err, "a list of exactly MaxListLen elements")

	nots := strings.Repeat("NOT ", MaxDepth) + "a"
	_, err = Compile(nots)
	require.NoError(t, err, "exactly MaxDepth NOTs")

	src := "a == '" + strings.Repeat("x", MaxSourceLen-len("a == ''")) + "'"
	require.Len(t, src, MaxSourceLen)
	_, err = Compile(src)
	require.NoError(t, err, "a source of exactly MaxSourceLen bytes")

	// Parentheses closed before the next ones open do not add up.
	wide := strings.Repeat("(a) AND ", 200) + "a"
	_, err = Compile(wide)
	require.NoError(t, err)
}

func TestMustCompile(t *testing.T) {
	t.Parallel()
	require.Equal(t, `a == 1`, MustCompile(`a == 1`).String())
	require.PanicsWithValue(t, `expr.MustCompile("a =="): expr: position 4: expected a value after "=="`, func() { MustCompile(`a ==`) })
}
