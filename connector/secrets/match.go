package secrets

import (
	"sort"
	"strings"
)

// gramLen is the length of the prefix a form is indexed by; forms shorter than it are not
// matched (MinLength keeps every held value well above it).
const gramLen = 4

// matcher finds every form of the held values in a text in one pass: each form is indexed by
// its first gramLen bytes; a 64 Kibit filter of those prefixes lets the scan skip almost every
// position with a multiply and a bit test, so its cost hardly grows with the number of forms.
// A matcher is immutable; the registry swaps in a new one when the held values change.
type matcher struct {
	filter [1 << 16 / 64]uint64
	byGram map[uint32][]string // longest first
}

func newMatcher(forms []string) *matcher {
	m := &matcher{byGram: make(map[uint32][]string, len(forms))}
	for _, f := range forms {
		if len(f) < gramLen {
			continue
		}
		g := gramOf(f, 0)
		h := slot(g)
		m.filter[h>>6] |= 1 << (h & 63)
		m.byGram[g] = append(m.byGram[g], f)
	}
	for _, l := range m.byGram {
		sort.SliceStable(l, func(i, j int) bool { return len(l[i]) > len(l[j]) })
	}
	return m
}

func gramOf(s string, i int) uint32 {
	return uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24
}

func slot(g uint32) uint32 { return (g * 0x9E3779B1) >> 16 }

// span is a byte range [start, end) of a text covered by one or more forms.
type span struct{ start, end int }

// find returns the ranges of s covered by any form, merged where they overlap or touch, in
// order: overlapping secrets are hidden as one range, so no part of either is left.
func (m *matcher) find(s string) []span {
	if m == nil || len(m.byGram) == 0 {
		return nil
	}
	var out []span
	for i := 0; i+gramLen <= len(s); i++ {
		g := gramOf(s, i)
		h := slot(g)
		if m.filter[h>>6]&(1<<(h&63)) == 0 {
			continue
		}
		for _, f := range m.byGram[g] {
			if !strings.HasPrefix(s[i:], f) {
				continue
			}
			end := i + len(f)
			if n := len(out); n > 0 && i <= out[n-1].end {
				out[n-1].end = max(out[n-1].end, end)
			} else {
				out = append(out, span{i, end})
			}
			break // the longest form matching at i
		}
	}
	return out
}

// replace writes s with every span replaced by Redacted.
func replace(s string, spans []span) string {
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp.start])
		b.WriteString(Redacted)
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}
