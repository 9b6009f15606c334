package expr

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
)

// FEEL's temporal values. They compare and compute as FEEL says (a date with a date, a duration
// with a duration of its kind); in a result they become ISO-8601 strings, the form FEEL's
// string() gives them: "2024-01-02", "2024-01-02T10:00:00Z", "10:00:00", "P1DT2H", "P1Y2M".

// feelDate is a calendar date (held at UTC midnight).
type feelDate struct{ t time.Time }

// feelDateTime is a date and time; local has no offset, zone is a region id ("Europe/Berlin")
// when one was given.
type feelDateTime struct {
	t     time.Time
	local bool
	zone  string
}

// feelTime is a time of day (held on 1970-01-01), local or with an offset; zone is a region
// id when one was given (@"10:00:00@Europe/Berlin").
type feelTime struct {
	t     time.Time
	local bool
	zone  string
}

// dayTimeDuration is FEEL's days-and-time duration.
type dayTimeDuration struct{ d time.Duration }

// yearMonthDuration is FEEL's years-and-months duration, in months.
type yearMonthDuration struct{ months int64 }

func (d feelDate) String() string { return d.t.Format("2006-01-02") }

func (d feelDateTime) String() string {
	s := d.t.Format("2006-01-02T15:04:05.999999999")
	switch {
	case d.local:
		return s
	case d.zone != "":
		return s + "@" + d.zone
	}
	return s + offsetString(d.t)
}

func (t feelTime) String() string {
	s := t.t.Format("15:04:05.999999999")
	switch {
	case t.local:
		return s
	case t.zone != "":
		return s + "@" + t.zone
	}
	return s + offsetString(t.t)
}

func offsetString(t time.Time) string {
	_, off := t.Zone()
	if off == 0 {
		return "Z"
	}
	return t.Format("-07:00")
}

// String is feel-scala's form of a days-time duration: whole seconds (rounded down, as
// java.time's Duration.getSeconds), "P0D" for none.
func (d dayTimeDuration) String() string {
	secs := d.d / time.Second
	if d.d%time.Second < 0 {
		secs--
	}
	if secs == 0 {
		return "P0D"
	}
	v := secs * time.Second
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
		v = -v
	}
	b.WriteByte('P')
	days := v / (24 * time.Hour)
	v -= days * 24 * time.Hour
	if days > 0 {
		fmt.Fprintf(&b, "%dD", days)
	}
	h, m := v/time.Hour, (v%time.Hour)/time.Minute
	s := v % time.Minute
	if h > 0 || m > 0 || s > 0 || days == 0 {
		b.WriteByte('T')
	}
	if h > 0 {
		fmt.Fprintf(&b, "%dH", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dM", m)
	}
	if s > 0 || (days == 0 && h == 0 && m == 0) {
		b.WriteString(strconv.FormatFloat(s.Seconds(), 'f', -1, 64))
		b.WriteByte('S')
	}
	return b.String()
}

func (d yearMonthDuration) String() string {
	m := d.months
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	switch {
	case m == 0:
		return "P0Y"
	case m%12 == 0:
		return fmt.Sprintf("%sP%dY", sign, m/12)
	case m < 12:
		return fmt.Sprintf("%sP%dM", sign, m)
	}
	return fmt.Sprintf("%sP%dY%dM", sign, m/12, m%12)
}

// parsing

var (
	dateRe     = regexp.MustCompile(`^(-?\d{4,9})-(\d{2})-(\d{2})$`)
	timeRe     = regexp.MustCompile(`^(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2}|@[A-Za-z_]+(?:/[A-Za-z_+-]+)*)?$`)
	durationRe = regexp.MustCompile(`^(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)
	ymRe       = regexp.MustCompile(`^(-)?P(?:(\d+)Y)?(?:(\d+)M)?$`)
)

func parseDate(s string) (feelDate, bool) {
	m := dateRe.FindStringSubmatch(s)
	if m == nil {
		return feelDate{}, false
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	d, _ := strconv.Atoi(m[3])
	return makeDate(y, mo, d)
}

func makeDate(y, mo, d int) (feelDate, bool) {
	t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != mo || t.Day() != d {
		return feelDate{}, false // 2024-02-30
	}
	return feelDate{t}, true
}

// parseClock parses "HH:MM:SS[.f][Z|±HH:MM|@Zone]" on the given day.
func parseClock(s string, y int, mo time.Month, d int) (t time.Time, local bool, zone string, ok bool) {
	m := timeRe.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false, "", false
	}
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	sec, _ := strconv.Atoi(m[3])
	if h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false, "", false
	}
	var ns int
	if m[4] != "" {
		f, _ := strconv.ParseFloat("0"+m[4], 64)
		ns = int(math.Round(f * 1e9))
	}
	loc := time.UTC
	switch z := m[5]; {
	case z == "":
		local = true
	case z == "Z":
	case z[0] == '@':
		l, err := loadZone(z[1:])
		if err != nil {
			return time.Time{}, false, "", false
		}
		loc, zone = l, z[1:]
	default:
		oh, _ := strconv.Atoi(z[1:3])
		om, _ := strconv.Atoi(z[4:6])
		off := oh*3600 + om*60
		if om > 59 || off > 18*3600 { // Java's ZoneOffset: at most ±18:00
			return time.Time{}, false, "", false
		}
		if z[0] == '-' {
			off = -off
		}
		if off != 0 {
			loc = time.FixedZone("", off)
		}
	}
	return time.Date(y, mo, d, h, mi, sec, ns, loc), local, zone, true
}

func parseTime(s string) (feelTime, bool) {
	t, local, zone, ok := parseClock(strings.TrimPrefix(s, "T"), 1970, 1, 1) // time("T23:59:00") as documented
	return feelTime{t, local, zone}, ok
}

func parseDateTime(s string) (feelDateTime, bool) {
	i := strings.IndexByte(s, 'T')
	if i < 0 {
		if d, ok := parseDate(s); ok { // a date is midnight of that day
			return feelDateTime{t: d.t, local: true}, true
		}
		return feelDateTime{}, false
	}
	d, ok := parseDate(s[:i])
	if !ok {
		return feelDateTime{}, false
	}
	t, local, zone, ok := parseClock(s[i+1:], d.t.Year(), d.t.Month(), d.t.Day())
	return feelDateTime{t, local, zone}, ok
}

// parseDuration parses an ISO-8601 duration into a days-time or a years-months duration.
func parseDuration(s string) (any, bool) {
	if m := ymRe.FindStringSubmatch(s); m != nil && (m[2] != "" || m[3] != "") {
		y, err1 := strconv.ParseInt(orZero(m[2]), 10, 32)
		mo, err2 := strconv.ParseInt(orZero(m[3]), 10, 32)
		if err1 != nil || err2 != nil {
			return nil, false
		}
		v := y*12 + mo
		if m[1] == "-" {
			v = -v
		}
		return yearMonthDuration{v}, true
	}
	m := durationRe.FindStringSubmatch(s)
	if m == nil || s == "P" || strings.HasSuffix(s, "T") || m[2]+m[3]+m[4]+m[5] == "" {
		return nil, false
	}
	var total float64
	for i, unit := range []float64{86400, 3600, 60, 1} {
		if m[i+2] != "" {
			f, _ := strconv.ParseFloat(m[i+2], 64)
			total += f * unit
		}
	}
	if total > 1e11 { // about 3000 years: beyond time.Duration
		return nil, false
	}
	d := time.Duration(math.Round(total * 1e9))
	if m[1] == "-" {
		d = -d
	}
	return dayTimeDuration{d}, true
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// parseTemporalLiteral reads @"..." by its form.
func parseTemporalLiteral(s string) (any, bool) {
	if strings.HasPrefix(s, "P") || strings.HasPrefix(s, "-P") {
		return parseDuration(s)
	}
	if d, ok := parseDate(s); ok {
		return d, true
	}
	if strings.Contains(s, "T") {
		if dt, ok := parseDateTime(s); ok {
			return dt, true
		}
	}
	if t, ok := parseTime(s); ok {
		return t, true
	}
	return nil, false
}

// operations

// equalTemporal is "=" of temporal values (ok false: not temporal values of one kind). Date-
// times and times are equal when they are the same instant at the same offset and zone, as
// feel-scala compares them (Java's equals): 10:00@Europe/Berlin is neither 10:00+01:00 nor
// 09:00Z, while < and > compare the instants. A local and a zoned value give null.
func equalTemporal(a, b any) (any, bool) {
	c, ok := compareTemporal(a, b)
	if !ok {
		if sameTemporalKind(a, b) {
			return nil, true
		}
		return nil, false
	}
	if c != 0 {
		return false, true
	}
	switch av := a.(type) {
	case feelDateTime:
		bv := b.(feelDateTime)
		return av.zone == bv.zone && sameOffset(av.t, bv.t), true
	case feelTime:
		bv := b.(feelTime)
		return av.zone == bv.zone && sameOffset(av.t, bv.t), true
	}
	return true, true
}

func sameOffset(a, b time.Time) bool {
	_, x := a.Zone()
	_, y := b.Zone()
	return x == y
}

func sameTemporalKind(a, b any) bool {
	switch a.(type) {
	case feelDate:
		_, ok := b.(feelDate)
		return ok
	case feelDateTime:
		_, ok := b.(feelDateTime)
		return ok
	case feelTime:
		_, ok := b.(feelTime)
		return ok
	case dayTimeDuration:
		_, ok := b.(dayTimeDuration)
		return ok
	case yearMonthDuration:
		_, ok := b.(yearMonthDuration)
		return ok
	}
	return false
}

func compareTemporal(a, b any) (int, bool) {
	switch av := a.(type) {
	case feelDate:
		if bv, ok := b.(feelDate); ok {
			return av.t.Compare(bv.t), true
		}
	case feelDateTime:
		if bv, ok := b.(feelDateTime); ok {
			if av.local != bv.local {
				return 0, false
			}
			return compareDateTimes(av, bv), true
		}
	case feelTime:
		if bv, ok := b.(feelTime); ok {
			if av.local != bv.local {
				return 0, false
			}
			return av.t.Compare(bv.t), true
		}
	case dayTimeDuration:
		if bv, ok := b.(dayTimeDuration); ok {
			return cmp3(int64(av.d), int64(bv.d)), true
		}
	case yearMonthDuration:
		if bv, ok := b.(yearMonthDuration); ok {
			return cmp3(av.months, bv.months), true
		}
	}
	return 0, false
}

// compareDateTimes orders date-times as feel-scala does, by Java's ZonedDateTime.compareTo:
// the instant, then the wall-clock time, then the zone's id; so of two at the same instant with
// different offsets (10:00+01:00 and 09:00Z) the later wall clock is the greater, and "<=" is
// false one way round and ">=" true.
func compareDateTimes(a, b feelDateTime) int {
	if c := a.t.Compare(b.t); c != 0 || a.local {
		return c
	}
	wall := func(t time.Time) time.Time {
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	}
	if c := wall(a.t).Compare(wall(b.t)); c != 0 {
		return c
	}
	return strings.Compare(zoneID(a), zoneID(b))
}

// zoneID is Java's id of a date-time's zone: the region id, else the offset ("Z", "+01:00").
func zoneID(d feelDateTime) string {
	if d.zone != "" {
		return d.zone
	}
	_, off := d.t.Zone()
	if off == 0 {
		return "Z"
	}
	return d.t.Format("-07:00")
}

func addTemporal(a, b any) any {
	switch av := a.(type) {
	case feelDate:
		switch bv := b.(type) {
		case dayTimeDuration:
			return feelDate{av.t.Add(bv.d).Truncate(24 * time.Hour)}
		case yearMonthDuration:
			return feelDate{addMonths(av.t, bv.months)}
		}
	case feelDateTime:
		switch bv := b.(type) {
		case dayTimeDuration:
			av.t = av.t.Add(bv.d)
			return av
		case yearMonthDuration:
			av.t = addMonths(av.t, bv.months)
			return av
		}
	case feelTime:
		if bv, ok := b.(dayTimeDuration); ok {
			t := av.t.Add(bv.d)
			av.t = time.Date(1970, 1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
			return av
		}
	case dayTimeDuration:
		switch bv := b.(type) {
		case dayTimeDuration:
			return dayTimeDuration{av.d + bv.d}
		case feelDate, feelDateTime, feelTime:
			return addTemporal(b, a)
		}
	case yearMonthDuration:
		switch bv := b.(type) {
		case yearMonthDuration:
			return yearMonthDuration{av.months + bv.months}
		case feelDate, feelDateTime:
			return addTemporal(b, a)
		}
	}
	return nil
}

// addMonths adds months the way java.time does: the day is clamped to the month's last day.
func addMonths(t time.Time, months int64) time.Time {
	y, m, d := t.Date()
	total := int64(y)*12 + int64(m-1) + months
	ny, nm := int(total/12), time.Month(total%12+1)
	if total < 0 && total%12 != 0 {
		ny, nm = int(total/12)-1, time.Month(total%12+13)
	}
	last := time.Date(ny, nm+1, 0, 0, 0, 0, 0, time.UTC).Day()
	if d > last {
		d = last
	}
	return time.Date(ny, nm, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
}

func subTemporal(a, b any) any {
	switch av := a.(type) {
	case feelDate:
		switch bv := b.(type) {
		case feelDate:
			return dayTimeDuration{av.t.Sub(bv.t)}
		case dayTimeDuration, yearMonthDuration:
			return addTemporal(a, negTemporal(bv))
		}
	case feelDateTime:
		switch bv := b.(type) {
		case feelDateTime:
			if av.local != bv.local {
				return nil
			}
			return dayTimeDuration{av.t.Sub(bv.t)}
		case dayTimeDuration, yearMonthDuration:
			return addTemporal(a, negTemporal(bv))
		}
	case feelTime:
		switch bv := b.(type) {
		case feelTime:
			if av.local != bv.local { // feel-scala: a local time and one with an offset do not subtract
				return nil
			}
			return dayTimeDuration{av.t.Sub(bv.t)}
		case dayTimeDuration:
			return addTemporal(a, negTemporal(bv))
		}
	case dayTimeDuration:
		if bv, ok := b.(dayTimeDuration); ok {
			return dayTimeDuration{av.d - bv.d}
		}
	case yearMonthDuration:
		if bv, ok := b.(yearMonthDuration); ok {
			return yearMonthDuration{av.months - bv.months}
		}
	}
	return nil
}

func negTemporal(a any) any {
	switch v := a.(type) {
	case dayTimeDuration:
		return dayTimeDuration{-v.d}
	case yearMonthDuration:
		return yearMonthDuration{-v.months}
	}
	return nil
}

// mulTemporal is duration * number. The number is cut to an integer first, as feel-scala
// does (@"PT1H" * 1.5 is PT1H).
func mulTemporal(a, n any) any {
	k, ok := intOf(n, apd.RoundDown)
	if !ok {
		return nil
	}
	switch v := a.(type) {
	case dayTimeDuration:
		if r, ok := toInt(numMul(int64(v.d), k)); ok {
			return dayTimeDuration{time.Duration(r)}
		}
	case yearMonthDuration:
		if r, ok := toInt(numMul(v.months, k)); ok {
			return yearMonthDuration{r}
		}
	}
	return nil
}

// divTemporal is duration / number or duration / duration.
func divTemporal(a, b any) any {
	switch v := a.(type) {
	case dayTimeDuration:
		if w, ok := b.(dayTimeDuration); ok && w.d != 0 { // feel-scala: the whole quotient
			return int64(v.d / w.d)
		}
		if isNum(b) {
			if r, ok := roundInt(numDiv(int64(v.d), b)); ok {
				return dayTimeDuration{time.Duration(r)}
			}
		}
	case yearMonthDuration:
		if w, ok := b.(yearMonthDuration); ok && w.months != 0 { // feel-scala: the whole quotient
			return v.months / w.months
		}
		if isNum(b) { // feel-scala: whole months, the fraction cut (P1Y2M / 5 is P2M)
			if r, ok := intOf(numDiv(v.months, b), apd.RoundDown); ok {
				return yearMonthDuration{r}
			}
		}
	}
	return nil
}

func weekday(t time.Time) int64 {
	w := int64(t.Weekday())
	if w == 0 {
		return 7
	}
	return w
}

// temporalProperty is "x.year" and the other properties FEEL gives temporal values.
func temporalProperty(x any, key string) any {
	switch v := x.(type) {
	case feelDate:
		switch key {
		case "year":
			return int64(v.t.Year())
		case "month":
			return int64(v.t.Month())
		case "day":
			return int64(v.t.Day())
		case "weekday":
			return weekday(v.t)
		}
	case feelDateTime:
		switch key {
		case "year":
			return int64(v.t.Year())
		case "month":
			return int64(v.t.Month())
		case "day":
			return int64(v.t.Day())
		case "weekday":
			return weekday(v.t)
		case "hour":
			return int64(v.t.Hour())
		case "minute":
			return int64(v.t.Minute())
		case "second":
			return int64(v.t.Second())
		case "time offset":
			if v.local {
				return nil
			}
			_, off := v.t.Zone()
			return dayTimeDuration{time.Duration(off) * time.Second}
		case "timezone":
			if v.zone != "" {
				return v.zone
			}
			return nil
		}
	case feelTime:
		switch key {
		case "hour":
			return int64(v.t.Hour())
		case "minute":
			return int64(v.t.Minute())
		case "second":
			return int64(v.t.Second())
		case "time offset":
			if v.local {
				return nil
			}
			_, off := v.t.Zone()
			return dayTimeDuration{time.Duration(off) * time.Second}
		}
	case dayTimeDuration:
		switch key {
		case "days":
			return int64(v.d / (24 * time.Hour))
		case "hours":
			return int64(v.d % (24 * time.Hour) / time.Hour)
		case "minutes":
			return int64(v.d % time.Hour / time.Minute)
		case "seconds":
			return int64(v.d % time.Minute / time.Second)
		}
	case yearMonthDuration:
		switch key {
		case "years":
			return v.months / 12
		case "months":
			return v.months % 12
		}
	}
	return nil
}
