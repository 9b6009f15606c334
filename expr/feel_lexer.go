package expr

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind is the kind of a FEEL token.
type tokKind int

const (
	tEOF      tokKind = iota
	tName             // a word: a name or a keyword
	tBacktick         // `any name`
	tNum              // 1, 1.5, .5
	tStr              // "text" (val holds the unescaped text)
	tTemporal         // @"2024-01-01" (val holds the text)
	tOp               // punctuation and operators
)

type token struct {
	kind tokKind
	val  string
	off  int // byte offset in the whole source
}

// CompileError is a FEEL compile error: what was wrong and where (1-based line and column,
// counted in characters of the whole expression including the leading "=").
type CompileError struct {
	Line, Column int
	Msg          string
	Err          error // the cause, when there is one (a *BudgetError)
}

func (e *CompileError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg) }

func (e *CompileError) Unwrap() error { return e.Err }

// position turns a byte offset of src into a 1-based line and column.
func position(src string, off int) (line, col int) {
	if off > len(src) {
		off = len(src)
	}
	line, col = 1, 1
	for _, r := range src[:off] {
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

type lexer struct {
	src  string
	pos  int
	toks []token
}

// lex splits src[start:] into tokens; offsets refer to src.
func lex(src string, start int) ([]token, *CompileError) {
	l := &lexer{src: src, pos: start}
	for {
		if err := l.skipSpace(); err != nil {
			return nil, err
		}
		if l.pos >= len(l.src) {
			l.toks = append(l.toks, token{kind: tEOF, off: l.pos})
			return l.toks, nil
		}
		if err := l.next(); err != nil {
			return nil, err
		}
	}
}

func (l *lexer) errAt(off int, format string, args ...any) *CompileError {
	line, col := position(l.src, off)
	return &CompileError{Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

func (l *lexer) skipSpace() *CompileError {
	for l.pos < len(l.src) {
		r, size := utf8.DecodeRuneInString(l.src[l.pos:])
		switch {
		case unicode.IsSpace(r) || r == '\u00a0' || r == '\ufeff':
			l.pos += size
		case strings.HasPrefix(l.src[l.pos:], "//"):
			end := strings.IndexByte(l.src[l.pos:], '\n')
			if end < 0 {
				l.pos = len(l.src)
			} else {
				l.pos += end + 1
			}
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return l.errAt(l.pos, "unterminated comment")
			}
			l.pos += 2 + end + 2
		default:
			return nil
		}
	}
	return nil
}

func isNameStart(r rune) bool {
	return r == '_' || unicode.IsLetter(r)
}

func isNamePart(r rune) bool {
	return isNameStart(r) || unicode.IsDigit(r) || r == '\''
}

var ops2 = []string{"**", "!=", "<=", ">=", ".."}

func (l *lexer) next() *CompileError {
	start := l.pos
	rest := l.src[l.pos:]
	r, size := utf8.DecodeRuneInString(rest)
	switch {
	case r == utf8.RuneError && size == 1:
		return l.errAt(start, "invalid UTF-8 in expression")
	case r == '?':
		// "?" is the input of a unary test; it is a name of its own and no part of another
		l.pos++
		l.toks = append(l.toks, token{kind: tName, val: "?", off: start})
		return nil
	case isNameStart(r):
		l.pos += size
		for l.pos < len(l.src) {
			r, size := utf8.DecodeRuneInString(l.src[l.pos:])
			if !isNamePart(r) {
				break
			}
			l.pos += size
		}
		l.toks = append(l.toks, token{kind: tName, val: l.src[start:l.pos], off: start})
		return nil
	case r >= '0' && r <= '9' || r == '.' && len(rest) > 1 && rest[1] >= '0' && rest[1] <= '9' && !l.afterValue():
		for l.pos < len(l.src) && l.src[l.pos] >= '0' && l.src[l.pos] <= '9' {
			l.pos++
		}
		// A fraction, but not a range "1..2".
		if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && l.src[l.pos+1] >= '0' && l.src[l.pos+1] <= '9' {
			l.pos++
			for l.pos < len(l.src) && l.src[l.pos] >= '0' && l.src[l.pos] <= '9' {
				l.pos++
			}
		}
		l.toks = append(l.toks, token{kind: tNum, val: l.src[start:l.pos], off: start})
		return nil
	case r == '"':
		s, err := l.str()
		if err != nil {
			return err
		}
		l.toks = append(l.toks, token{kind: tStr, val: s, off: start})
		return nil
	case r == '@' && len(rest) > 1 && rest[1] == '"':
		l.pos++
		s, err := l.str()
		if err != nil {
			return err
		}
		l.toks = append(l.toks, token{kind: tTemporal, val: s, off: start})
		return nil
	case r == '`':
		end := strings.IndexByte(rest[1:], '`')
		if end < 0 {
			return l.errAt(start, "unterminated `name`")
		}
		l.pos += end + 2
		l.toks = append(l.toks, token{kind: tBacktick, val: rest[1 : end+1], off: start})
		return nil
	}
	for _, group := range [][]string{ops2} {
		for _, op := range group {
			if strings.HasPrefix(rest, op) {
				l.pos += len(op)
				l.toks = append(l.toks, token{kind: tOp, val: op, off: start})
				return nil
			}
		}
	}
	if strings.ContainsRune("+-*/=<>()[]{},:.", r) {
		l.pos++
		l.toks = append(l.toks, token{kind: tOp, val: string(r), off: start})
		return nil
	}
	return l.errAt(start, "unexpected character %q", r)
}

// afterValue reports whether the previous token ends a value, so that ".5" after it is a path
// or range and not a number.
func (l *lexer) afterValue() bool {
	if len(l.toks) == 0 {
		return false
	}
	t := l.toks[len(l.toks)-1]
	return t.kind == tNum || t.kind == tName || t.kind == tBacktick || t.kind == tStr || t.kind == tOp && (t.val == ")" || t.val == "]" || t.val == "}")
}

// str reads a string literal starting at the opening quote.
func (l *lexer) str() (string, *CompileError) {
	start := l.pos
	l.pos++ // opening quote
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch c {
		case '"':
			l.pos++
			return b.String(), nil
		case '\\':
			if l.pos+1 >= len(l.src) {
				return "", l.errAt(start, "unterminated string")
			}
			e := l.src[l.pos+1]
			l.pos += 2
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '"', '\'', '\\':
				b.WriteByte(e)
			case 'u':
				if l.pos+4 > len(l.src) {
					return "", l.errAt(l.pos-2, "bad \\u escape")
				}
				var v rune
				for _, h := range l.src[l.pos : l.pos+4] {
					v <<= 4
					switch {
					case h >= '0' && h <= '9':
						v |= h - '0'
					case h >= 'a' && h <= 'f':
						v |= h - 'a' + 10
					case h >= 'A' && h <= 'F':
						v |= h - 'A' + 10
					default:
						return "", l.errAt(l.pos-2, "bad \\u escape")
					}
				}
				l.pos += 4
				b.WriteRune(v)
			default:
				// FEEL (feel-scala) keeps unknown escapes as written, e.g. "5\d\d" for regexes.
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return "", l.errAt(start, "unterminated string")
}
