// Command demo runs the examples end to end on this machine: pa-engine (the project's own Zeebe
// gateway), the Dataverse emulator (seeded from examples/lead-follow-up.emulator.json, plus a
// desktop flow) and the pa-connector worker; it deploys examples/run-desktop-flow.bpmn and
// examples/lead-follow-up.bpmn, runs one instance of each, prints their final variables and a
// short report, and stops everything it started, on Ctrl-C too. Run it with `make demo`.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
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
	// The Zeebe client and the worker read ZEEBE_ADDRESS, ZEEBE_CLIENT_ID, ... from the
	// environment: the demo talks to its own engine only.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "ZEEBE_") {
			os.Unsetenv(name)
		}
	}

	step("building pa-engine, pa-connector and dataverse-emulator")
	for _, b := range []string{"pa-engine", "pa-connector", "dataverse-emulator"} {
		if out, err := exec.Command("go", "build", "-o", "bin/"+b, "./cmd/"+b).CombinedOutput(); err != nil {
			return fail("building %s: %v\n%s", b, err, out)
		}
	}

	step("starting pa-engine (a fresh engine on a free port, data in a temporary directory)")
	engineDir, err := os.MkdirTemp("", "pa-connector-demo-engine-")
	if err != nil {
		return fail("%v", err)
	}
	cleanups = append(cleanups, func() { os.RemoveAll(engineDir) })
	gateway, err := freeAddr()
	if err != nil {
		return fail("%v", err)
	}
	records := filepath.Join(engineDir, "records.log")
	engineStart := time.Now()
	engine, engineOut, err := startProc(ctx, "bin/pa-engine", nil, "--address", gateway, "--data-dir", filepath.Join(engineDir, "data"),
		"--records", records, "--monitoring-address", "127.0.0.1:0", "--log-level", "warn")
	if err != nil {
		return fail("%v", err)
	}
	go io.Copy(io.Discard, engineOut)
	cleanups = append(cleanups, func() { step("stopping pa-engine (SIGTERM)"); stopProc(engine) })
	client, err := zbc.NewClient(&zbc.ClientConfig{GatewayAddress: gateway, UsePlaintextConnection: true})
	if err != nil {
		return fail("zeebe client: %v", err)
	}
	defer client.Close()
	if err := waitTopology(ctx, client, 30*time.Second); err != nil {
		return fail("pa-engine at %s: %v", gateway, err)
	}
	engineReady := time.Since(engineStart)
	fmt.Println("   pa-engine at", gateway)

	step("starting the Dataverse emulator (seeded from " + leadSeed + ", plus a desktop flow)")
	cfg, err := emulatorConfig(engineDir)
	if err != nil {
		return fail("%v", err)
	}
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
	// The flow's trigger URL carries its signature: the worker gets it as a secret, and the
	// demo never prints it.
	var flows []struct{ Name, URL string }
	if err := getJSON(dvURL+"/_emulator/cloudflows", &flows); err != nil || len(flows) != 1 {
		return fail("the emulator's cloud flows: %v %v", flows, err)
	}
	fmt.Printf("   cloud flow %q: its signed trigger URL goes to the worker as the secret NOTIFY_OWNER_FLOW_URL\n", flows[0].Name)

	step("starting the pa-connector worker")
	worker, _, err := startProc(ctx, "bin/pa-connector", []string{
		"ZEEBE_ADDRESS=" + gateway, "ZEEBE_INSECURE_CONNECTION=true",
		"PA_CONNECTOR_ALLOWED_HOSTS=127.0.0.1", "PA_CONNECTOR_HTTP_ADDR=127.0.0.1:0",
		"PA_CONNECTOR_LOG_FORMAT=console", "SECRET_DV_TOKEN=" + token, "SECRET_NOTIFY_OWNER_FLOW_URL=" + flows[0].URL,
	})
	if err != nil {
		return fail("%v", err)
	}
	cleanups = append(cleanups, func() { step("stopping the worker (SIGTERM)"); stopProc(worker) })

	step("deploying examples/run-desktop-flow.bpmn and examples/lead-follow-up.bpmn")
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := client.NewDeployResourceCommand().AddResourceFile("examples/run-desktop-flow.bpmn").
		AddResourceFile("examples/lead-follow-up.bpmn").Send(dctx); err != nil {
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

	// A lead was created (the seed's): the event carries the lead's id, name and owner.
	var leads []map[string]any
	if err := getJSON(dvURL+"/_emulator/tables/lead/rows", &leads); err != nil || len(leads) == 0 {
		return fail("the seeded lead: %v", err)
	}
	lead := leads[0]
	step(fmt.Sprintf("lead %q created: follow-up task → 'Notify owner' cloud flow → the owner's open tasks", lead["fullname"]))
	cmd, _ = client.NewCreateInstanceCommand().BPMNProcessId("lead-follow-up").LatestVersion().VariablesFromMap(map[string]any{
		"organizationUri": dvURL, "leadId": lead["leadid"], "leadName": lead["fullname"], "ownerId": lead["_ownerid_value"],
	})
	leadStart := time.Now()
	res, err = cmd.WithResult().Send(rctx)
	if err != nil {
		return fail("the lead-follow-up instance did not complete: %v", err)
	}
	leadDur := time.Since(leadStart)
	final = nil
	json.Unmarshal([]byte(res.GetVariables()), &final)
	pretty, _ = json.MarshalIndent(map[string]any{"taskId": final["taskId"], "notification": final["notification"],
		"openTaskCount": final["openTaskCount"], "openTasks": final["openTasks"]}, "   ", "  ")
	step("lead-follow-up: final process variables")
	fmt.Println("   " + string(pretty))

	var calls struct {
		Counts map[string]any `json:"counts"`
	}
	getJSON(dvURL+"/_emulator/calls", &calls)
	counts := calls.Counts
	step("report")
	fmt.Printf("   engine ready after      %s (from its start)\n", engineReady.Round(time.Millisecond))
	fmt.Printf("   process instance took   %s (the desktop flow itself runs 2.5 s)\n", instDur.Round(time.Millisecond))
	fmt.Printf("   lead follow-up took     %s (3 tasks)\n", leadDur.Round(time.Millisecond))
	fmt.Printf("   Dataverse calls made    %v\n", counts)
	fmt.Printf("   engine records          %d exported (one JSON line each)\n", countLines(records))
	fmt.Printf("   total                   %s\n", time.Since(began).Round(time.Millisecond))
	return 0
}

func step(s string) { fmt.Println("==> " + s) }

// leadSeed seeds the emulator for examples/lead-follow-up.bpmn: the lead, its owner, the owner's
// tasks and the 'Notify owner' cloud flow (the integration tests use the same file).
const leadSeed = "examples/lead-follow-up.emulator.json"

// emulatorConfig writes the demo's emulator config into dir: leadSeed with the demo's token and
// the desktop flow of examples/run-desktop-flow.bpmn.
func emulatorConfig(dir string) (string, error) {
	raw, err := os.ReadFile(leadSeed)
	if err != nil {
		return "", err
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return "", fmt.Errorf("%s: %w", leadSeed, err)
	}
	cfg["tokens"] = []string{token}
	cfg["flows"] = map[string]any{workflowID: map[string]any{"name": "Invoice bot", "queueDelay": "500ms", "duration": "2s",
		"outputs": map[string]any{"Name": "${inputs.Name}", "InvoiceCount": 42}}}
	// Connections are checked as in Dataverse: the demo's connection exists and is shared.
	cfg["connections"] = map[string]any{"shared-uiflow-conn": map[string]any{"sharedWith": []string{"*"}}}
	raw, _ = json.Marshal(cfg)
	path := filepath.Join(dir, "emulator.json")
	return path, os.WriteFile(path, raw, 0o600)
}

// getJSON reads an emulator endpoint as JSON.
func getJSON(url string, out any) error {
	r, err := http.Get(url)
	if err != nil {
		return err
	}
	defer r.Body.Close()
	raw, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, r.Status)
	}
	return json.Unmarshal(raw, out)
}

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitTopology waits until the gateway answers a Topology call: pa-engine is then ready.
func waitTopology(ctx context.Context, client zbc.Client, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := client.NewTopologyCommand().Send(tctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("no answer to Topology within %s: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte{'\n'})
}

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
