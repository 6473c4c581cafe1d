package expr

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tokEOF      tokKind = iota
	tokKey              // a key: name { "." name | "[" digits "]" }
	tokString           // a quoted string literal
	tokNumber           // a number literal
	tokOp               // = == != < > <= >=
	tokLParen           // (
	tokRParen           // )
	tokLBracket         // [ (a list literal; an index is part of tokKey)
	tokRBracket         // ]
	tokComma            // ,
	tokAnd              // AND
	tokOr               // OR
	tokNot              // NOT
	tokIn               // IN
	tokContains         // CONTAINS
	tokHas              // HAS
	tokTrue             // true
	tokFalse            // false
	tokNull             // null
)

// keywords maps the lower-case spelling of each keyword to its token kind. Keywords
// are case-insensitive.
var keywords = map[string]tokKind{
	"and":      tokAnd,
	"or":       tokOr,
	"not":      tokNot,
	"in":       tokIn,
	"contains": tokContains,
	"has":      tokHas,
	"true":     tokTrue,
	"false":    tokFalse,
	"null":     tokNull,
}

// maxIndexDigits bounds a key's [n] index, so that it always fits an int.
const maxIndexDigits = 9

// token is one lexical token. text is the token as written in the source.
type token struct {
	kind tokKind
	pos  int
	text string
	str  string  // tokString: the decoded value
	num  float64 // tokNumber: the value
	segs []seg   // tokKey: the path as written
	op   op      // tokOp: the operator
}

// seg is one step of a key's path: a name, or an index into a list.
type seg struct {
	name    string
	index   int
	isIndex bool
}

// lex splits src into tokens, ending with a tokEOF at len(src).
func lex(src string) ([]token, error) {
	toks := make([]token, 0, len(src)/4+1)
	i := 0
	for {
		for i < len(src) && isSpace(src[i]) {
			i++
		}
		if i >= len(src) {
			return append(toks, token{kind: tokEOF, pos: len(src)}), nil
		}
		start := i
		c := src[i]
		switch {
		case c == '(':
			toks = append(toks, token{kind: tokLParen, pos: i, text: "("})
			i++
		case c == ')':
			toks = append(toks, token{kind: tokRParen, pos: i, text: ")"})
			i++
		case c == '[':
			toks = append(toks, token{kind: tokLBracket, pos: i, text: "["})
			i++
		case c == ']':
			toks = append(toks, token{kind: tokRBracket, pos: i, text: "]"})
			i++
		case c == ',':
			toks = append(toks, token{kind: tokComma, pos: i, text: ","})
			i++
		case c == '\'' || c == '"':
			s, end, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokString, pos: start, text: src[start:end], str: s})
			i = end
		case isDigit(c) || (c == '-' && i+1 < len(src) && isDigit(src[i+1])):
			n, end, err := lexNumber(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokNumber, pos: start, text: src[start:end], num: n})
			i = end
		case isOpChar(c):
			for i < len(src) && isOpChar(src[i]) {
				i++
			}
			o, ok := opFromSymbol(src[start:i])
			if !ok {
				return nil, syntaxErrorf(start, "unknown operator %q", src[start:i])
			}
			toks = append(toks, token{kind: tokOp, pos: start, text: src[start:i], op: o})
		case isNameStart(c):
			t, end, err := lexKey(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i = end
		default:
			return nil, syntaxErrorf(i, "unexpected character %s", quoteChar(src, i))
		}
	}
}

// lexString reads the string literal whose opening quote is at src[start]. It
// returns the decoded value and the offset just past the closing quote.
func lexString(src string, start int) (string, int, error) {
	quote := src[start]
	end := start + 1
	for end < len(src) && src[end] != quote && src[end] != '\\' {
		end++
	}
	if end < len(src) && src[end] == quote { // no escapes: no copy
		return src[start+1 : end], end + 1, nil
	}
	var b strings.Builder
	for i := start + 1; i < len(src); i++ {
		switch c := src[i]; c {
		case quote:
			return b.String(), i + 1, nil
		case '\\':
			if i+1 >= len(src) {
				return "", 0, syntaxErrorf(start, "unterminated string")
			}
			switch e := src[i+1]; e {
			case '\\', '\'', '"':
				b.WriteByte(e)
				i++
			default:
				return "", 0, syntaxErrorf(i, `unknown escape "\%c" in string (only \\, \' and \" are allowed)`, e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, syntaxErrorf(start, "unterminated string")
}

// lexNumber reads the number starting at src[start] (digits, or "-" then digits).
func lexNumber(src string, start int) (float64, int, error) {
	i := start
	if src[i] == '-' {
		i++
	}
	i = skipDigits(src, i)
	if i < len(src) && src[i] == '.' {
		if i+1 >= len(src) || !isDigit(src[i+1]) {
			return 0, 0, syntaxErrorf(start, "malformed number %q: expected digits after the decimal point", src[start:i+1])
		}
		i = skipDigits(src, i+1)
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		j := i + 1
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if j >= len(src) || !isDigit(src[j]) {
			return 0, 0, syntaxErrorf(start, "malformed number %q: expected digits in the exponent", src[start:j])
		}
		i = skipDigits(src, j)
	}
	if i < len(src) && (isNameChar(src[i]) || src[i] == '.') {
		return 0, 0, syntaxErrorf(start, "malformed number %q", src[start:i+1])
	}
	n, err := strconv.ParseFloat(src[start:i], 64)
	if err != nil {
		return 0, 0, syntaxErrorf(start, "number %q is out of range", src[start:i])
	}
	return n, i, nil
}

// lexKey reads a keyword or a key starting at src[start]. A keyword never continues
// into a path: "null.x" is the keyword null followed by an unexpected ".".
func lexKey(src string, start int) (token, int, error) {
	i := skipName(src, start)
	name := src[start:i]
	if kind, ok := keywords[strings.ToLower(name)]; ok {
		return token{kind: kind, pos: start, text: name}, i, nil
	}
	segs := []seg{{name: name}}
	for i < len(src) {
		switch src[i] {
		case '.':
			if i+1 >= len(src) || !isNameStart(src[i+1]) {
				return token{}, 0, syntaxErrorf(i+1, "expected a name after %q", src[start:i+1])
			}
			j := skipName(src, i+1)
			segs = append(segs, seg{name: src[i+1 : j]})
			i = j
			continue
		case '[':
			j := skipDigits(src, i+1)
			if j == i+1 || j >= len(src) || src[j] != ']' {
				return token{}, 0, syntaxErrorf(i, "expected an index like [0] after %q", src[start:i])
			}
			if j-(i+1) > maxIndexDigits {
				return token{}, 0, syntaxErrorf(i+1, "index %s is too large", src[i+1:j])
			}
			n, _ := strconv.Atoi(src[i+1 : j]) // at most 9 digits: cannot fail
			segs = append(segs, seg{index: n, isIndex: true})
			i = j + 1
			continue
		}
		break
	}
	return token{kind: tokKey, pos: start, text: src[start:i], segs: segs}, i, nil
}

func isSpace(c byte) bool     { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isDigit(c byte) bool     { return '0' <= c && c <= '9' }
func isLetter(c byte) bool    { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
func isNameStart(c byte) bool { return isLetter(c) || c == '_' }
func isNameChar(c byte) bool  { return isNameStart(c) || isDigit(c) }
func isOpChar(c byte) bool    { return c == '=' || c == '!' || c == '<' || c == '>' }

func skipDigits(src string, i int) int {
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	return i
}

func skipName(src string, i int) int {
	for i < len(src) && isNameChar(src[i]) {
		i++
	}
	return i
}

// quoteChar quotes the (possibly multi-byte, possibly invalid) character at src[i].
func quoteChar(src string, i int) string {
	_, size := utf8.DecodeRuneInString(src[i:])
	return strconv.Quote(src[i : i+size])
}
