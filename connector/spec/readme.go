package spec

import (
	"fmt"
	"regexp"
	"strings"
)

// Markers around the generated reference in README.md.
const (
	ReadmeBegin = "<!-- operations reference: generated from connector/spec by `go run ./tools/specgen`; do not edit -->"
	ReadmeEnd   = "<!-- end of the generated operations reference -->"
)

// ReadmeTable is the operation reference of every job type, in Markdown: one table of the
// operations and the variables each takes, one of the variables (their type, bounds, default
// and meaning), one of the task headers.
func ReadmeTable(jobs []*JobType) string {
	var b strings.Builder
	for _, j := range jobs {
		fmt.Fprintf(&b, "Job type `%s` (template `%s`, [%s](examples/element-templates/%s)); `operationType` is one of:\n\n",
			j.Type, j.TemplateID, j.File, j.File)
		b.WriteString("| operation | what it does | variables (* required) |\n| --- | --- | --- |\n")
		for _, op := range j.Operations {
			var vars []string
			for _, f := range op.Fields {
				v := "`" + f.Name + "`"
				if op.Requires(f) {
					v += "\\*"
				}
				vars = append(vars, v)
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", op.Name, op.Label, strings.Join(vars, ", "))
		}
		b.WriteString("\n| variable | value | meaning |\n| --- | --- | --- |\n")
		for _, f := range j.Fields() {
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f.Name, cell(valueText(f)), cell(markdown(f.Help+" "+f.Note)))
		}
		b.WriteString("\n| task header | value | meaning |\n| --- | --- | --- |\n")
		for _, h := range j.Headers {
			if h.Binding != Header {
				continue
			}
			help := h.Help + " " + h.Note
			if h == ResultExpression {
				help = "A FEEL context whose entries become process variables; each operation's template default is in the template."
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", h.Name, cell(valueText(h)), cell(markdown(help)))
		}
	}
	return b.String()
}

// valueText says what a field accepts, derived from its kind and bounds.
func valueText(f *Field) string {
	var s string
	switch f.Kind {
	case Text:
		s = "text"
		if f.Shape != "" {
			s += ": " + f.Shape
		}
	case GUID:
		s = "a GUID (braces and case ignored)"
	case OrgURL:
		s = "the organization's root URL, such as `https://org.crm.dynamics.com`"
	case Int:
		if len(f.Choices) > 0 {
			s = "a number or numeric string: " + choiceList(f, "`", "`", " or ")
		} else {
			s = fmt.Sprintf("a whole number%s (number or numeric string), %d–%d", unitOf(f, " of "), f.Min, f.Max)
		}
	case Enum:
		s = choiceList(f, "`", "`", " or ")
	case Duration:
		s = fmt.Sprintf("an ISO-8601 duration (days, hours, minutes, seconds), %s–%s", ISODuration(f.Shortest), ISODuration(f.Longest))
	case JSONObject, Context:
		s = "a context, or a JSON object as text"
		if f.MaxBytes > 0 {
			s += fmt.Sprintf(", at most %s as JSON", bytesText(f.MaxBytes))
		}
	case List:
		s = "a list of strings, or one comma-separated string"
	case Bool:
		s = "`true` or `false`"
	case RowRef:
		s = "a GUID, or an alternate key as a context of column values"
	case Auth:
		var vs []string
		for _, v := range f.Variants {
			var names []string
			for _, sub := range v.Fields {
				names = append(names, sub.Name)
			}
			vs = append(vs, fmt.Sprintf("`{type: \"%s\", %s}`", v.Type, strings.Join(names, ", ")))
		}
		s = "a context: " + strings.Join(vs, " or ")
	case Expression:
		s = "a FEEL expression"
	}
	if f.Default != "" && f.Kind != Auth && f.Binding != Header {
		s += "; default `" + f.Default + "`"
		if f.ZeroIsDefault {
			s += " (also for 0)"
		}
	}
	return s
}

// choiceList writes the non-empty values of a field's choices: "a, b or c".
func choiceList(f *Field, open, close, last string) string {
	var vs []string
	for _, c := range f.Choices {
		if c.Value == "" {
			continue
		}
		v := open + c.Value + close
		if c.Means != "" {
			v += " (" + c.Means + ")"
		}
		vs = append(vs, v)
	}
	if len(vs) < 2 {
		return strings.Join(vs, "")
	}
	return strings.Join(vs[:len(vs)-1], ", ") + last + vs[len(vs)-1]
}

func bytesText(n int) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

var link = regexp.MustCompile(`<a href="([^"]+)"[^>]*>([^<]+)</a>`)

// markdown turns the help's HTML links into Markdown links.
func markdown(s string) string {
	return strings.TrimSpace(link.ReplaceAllString(s, "[$2]($1)"))
}

// cell escapes what would end a table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// SpliceReadme replaces what lies between the markers of readme with table; it fails when
// the markers are missing, so that the reference cannot silently vanish.
func SpliceReadme(readme, table string) (string, error) {
	i := strings.Index(readme, ReadmeBegin)
	k := strings.Index(readme, ReadmeEnd)
	if i < 0 || k < i {
		return "", fmt.Errorf("README.md lacks the markers %q ... %q", ReadmeBegin, ReadmeEnd)
	}
	return readme[:i+len(ReadmeBegin)] + "\n" + table + readme[k:], nil
}
