package dataversetest

import (
	"reflect"
	"testing"
)

// nnf pushes a negation into the leaves (De Morgan; eq↔ne, gt↔le, lt↔ge).
// On a row whose every column has a value it is equivalent to not(x), so it
// is an independent check of how the evaluator's operators relate.
func nnf(x filterExpr, negate bool) filterExpr {
	switch x := x.(type) {
	case logicalExpr:
		op := x.op
		if negate {
			op = map[string]string{"and": "or", "or": "and"}[op]
		}
		return logicalExpr{op: op, l: nnf(x.l, negate), r: nnf(x.r, negate)}
	case notExpr:
		return nnf(x.x, !negate)
	case cmpExpr:
		if negate {
			x.op = map[string]string{"eq": "ne", "ne": "eq", "gt": "le", "le": "gt", "lt": "ge", "ge": "lt"}[x.op]
		}
		return x
	}
	if negate {
		return notExpr{x: x}
	}
	return x
}

// FuzzFilter: the $filter parser never panics, refuses only with 400
// 0x80060888, prints what it accepts in a form that parses back to the same
// expression, and evaluates not(x) as the negation-normal form of not(x).
func FuzzFilter(f *testing.F) {
	for _, seed := range []string{
		"name eq 'Contoso'",
		"numberofemployees gt 10 and (revenue le 1000.5 or not contains(name,'it''s'))",
		"startswith(name,'a') or endswith(emailaddress1,'.com')",
		"_primarycontactid_value eq 6a3c41cd-0d2c-4e6e-8c59-5a5b0c2a7f10",
		"createdon ge 2024-01-01T00:00:00Z and creditonhold eq true",
		"accountcategorycode ne null and not (statecode eq 1)",
		"name eq 'x", "((((", "not not not name eq ''", "a eq 1e5", "x eq 2024-13-45",
	} {
		f.Add(seed)
	}
	tb, err := compileTables(nil)
	if err != nil {
		f.Fatal(err)
	}
	account := tb["account"]
	rows := []map[string]any{
		{"name": "Contoso", "numberofemployees": int64(12), "revenue": 999.0, "emailaddress1": "a@b.com",
			"primarycontactid": lookupRef{"contact", "6a3c41cd-0d2c-4e6e-8c59-5a5b0c2a7f10"}, "createdon": "2024-02-01T00:00:00Z",
			"creditonhold": true, "accountcategorycode": int64(1), "statecode": int64(0)},
		{"name": "it's", "numberofemployees": int64(-3), "revenue": 1e6, "emailaddress1": "",
			"primarycontactid": lookupRef{"contact", "00000000-0000-4000-8000-000000000000"}, "createdon": "2023-12-31T23:59:59Z",
			"creditonhold": false, "accountcategorycode": int64(2), "statecode": int64(1)},
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, perr := parseFilter(s)
		if perr != nil {
			if perr.status != 400 || perr.code != CodeQuerySyntax {
				t.Fatalf("%q: error %d %s", s, perr.status, perr.code)
			}
			return
		}
		printed := printFilter(x)
		y, perr := parseFilter(printed)
		if perr != nil {
			t.Fatalf("%q printed as %q, which does not parse: %s", s, printed, perr.message)
		}
		if !reflect.DeepEqual(x, y) || printFilter(y) != printed {
			t.Fatalf("%q → %q → %q: the round trip changed the expression", s, printed, printFilter(y))
		}
		if checkFilter(account, x) != nil {
			return
		}
		for _, r := range rows {
			full := map[string]any{}
			for _, c := range account.cols {
				full[c.LogicalName] = r[c.LogicalName]
				if full[c.LogicalName] == nil {
					full[c.LogicalName] = zeroOf(c)
				}
			}
			got := evalFilter(account, x, full)
			if neg := evalFilter(account, nnf(x, true), full); neg == got {
				t.Fatalf("%q on %v: x is %v and its negation-normal negation is %v too", printed, r, got, neg)
			}
		}
	})
}

// zeroOf is a non-null value for a column, so every column has a value.
func zeroOf(c *Column) any {
	switch edmType(c.Type) {
	case "Edm.String":
		return "z"
	case "Edm.Boolean":
		return false
	case "Edm.DateTimeOffset":
		return "2020-01-01T00:00:00Z"
	case "Edm.Guid":
		if isLookup(c.Type) {
			return lookupRef{c.Targets[0], "11111111-1111-4111-8111-111111111111"}
		}
		return "11111111-1111-4111-8111-111111111111"
	case "Edm.Decimal", "Edm.Double":
		return 0.5
	}
	return int64(0)
}
