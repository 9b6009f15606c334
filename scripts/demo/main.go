// Command demo runs the main job end to end on this machine: a real Zeebe broker, the Dataverse
// emulator and the pa-connector worker; it deploys examples/run-desktop-flow.bpmn, runs one
// instance, prints the final variables and a short report, and stops everything it started,
// on Ctrl-C too. Run it with `make demo`.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/zbc"
)

const (
	workflowID = "f091ffab-58bb-4630-a115-659453d56f59"
	token      = "demo-token-not-a-real-secret"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx)
	stop()
	os.Exit(code)
}

func run(ctx context.Context) int {
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...)
		return 1
	}
	began := time.Now()

	step("building pa-connector and dataverse-emulator")
	for _, b := range []string{"pa-connector", "dataverse-emulator"} {
		if out, err := exec.Command("go", "build", "-o", "bin/"+b, "./cmd/"+b).CombinedOutput(); err != nil {
			return fail("building %s: %v\n%s", b, err, out)
		}
	}

	step("starting the Zeebe broker (scripts/zeebe.sh; the first run downloads it from Maven Central)")
	if exec.Command("scripts/zeebe.sh", "status").Run() != nil {
		cmd := exec.CommandContext(ctx, "scripts/zeebe.sh", "start")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.Env = append(os.Environ(), "ZEEBE_CLEAN=1")
		cleanups = append(cleanups, func() {
			step("stopping the Zeebe broker")
			exec.Command("scripts/zeebe.sh", "stop").Run()
		})
		if err := cmd.Run(); err != nil {
			return fail("starting the broker: %v", err)
		}
	} else {
		fmt.Println("   a broker is already running; using it and leaving it running")
	}
	brokerReady := time.Since(began)

	step("starting the Dataverse emulator")
	cfg := filepath.Join(os.TempDir(), "pa-connector-demo-flows.json")
	os.WriteFile(cfg, []byte(`{"tokens":["`+token+`"],"flows":{"`+workflowID+`":{"name":"Invoice bot","queueDelay":"500ms","duration":"2s","outputs":{"Name":"${inputs.Name}","InvoiceCount":42}}}}`), 0o600)
	emu, emuOut, err := startProc(ctx, "bin/dataverse-emulator", nil, "-listen", "127.0.0.1:0", "-config", cfg)
	if err != nil {
		return fail("%v", err)
	}
	cleanups = append(cleanups, func() { stopProc(emu) })
	dvURL, err := firstLine(emuOut, 10*time.Second)
	if err != nil {
		return fail("emulator: %v", err)
	}
	fmt.Println("   Dataverse emulator at", dvURL)

	step("starting the pa-connector worker")
	worker, _, err := startProc(ctx, "bin/pa-connector", []string{
		"ZEEBE_ADDRESS=127.0.0.1:26500", "ZEEBE_INSECURE_CONNECTION=true",
		"PA_CONNECTOR_ALLOWED_HOSTS=127.0.0.1", "PA_CONNECTOR_HTTP_ADDR=127.0.0.1:0",
		"PA_CONNECTOR_LOG_FORMAT=console", "SECRET_DV_TOKEN=" + token,
	})
	if err != nil {
		return fail("%v", err)
	}
	cleanups = append(cleanups, func() { step("stopping the worker (SIGTERM)"); stopProc(worker) })

	client, err := zbc.NewClient(&zbc.ClientConfig{GatewayAddress: "127.0.0.1:26500", UsePlaintextConnection: true})
	if err != nil {
		return fail("zeebe client: %v", err)
	}
	defer client.Close()
	step("deploying examples/run-desktop-flow.bpmn")
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := client.NewDeployResourceCommand().AddResourceFile("examples/run-desktop-flow.bpmn").Send(dctx); err != nil {
		return fail("deploy: %v", err)
	}

	step("running one process instance: trigger → status loop → outputs")
	vars := map[string]any{
		"organizationUri": dvURL, "authentication": map[string]any{"type": "bearer", "token": "{{secrets.DV_TOKEN}}"},
		"workflowId": workflowID, "connectionName": "shared-uiflow-conn", "runMode": "unattended",
		"runInputs": map[string]any{"Name": "Ada"}, "pollInterval": "PT1S",
	}
	cmd, _ := client.NewCreateInstanceCommand().BPMNProcessId("run-desktop-flow").LatestVersion().VariablesFromMap(vars)
	rctx, rcancel := context.WithTimeout(ctx, 90*time.Second)
	defer rcancel()
	instStart := time.Now()
	res, err := cmd.WithResult().Send(rctx)
	if err != nil {
		return fail("the process instance did not complete: %v", err)
	}
	instDur := time.Since(instStart)
	var final map[string]any
	json.Unmarshal([]byte(res.GetVariables()), &final)
	delete(final, "authentication")
	pretty, _ := json.MarshalIndent(final, "   ", "  ")
	step("final process variables")
	fmt.Println("   " + string(pretty))

	counts := map[string]any{}
	if r, err := http.Get(dvURL + "/_emulator/calls"); err == nil {
		var body struct {
			Counts map[string]any `json:"counts"`
		}
		raw, _ := io.ReadAll(r.Body)
		r.Body.Close()
		json.Unmarshal(raw, &body)
		counts = body.Counts
	}
	step("report")
	fmt.Printf("   broker ready after      %s\n", brokerReady.Round(time.Millisecond))
	fmt.Printf("   process instance took   %s (the desktop flow itself runs 2.5 s)\n", instDur.Round(time.Millisecond))
	fmt.Printf("   Dataverse calls made    %v\n", counts)
	fmt.Printf("   total                   %s\n", time.Since(began).Round(time.Millisecond))
	return 0
}

func step(s string) { fmt.Println("==> " + s) }

func startProc(ctx context.Context, bin string, env []string, args ...string) (*exec.Cmd, *bufio.Reader, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	return cmd, bufio.NewReader(out), nil
}

func stopProc(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

func firstLine(r *bufio.Reader, timeout time.Duration) (string, error) {
	ch := make(chan string, 1)
	go func() { l, _ := r.ReadString('\n'); ch <- strings.TrimSpace(l) }()
	select {
	case l := <-ch:
		if !strings.HasPrefix(l, "http") {
			return "", fmt.Errorf("unexpected first line %q", l)
		}
		go io.Copy(io.Discard, r)
		return l, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("no URL within %s", timeout)
	}
}
