//go:build integration

package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Issue 11, item 2: a long non-ASCII error message from Dataverse used to be cut by bytes in
// the middle of a character; the gateway client refused the FailJob (invalid UTF-8), and the job
// came back after every timeout without ever spending a retry. Three messages of 3-byte
// characters at three offsets: whatever the length of the prefix, one of them was cut inside a
// character. Each now ends in an incident at once, with a valid message.
func TestLongNonASCIIErrorsEndInAnIncident(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	for _, pad := range []string{"", "x", "xx"} {
		dv.fault(t, map[string]any{"op": "RunDesktopFlow", "count": 1, "status": 400, "code": "0x80040265",
			"message": pad + strings.Repeat("€", 3000)})
	}
	deploy(t, "integration/testdata/single-task.bpmn")
	led := newLedger(t, recordsLog)
	startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_JOB_TIMEOUT=5s", "PA_CONNECTOR_LOG_LEVEL=info")
	keys := createInstances(t, zeebe, "single-task", 3, 3, func(i int) map[string]any {
		v := triggerVars(dv, flowOK)
		v["connectionName"] = fmt.Sprintf("utf8-conn-%d", i)
		return v
	})
	t.Cleanup(func() { led.cancelUnfinished(zeebe, keys) })
	led.waitEnded(t, keys, 20*time.Second)
	for _, k := range keys {
		msg, ok := led.incidents[k]
		if !ok || !utf8.ValidString(msg) || !strings.Contains(msg, "€€€") {
			t.Fatalf("instance %d: incident %v %q", k, ok, msg)
		}
		if n := led.timedOut[k]; n != 0 {
			t.Fatalf("instance %d: the job timed out %d times", k, n)
		}
	}
}
