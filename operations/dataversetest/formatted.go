package dataversetest

import (
	"strconv"
	"strings"
	"time"
)

// formatValue is a column value's OData.Community.Display.V1.FormattedValue
// as Dataverse renders it for an en-US user in UTC: option labels, Yes/No,
// grouped numbers, money with a currency symbol, dates as M/D/YYYY h:mm AM.
func formatValue(c *Column, v any) (string, bool) {
	switch c.Type {
	case TypePicklist, TypeState, TypeStatus:
		n, ok := v.(int64)
		label, found := c.Options[int(n)]
		return label, ok && found
	case TypeBoolean:
		b, ok := v.(bool)
		if !ok {
			return "", false
		}
		if b {
			return "Yes", true
		}
		return "No", true
	case TypeInteger:
		n, ok := v.(int64)
		return groupDigits(strconv.FormatInt(n, 10)), ok
	case TypeMoney:
		f, ok := v.(float64)
		s := groupDigits(strconv.FormatFloat(f, 'f', 2, 64))
		if strings.HasPrefix(s, "-") {
			return "-$" + s[1:], ok
		}
		return "$" + s, ok
	case TypeDecimal, TypeDouble:
		f, ok := v.(float64)
		return groupDigits(strconv.FormatFloat(f, 'f', 2, 64)), ok
	case TypeDateTime:
		s, _ := v.(string)
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return "", false
		}
		return ts.Format("1/2/2006 3:04 PM"), true
	}
	return "", false
}

// groupDigits puts thousands separators into a decimal number's integer part.
func groupDigits(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, d := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if hasFrac {
		return sign + b.String() + "." + frac
	}
	return sign + b.String()
}
