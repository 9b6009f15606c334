package dataversetest

import (
	"bufio"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// auditRows are the rows of part 1 of shared/reference/emulator-fidelity-audit.md
// (82 documented behaviours), each with its one-line title. Every row has a
// TestFidelity_Row<N>_<what> test in this package or is a known gap.
var auditRows = map[int]string{
	1: "RunDesktopFlow endpoint", 2: "Older v9.x paths", 3: "Parameter types and nullability",
	4: "Undeclared or miscased parameter", 5: "runMode values", 6: "runPriority values",
	7: "connectionName semantics", 8: "connectionType values", 9: "timeout", 10: "inputs",
	11: "callbackUrl rules", 12: "callbackUrl length", 13: "RunDesktopFlow response body",
	14: "licenseCheck codes and messages", 15: "Unknown workflow", 16: "Malformed key",
	17: "Wrong HTTP method on an action", 18: "Unknown or miscased segment",
	19: "Privileges and impersonation", 20: "Run rate per connection", 21: "Request Content-Type",
	22: "Prefer: return=representation", 23: "Status read", 24: "statuscode and statecode values",
	25: "Lifecycle", 26: "Unknown row", 27: "Unknown $select column", 28: "Readable columns",
	29: "No priority column", 30: "runmode and triggertype", 31: "Other query options",
	32: "Conditional GET", 33: "If-None-Match: null", 34: "Formatted values", 35: "Owner privilege",
	36: "Other messages on flowsession", 37: "Wrong method on a collection", 38: "Outputs download",
	39: "File headers", 40: "Range download", 41: "Outputs size", 42: "Cancel", 43: "Cancel of an unknown run",
	44: "Callback request", 45: "Callback retries", 46: "Callback authentication", 47: "Error body",
	48: "Error annotations", 49: "OData headers", 50: "Request ids", 51: "Other standard headers",
	52: "401", 53: "Caller not in the environment", 54: "Missing privilege", 55: "Payload too large",
	56: "Service document, $metadata, WhoAmI", 57: "List desktop flows and read their schema",
	58: "Transport", 59: "Scope of the limits", 60: "Requests limit", 61: "Execution-time limit",
	62: "Concurrency limit", 63: "When the limits start", 64: "Retry-After value", 65: "Web servers",
	66: "Burst header", 67: "Time header format", 68: "Token request", 69: "Tenant format",
	70: "Unknown tenant", 71: "Scope", 72: "Client authentication", 73: "Certificate or federated credential",
	74: "Token success body", 75: "Token and audience", 76: "Token error body",
	77: "AADSTS7000215 (invalid secret)", 78: "AADSTS700016 (unknown app)", 79: "Invalid scope",
	80: "Other grant types", 81: "v1 token endpoint", 82: "Token endpoint and org are different services",
}

// knownGaps are the rows without a fidelity test: the emulator does not model
// the documented behaviour, for the reason given (also in docs/emulator.md).
// A row that gets a test must leave this list.
var knownGaps = map[int]string{
	36: "RetrieveMultiple on flowsessions answers 501 and PATCH/DELETE of a run 404: runs are made by RunDesktopFlow and moved by the emulator's clock; what updating or deleting a run does to it is not documented",
	40: "Range is ignored (200 with the whole file): the documented request (Range: bytes=0-1023/8192) is not a standard range and the chunk rules are not settled; outputs files are small",
	41: "no 32 MB check on outputs: they come from the configuration and the run's inputs (at most 2 MB), so a client cannot reach the limit",
	48: "error annotations (ErrorDetails, HelpLink, TraceText, InnerError) are never sent: their content is server-internal and clients must not depend on it",
	69: "only the tenant GUID is accepted: the emulator's tenant has no domain name (contoso.onmicrosoft.com → AADSTS90002)",
	73: "certificate and federated credentials (client_assertion) → 401 AADSTS7000216: the worker authenticates with secrets only",
	81: "the v1 endpoint /{tenant}/oauth2/token is a plain 404: the worker uses v2.0",
	63: "the requests and execution-time limits trip at exactly the first request over them, stricter on purpose: the docs say clients may exceed them for a while but give no amount, and a client that copes with the limit at N+1 copes with it later too",
}

// pendingRows are rows whose fidelity work is in progress in another branch
// (issue 15): they may have a test or not, and docs/emulator.md says "pending".
// The list empties when that work lands.
var pendingRows = map[int]string{}

var fidelityTestName = regexp.MustCompile(`^TestFidelity_Row([0-9]+)_[A-Za-z0-9]+$`)

// fidelityTests maps each row to its TestFidelity_Row<N>_ functions in this package.
func fidelityTests(t *testing.T) map[int][]string {
	t.Helper()
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]string{}
	fset := gotoken.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "TestFidelity_Row") {
				continue
			}
			m := fidelityTestName.FindStringSubmatch(fn.Name.Name)
			if m == nil {
				t.Errorf("%s: %s is not named TestFidelity_Row<N>_<what>", f, fn.Name.Name)
				continue
			}
			n, _ := strconv.Atoi(m[1])
			out[n] = append(out[n], fn.Name.Name)
		}
	}
	for _, names := range out {
		slices.Sort(names)
	}
	return out
}

// docRow is one line of the fidelity table of docs/emulator.md.
type docRow struct{ title, status, tests string }

// fidelityTable reads the table under "## Fidelity suite" of docs/emulator.md:
// | row | behaviour | status | test |
func fidelityTable(t *testing.T) map[int]docRow {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "emulator.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[int]docRow{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = strings.HasPrefix(line, "## Fidelity suite")
			continue
		}
		if !in || !strings.HasPrefix(line, "| ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		n, err := strconv.Atoi(strings.TrimSpace(cells[0]))
		if err != nil {
			continue // the header and the separator
		}
		if len(cells) != 4 {
			t.Errorf("docs/emulator.md fidelity row %d has %d cells, want 4: %q", n, len(cells), line)
			continue
		}
		if _, dup := rows[n]; dup {
			t.Errorf("docs/emulator.md lists row %d twice", n)
		}
		rows[n] = docRow{title: strings.TrimSpace(cells[1]), status: strings.TrimSpace(cells[2]), tests: strings.Trim(strings.TrimSpace(cells[3]), "`")}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestFidelity_EveryAuditRowHasATest: each of the audit's 82 rows has a
// TestFidelity_Row<N>_ test or is a known gap with a reason, never both, and
// docs/emulator.md's fidelity table says the same, row by row.
func TestFidelity_EveryAuditRowHasATest(t *testing.T) {
	tests := fidelityTests(t)
	doc := fidelityTable(t)
	for n := 1; n <= 82; n++ {
		title, ok := auditRows[n]
		if !ok || title == "" {
			t.Errorf("row %d has no title in auditRows", n)
		}
		reason, gap := knownGaps[n]
		if who, pending := pendingRows[n]; pending {
			if gap || who == "" {
				t.Errorf("row %d is both pending and a known gap, or pending without saying on what", n)
			}
			if d, ok := doc[n]; !ok || !strings.HasPrefix(d.status, "pending") {
				t.Errorf("docs/emulator.md row %d: %+v, want a status starting with \"pending\"", n, d)
			}
			continue
		}
		switch {
		case gap && reason == "":
			t.Errorf("row %d is a known gap without a reason", n)
		case gap && len(tests[n]) > 0:
			t.Errorf("row %d has %v now: remove it from knownGaps (and mark it in docs/emulator.md)", n, tests[n])
		case !gap && len(tests[n]) == 0:
			t.Errorf("row %d (%s) has no TestFidelity_Row%d_ test and is not a known gap", n, title, n)
		}
		d, ok := doc[n]
		if !ok {
			t.Errorf("docs/emulator.md's fidelity table has no row %d", n)
			continue
		}
		if d.title != title {
			t.Errorf("docs/emulator.md row %d is %q, want %q", n, d.title, title)
		}
		if docGap := strings.HasPrefix(d.status, "gap"); docGap != gap {
			t.Errorf("docs/emulator.md row %d status %q, want it to start with \"gap\" exactly when the row is a known gap (%v)", n, d.status, gap)
		}
		want := "—"
		if len(tests[n]) > 0 {
			want = strings.Join(tests[n], "`, `")
		}
		if d.tests != want {
			t.Errorf("docs/emulator.md row %d names test %q, want %q", n, d.tests, want)
		}
	}
	for n := range auditRows {
		if n < 1 || n > 82 {
			t.Errorf("auditRows has row %d; the audit has rows 1-82", n)
		}
	}
	for n := range tests {
		if n < 1 || n > 82 {
			t.Errorf("%v names row %d; the audit has rows 1-82", tests[n], n)
		}
	}
	for n := range doc {
		if n < 1 || n > 82 {
			t.Errorf("docs/emulator.md's fidelity table has row %d; the audit has rows 1-82", n)
		}
	}
}
