package expr

import (
	"errors"
	"fmt"
)

// ErrSyntax matches every compile error: errors.Is(err, ErrSyntax) is true for any
// *SyntaxError returned by Compile.
var ErrSyntax = errors.New("expr: syntax error")

// SyntaxError is why Compile refused an expression and where: Pos is the 0-based byte
// offset in the source of the offending token (the source length when the
// expression ended too early), Msg says what was expected or found.
type SyntaxError struct {
	Pos int    // 0-based byte offset in the source
	Msg string // what was expected or found, without the position
}

// Error renders the error as `expr: position 12: expected a value after "=="`.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("expr: position %d: %s", e.Pos, e.Msg)
}

// Is makes errors.Is(err, ErrSyntax) true.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// syntaxErrorf builds a *SyntaxError at pos.
func syntaxErrorf(pos int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}
