//go:build integration

package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The engine (the Zeebe gateway) stops while desktop flows run and comes back later (the
// test's own engine, so other tests' engine is left alone): /readyz answers 503 for the whole
// outage and 200 after it, the worker logs the outage once per failure streak instead of once
// per attempt, and every instance completes with the run it started before the outage.
//
// The name stays TestBrokerOutageAndRecovery, as docs/reliability.md and make reliability cite
// it; the "broker" is the gateway, here a private pa-engine.
func TestBrokerOutageAndRecovery(t *testing.T) {
	const instances = 4
	outage := time.Duration(envInt("PA_RELIABILITY_OUTAGE_SECONDS", 5)) * time.Second
	b := startPrivateEngine(t)
	b.deploy(t, "integration/testdata/wait.bpmn")
	cfg := exampleConfig()
	cfg["flows"].(map[string]any)[flowOK] = map[string]any{"duration": "8s", "outputs": map[string]any{"Greeting": "${inputs.Name}"}}
	dv := startEmulator(t, cfg)
	led := newLedger(t, b.Records)
	w := startWorker(t, "ZEEBE_ADDRESS="+b.Addr, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_JOB_TIMEOUT=6s", "PA_CONNECTOR_LOG_LEVEL=info")

	keys := createInstances(t, b.Client, "wait-single", instances, instances, func(i int) map[string]any {
		v := waitVars(dv, flowOK)
		v["connectionName"] = fmt.Sprintf("outage-conn-%d", i)
		return v
	})
	waitFor(t, 30*time.Second, func() bool { return dv.counts(t)["GetFlowSession"] >= instances })
	if code, _ := getBody(w.HTTP + "/readyz"); code != 200 {
		t.Fatalf("/readyz = %d before the outage, want 200", code)
	}

	logFrom := len(w.Log())
	stopAt := time.Now()
	b.Stop(t)
	stopped := time.Since(stopAt)
	waitFor(t, 30*time.Second, func() bool { code, _ := getBody(w.HTTP + "/readyz"); return code == 503 })
	notReadyAfter := time.Since(stopAt)
	// Hold the outage, checking that /readyz stays 503 throughout.
	samples := 0
	for until := stopAt.Add(stopped + outage); time.Now().Before(until); time.Sleep(250 * time.Millisecond) {
		if code, body := getBody(w.HTTP + "/readyz"); code != 503 {
			t.Fatalf("/readyz = %d %s during the outage, want 503", code, body)
		}
		samples++
	}
	b.Start(t)
	upAt := time.Now()
	waitFor(t, 150*time.Second, func() bool { code, _ := getBody(w.HTTP + "/readyz"); return code == 200 })
	readyAgain := time.Since(upAt)
	outageLog := w.Log()[logFrom:]

	led.waitEnded(t, keys, 120*time.Second)
	completed, incidents := led.ended(keys)
	done := time.Since(upAt)

	lines := strings.Split(strings.TrimSpace(outageLog), "\n")
	byMsg := map[string]int{}
	for _, l := range lines {
		if i := strings.Index(l, `"message":"`); i >= 0 {
			msg := l[i+len(`"message":"`):]
			byMsg[msg[:strings.IndexByte(msg, '"')]]++
		}
	}
	gatewayLines := byMsg["activating jobs failed"] + byMsg["job stream closed; reopening"] + byMsg["Zeebe gateway not reachable"]
	t.Logf("outage %s (broker stopping from %s, stopped after %s, started again at %s): /readyz 503 after %s, sampled 503 %d times, 200 again %s after the broker was back; "+
		"%d worker log lines from the stop until ready again, %d about the gateway: %v; instances %d: completed %d, incidents %d, %s after the broker was back; RunDesktopFlow calls %d",
		upAt.Sub(stopAt).Round(100*time.Millisecond), stopAt.Format("15:04:05.0"), stopped.Round(100*time.Millisecond), upAt.Format("15:04:05.0"), notReadyAfter.Round(10*time.Millisecond), samples,
		readyAgain.Round(100*time.Millisecond), len(lines), gatewayLines, byMsg, instances, completed, incidents, done.Round(100*time.Millisecond), dv.counts(t)["RunDesktopFlow"])

	if completed != instances {
		t.Fatalf("%d of %d instances completed after the outage, %d incidents", completed, instances, incidents)
	}
	if n := dv.counts(t)["RunDesktopFlow"]; n != instances {
		t.Fatalf("%d RunDesktopFlow calls for %d instances: the outage made the worker start runs again", n, instances)
	}
	// The worker retries with a backoff of at most 30 s: it must be back within that (and a margin).
	if readyAgain > 45*time.Second {
		t.Errorf("/readyz answered 200 only %s after the broker was back, want within the 30 s maximum backoff", readyAgain)
	}
	if byMsg["gateway reachable again"] == 0 {
		t.Errorf("the worker did not log that the gateway is reachable again")
	}
	// One line per failure streak per loop (polling, streaming), plus one every tenth failure of
	// a long streak: with backoff from 250 ms, an outage under a minute needs at most 2 each.
	if byMsg["activating jobs failed"] > 2 {
		t.Errorf("%d 'activating jobs failed' lines in one outage, want one per failure streak", byMsg["activating jobs failed"])
	}
	if n := byMsg["job stream closed; reopening"]; n > 2 {
		t.Errorf("%d 'job stream closed; reopening' lines in one outage, want one per failure streak", n)
	}
}
