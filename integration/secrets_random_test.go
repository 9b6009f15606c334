//go:build integration

package integration

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pa-connector/pa-connector/secrets/secretstest"
)

// The property of connector's TestSecretsNeverLeakProperty through the binary, for a few
// seeded cases: secrets of random content and length (files in PA_CONNECTOR_SECRETS_DIR, so
// that any character can be one, NUL included) planted in the connection name and the flow's
// inputs (which the run's outputs echo), with Dataverse answering, refusing with a message
// that quotes a secret after padding (400: passed on to a caught BPMN error's message and
// variables; 500: retried, then an incident), or resetting the connection. No spelling of any
// secret, nor of its first or last 8 characters, may show in the worker's log (debug level),
// in any record the engine exported, or in /metrics; a secret of fewer than 8 characters is an
// incident naming it. PA_SECRETS_BINARY_CASES runs more cases, PA_SECRETS_SEED another seed.
func TestSecretsNeverLeakRandom(t *testing.T) {
	cases, seed := 6, uint64(11)
	if n, err := strconv.Atoi(os.Getenv("PA_SECRETS_BINARY_CASES")); err == nil && n > 0 {
		cases = n
	}
	if n, err := strconv.ParseUint(os.Getenv("PA_SECRETS_SEED"), 10, 64); err == nil && n > 0 {
		seed = n
	}
	rng := rand.New(rand.NewPCG(seed, 0xb1))
	dir := t.TempDir()
	type plan struct {
		secrets map[string]string // placeholder name → value
		fault   string
		short   bool
		vars    map[string]any
	}
	dv := startEmulator(t, emulatorConfig())
	var plans []plan
	for i := range cases {
		p := plan{secrets: map[string]string{}, fault: []string{"", "400", "500", "reset"}[i%4]}
		for j := 1; j <= 2; j++ {
			n := 8 + rng.IntN(193)
			if i == 1 && j == 1 {
				n = 1 + rng.IntN(7) // one case with a secret too short to hold
				p.short = true
			}
			v := secretstest.Secret(rng, n)
			for strings.HasSuffix(v, "\n") || strings.HasSuffix(v, "\r") { // a file's line end is not the secret's
				v = strings.TrimRight(v, "\r\n") + "x"
			}
			name := fmt.Sprintf("R%d_%d", i, j)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
				t.Fatal(err)
			}
			p.secrets[name] = v
		}
		p.vars = triggerVars(dv, flowOK)
		p.vars["operationType"] = []string{"runFlowAndWait", "triggerFlowRun"}[i%2]
		p.vars["pollInterval"] = "PT1S"
		p.vars["connectionName"] = fmt.Sprintf("conn {{secrets.R%d_1}}", i)
		p.vars["runInputs"] = map[string]any{"Name": fmt.Sprintf("{{secrets.R%d_2}}", i)}
		plans = append(plans, p)
	}
	deploy(t, "integration/testdata/secret-echo.bpmn")
	led := newLedger(t, recordsLog)
	w := startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_SECRETS_DIR="+dir, "PA_CONNECTOR_LOG_LEVEL=debug")

	var keys []int64
	for i, p := range plans {
		var all []string
		for _, v := range p.secrets {
			all = append(all, v)
		}
		pad := strings.Repeat("y", []int{0, 300, 980, 3990}[rng.IntN(4)])
		switch {
		case p.short: // refused before any request
		case p.fault == "400" || p.fault == "500":
			status, _ := strconv.Atoi(p.fault)
			dv.fault(t, map[string]any{"op": "RunDesktopFlow", "count": status / 250, "status": status, "code": "0x80040203", // 500: both tries
				"message": pad + " connection " + all[0] + " and inputs " + strings.Join(all, " / ")})
		case p.fault == "reset":
			dv.fault(t, map[string]any{"op": "RunDesktopFlow", "count": 1, "reset": true})
		}
		k := createInstance(t, "secret-echo", p.vars)
		keys = append(keys, k)
		led.waitEnded(t, []int64{k}, 60*time.Second)
		_, completed := led.completed[k]
		msg := led.incidents[k]
		t.Logf("case %d (%s, fault %q): completed %v, incident %.120q", i, p.vars["operationType"], p.fault, completed, msg)
		if p.short && !strings.Contains(msg, "is shorter than 8 characters") {
			t.Errorf("case %d: a secret of fewer than 8 characters: incident %q, want it refused", i, msg)
		}
	}
	t.Cleanup(func() { cancelInstances(zeebe, keys) })

	led.poll()
	records := led.raw()
	_, metrics := getBody(w.HTTP + "/metrics")
	log := w.Log()
	places := map[string]string{"worker log": log, "engine records": records, "/metrics": metrics}
	checked := 0
	for i, p := range plans {
		if p.short {
			continue // refused before use; its characters are everywhere by chance
		}
		for name, v := range p.secrets {
			checked++
			for where, text := range places {
				if l := secretstest.Leaks(text, v); len(l) > 0 {
					t.Errorf("case %d: secret %s shows in the %s: %s", i, name, where, strings.Join(l, "; "))
				}
			}
		}
	}
	if !strings.Contains(log, "***") {
		t.Error("the log holds no scrubbed value: did any secret reach a message?")
	}
	t.Logf("seed %d: %d cases, %d secrets looked for in %d log lines, %d records, %d bytes of /metrics",
		seed, len(plans), checked, strings.Count(log, "\n"), strings.Count(records, "\n"), len(metrics))
}
