package expr

import (
	"fmt"
	"time"
	_ "time/tzdata" // region ids resolve the same on every machine, with or without a zone database
)

// FEEL's calendar functions (Camunda's "Temporal functions" page) and the date and time
// forms of the "Conversion functions" page that take more than one argument. A date-time
// with a zone or offset answers for its own local date: day of week(@"2021-01-01T23:30:00@Europe/Berlin")
// is Friday wherever the worker runs.

var _ = addBuiltins(map[string]*builtin{
	"day of week": calendarFn(func(t time.Time) any { return t.Weekday().String() }),
	"day of year": calendarFn(func(t time.Time) any { return int64(t.YearDay()) }),
	"week of year": calendarFn(func(t time.Time) any {
		_, w := t.ISOWeek()
		return int64(w)
	}),
	"month of year": calendarFn(func(t time.Time) any { return t.Month().String() }),
	"last day of month": temporal(calendarFn(func(t time.Time) any {
		y, m, _ := t.Date()
		return feelDate{time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC)}
	})),
})

// calendarFn is a function of a date or a date-time's local date.
func calendarFn(f func(t time.Time) any) *builtin {
	b := pure(1, 1, p("date"), func(a []any) any {
		switch v := a[0].(type) {
		case feelDate:
			return f(v.t)
		case feelDateTime:
			return f(v.t)
		}
		return nil
	})
	b.cheap, b.keeps = true, true
	return b
}

// dateTimeAtZone is date and time(date, timezone): the same instant at another zone, a
// region id ("America/Los_Angeles"), "Z" or an offset ("+05:00"). A local date-time is taken
// as being at that zone already, as feel-scala does. An unknown zone gives null.
func dateTimeAtZone(dt feelDateTime, zone string) any {
	var loc *time.Location
	region := ""
	switch {
	case zone == "Z":
		loc = time.UTC
	case len(zone) == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':':
		t, _, _, ok := parseClock("00:00:00"+zone, 1970, 1, 1)
		if !ok {
			return nil
		}
		loc = t.Location()
	default:
		l, err := loadZone(zone)
		if err != nil {
			return nil
		}
		loc, region = l, zone
	}
	t := dt.t
	if dt.local {
		y, m, d := t.Date()
		t = time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
	} else {
		t = t.In(loc)
	}
	return feelDateTime{t: t, zone: region}
}

// dateTimeForms are the parameter names of date and time's forms, for named arguments.
var dateTimeForms = map[string][][]string{
	"date and time": {p("from"), p("date", "time"), p("date", "timezone")},
	"date":          {p("from"), p("year", "month", "day")},
	"time":          {p("from"), p("hour", "minute", "second", "offset")},
	"abs":           {p("n"), p("number")}, // feel-scala takes both names
}

var _ = setForms(dateTimeForms)

// loadZone resolves a region id; "Local" (the machine's zone) and "" are not region ids.
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return time.LoadLocation(name)
}
