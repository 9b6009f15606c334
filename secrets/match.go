package secrets

import (
	"sort"
	"strings"
)

// Forms are indexed by 4-byte grams. Every form has at least minForm bytes (shorter ones are
// not matched: MinLength keeps a held value's own spellings above it, and a form that shrank
// below it, a value trimmed to a few characters, would mangle unrelated text), so an
// occurrence of a form covers one of every stride consecutive positions: the scan looks at
// those only, and finds the form by whichever of its first stride grams falls there.
const (
	gramLen = 4
	minForm = 8
	stride  = minForm - gramLen + 1
)

// matcher finds every form of the held values in a text in one pass. A 64 Kibit filter of the
// indexed grams lets the scan skip almost every position it looks at with a multiply and a bit
// test, so its cost hardly grows with the number of forms. A matcher is immutable; the
// registry swaps in a new one when the held values change.
type matcher struct {
	filter [1 << 16 / 64]uint64
	byGram map[uint32][]candidate // longest form first
}

// candidate is a form whose gram at offset is the one indexed.
type candidate struct {
	form   string
	offset int
}

func newMatcher(forms []string) *matcher {
	m := &matcher{byGram: make(map[uint32][]candidate, len(forms)*stride)}
	for _, f := range forms {
		if len(f) < minForm {
			continue
		}
		for off := range stride {
			g := gramOf(f, off)
			h := slot(g)
			m.filter[h>>6] |= 1 << (h & 63)
			m.byGram[g] = append(m.byGram[g], candidate{f, off})
		}
	}
	for _, l := range m.byGram {
		sort.SliceStable(l, func(i, j int) bool { return len(l[i].form) > len(l[j].form) })
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
	if m == nil || len(m.byGram) == 0 || len(s) < minForm {
		return nil
	}
	var found []span
	for i := 0; i+gramLen <= len(s); i += stride {
		g := gramOf(s, i)
		h := slot(g)
		if m.filter[h>>6]&(1<<(h&63)) == 0 {
			continue
		}
		for _, c := range m.byGram[g] {
			if start := i - c.offset; start >= 0 && strings.HasPrefix(s[start:], c.form) {
				found = append(found, span{start, start + len(c.form)})
			}
		}
	}
	if len(found) == 0 {
		return nil
	}
	sort.Slice(found, func(i, j int) bool { return found[i].start < found[j].start })
	out := found[:1]
	for _, sp := range found[1:] {
		if last := &out[len(out)-1]; sp.start <= last.end {
			last.end = max(last.end, sp.end)
		} else {
			out = append(out, sp)
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
