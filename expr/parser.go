package expr

import (
	"fmt"
)

// parser is a recursive-descent parser over the tokens of one expression.
type parser struct {
	toks  []token
	i     int
	depth int // open parentheses and NOTs around the current position
}

// parse compiles src into a tree.
func parse(src string) (node, error) {
	if len(src) > MaxSourceLen {
		return nil, syntaxErrorf(MaxSourceLen, "expression longer than %d bytes", MaxSourceLen)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if t := p.peek(); t.kind == tokEOF {
		return nil, syntaxErrorf(t.pos, "empty expression")
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	switch t := p.peek(); t.kind {
	case tokEOF:
		return n, nil
	case tokRParen:
		return nil, syntaxErrorf(t.pos, `unexpected ")" with no matching "("`)
	default:
		return nil, syntaxErrorf(t.pos, "expected AND, OR or the end of the expression, found %s", describe(t))
	}
}

func (p *parser) peek() *token { return &p.toks[p.i] }

// next consumes and returns the current token (tokEOF stays current).
func (p *parser) next() *token {
	t := &p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// prev is the last consumed token, or nil at the start.
func (p *parser) prev() *token {
	if p.i == 0 {
		return nil
	}
	return &p.toks[p.i-1]
}

// enter opens one level of nesting at t (a "(" or a NOT).
func (p *parser) enter(t *token) error {
	if p.depth >= MaxDepth {
		return syntaxErrorf(t.pos, "expression nested deeper than %d levels", MaxDepth)
	}
	p.depth++
	return nil
}

// or = and { "OR" and } .
func (p *parser) parseOr() (node, error) {
	x, err := p.parseAnd()
	if err != nil || p.peek().kind != tokOr {
		return x, err
	}
	xs := []node{x}
	for p.peek().kind == tokOr {
		p.next()
		y, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	return &orNode{xs: xs}, nil
}

// and = unary { "AND" unary } .
func (p *parser) parseAnd() (node, error) {
	x, err := p.parseUnary()
	if err != nil || p.peek().kind != tokAnd {
		return x, err
	}
	xs := []node{x}
	for p.peek().kind == tokAnd {
		p.next()
		y, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	return &andNode{xs: xs}, nil
}

// unary = "NOT" unary | "(" expression ")" | condition .
func (p *parser) parseUnary() (node, error) {
	t := p.peek()
	switch t.kind {
	case tokNot:
		if err := p.enter(t); err != nil {
			return nil, err
		}
		p.next()
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		p.depth--
		return &notNode{x: x}, nil
	case tokLParen:
		if err := p.enter(t); err != nil {
			return nil, err
		}
		p.next()
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		switch c := p.peek(); c.kind {
		case tokRParen:
			p.next()
		case tokEOF:
			return nil, syntaxErrorf(c.pos, `missing ")" to close "(" at position %d`, t.pos)
		default:
			return nil, syntaxErrorf(c.pos, `expected ")" to close "(" at position %d, found %s`, t.pos, describe(c))
		}
		p.depth--
		return x, nil
	}
	return p.parseCondition()
}

// condition = operand [ operator operand ] .
func (p *parser) parseCondition() (node, error) {
	start := p.peek()
	l, ok, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, p.expectedCondition(start)
	}
	t := p.peek()
	var o op
	switch t.kind {
	case tokOp:
		o = t.op
	case tokContains:
		o = opContains
	case tokHas:
		o = opHas
	case tokIn:
		o = opIn
	case tokNot:
		if n := &p.toks[p.i+1]; n.kind != tokIn {
			return nil, syntaxErrorf(n.pos, "expected IN after %q, found %s", t.text, describe(n))
		}
		o = opNotIn
	default:
		if l.isKey || l.lit.kind == kindBool {
			return &truthNode{x: l}, nil
		}
		return nil, syntaxErrorf(t.pos, "expected an operator after %s, found %s", describeOperand(start), describe(t))
	}
	p.next()
	opText := t.text
	if o == opNotIn {
		opText += " " + p.next().text
	}
	r, ok, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, syntaxErrorf(p.peek().pos, "expected a value after %q", opText)
	}
	return &cmpNode{op: o, l: l, r: r}, nil
}

// expectedCondition is the error for a token that cannot start a condition.
func (p *parser) expectedCondition(t *token) error {
	if t.kind == tokEOF {
		if prev := p.prev(); prev != nil {
			return syntaxErrorf(t.pos, "expected a condition after %q", prev.text)
		}
		return syntaxErrorf(t.pos, "empty expression")
	}
	return syntaxErrorf(t.pos, "expected a condition, found %s", describe(t))
}

// operand = key | literal | list . ok is false (and nothing consumed) when the current
// token cannot start an operand.
func (p *parser) parseOperand() (operand, bool, error) {
	t := p.peek()
	switch t.kind {
	case tokKey:
		p.next()
		return operand{isKey: true, key: newKeyRef(t.segs)}, true, nil
	case tokString, tokNumber, tokTrue, tokFalse, tokNull:
		p.next()
		return operand{lit: literal(t)}, true, nil
	case tokLBracket:
		l, err := p.parseList()
		if err != nil {
			return operand{}, false, err
		}
		return operand{lit: l}, true, nil
	}
	return operand{}, false, nil
}

// list = "[" [ literal { "," literal } ] "]" .
func (p *parser) parseList() (value, error) {
	open := p.next()
	elems := []value{}
	if p.peek().kind == tokRBracket {
		p.next()
		return value{kind: kindList, x: elems}, nil
	}
	for {
		t := p.peek()
		switch t.kind {
		case tokString, tokNumber, tokTrue, tokFalse, tokNull:
		case tokEOF:
			return value{}, syntaxErrorf(t.pos, `missing "]" to close "[" at position %d`, open.pos)
		default:
			return value{}, syntaxErrorf(t.pos, "expected a string, number, boolean or null in the list, found %s", describe(t))
		}
		if len(elems) == MaxListLen {
			return value{}, syntaxErrorf(t.pos, "list longer than %d elements", MaxListLen)
		}
		p.next()
		elems = append(elems, literal(t))
		switch c := p.next(); c.kind {
		case tokComma:
		case tokRBracket:
			return value{kind: kindList, x: elems}, nil
		case tokEOF:
			return value{}, syntaxErrorf(c.pos, `missing "]" to close "[" at position %d`, open.pos)
		default:
			return value{}, syntaxErrorf(c.pos, `expected "," or "]" in the list, found %s`, describe(c))
		}
	}
}

// literal is the value of a string, number, boolean or null token.
func literal(t *token) value {
	switch t.kind {
	case tokString:
		return value{kind: kindString, s: t.str}
	case tokNumber:
		return value{kind: kindNumber, n: t.num}
	case tokTrue:
		return value{kind: kindBool, b: true}
	case tokFalse:
		return value{kind: kindBool, b: false}
	}
	return value{}
}

// describeOperand names, in an error message, the operand that starts at t.
func describeOperand(t *token) string {
	if t.kind == tokLBracket {
		return "the list"
	}
	return describe(t)
}

// describe names a token in an error message.
func describe(t *token) string {
	if t.kind == tokEOF {
		return "the end of the expression"
	}
	s := t.text
	if len(s) > 32 {
		s = s[:32] + "..."
	}
	return fmt.Sprintf("%q", s)
}
