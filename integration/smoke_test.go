//go:build integration

package integration

import (
	"strings"
	"testing"
	"time"
)

const (
	flowOK    = "6f0d8a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	flowFails = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
	dvToken   = "it-static-token-Pk3v9"
	clientID  = "11111111-2222-3333-4444-555555555555"
	clientSec = "it-client-secret-W7~q"
)

func emulatorConfig() map[string]any {
	return map[string]any{
		"tokens":  []string{dvToken},
		"clients": map[string]string{clientID: clientSec},
		// The client is an application user with only the privileges a desktop flow's client needs
		// (its own runs), so every client-credentials test runs the emulator's strict path.
		"securityRoles": map[string]any{"Desktop flow runner": map[string]string{
			"prvReadworkflow": "Basic", "prvReadflowsession": "Basic", "prvWriteflowsession": "Basic"}},
		"appUsers": map[string]any{clientID: map[string]any{"roles": []string{"Desktop flow runner"}}},
		"flows": map[string]any{
			flowOK:    map[string]any{"queueDelay": "200ms", "duration": "800ms", "outputs": map[string]any{"Greeting": "${inputs.Name}", "Done": true}},
			flowFails: map[string]any{"duration": "300ms", "finalStatus": 8, "errorCode": "NoCandidateMachine", "errorMessage": "No machine was available."},
		},
	}
}

func bearer() map[string]any {
	return map[string]any{"type": "bearer", "token": "{{secrets.DV_TOKEN}}"}
}

// TestSingleTaskBothActivationPaths runs one trigger job with streaming on and with polling only.
func TestSingleTaskBothActivationPaths(t *testing.T) {
	dv := startEmulator(t, emulatorConfig())
	deploy(t, "integration/testdata/single-task.bpmn")
	for _, streaming := range []string{"true", "false"} {
		t.Run("streaming="+streaming, func(t *testing.T) {
			w := startWorker(t, "PA_CONNECTOR_STREAMING="+streaming, "SECRET_DV_TOKEN="+dvToken)
			for i := 0; i < 3; i++ { // more than one batch: polling must go on after the first
				began := time.Now()
				vars := runProcess(t, "single-task", map[string]any{
					"operationType": "triggerFlowRun", "organizationUri": dv.URL, "authentication": bearer(),
					"workflowId": flowOK, "connectionName": "conn", "runMode": "unattended",
				}, 20*time.Second)
				if id, _ := vars["flowSessionId"].(string); len(id) != 36 {
					t.Fatalf("flowSessionId = %v", vars["flowSessionId"])
				}
				t.Logf("instance %d completed in %s", i, time.Since(began))
			}
			if !strings.Contains(w.Log(), `"streaming":`+streaming) {
				t.Fatalf("worker did not report streaming=%s", streaming)
			}
			w.cmd.Process.Signal(interrupt)
			<-w.done
			if code := w.cmd.ProcessState.ExitCode(); code != 0 {
				t.Fatalf("worker exited %d after SIGTERM, want 0", code)
			}
		})
	}
}
