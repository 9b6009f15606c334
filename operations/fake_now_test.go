package operations_test

import "time"

type clock struct{ t time.Time }

func fakeNow() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { return c.t }

func (c *clock) add(seconds int) { c.t = c.t.Add(time.Duration(seconds) * time.Second) }
