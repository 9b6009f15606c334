// Command demo runs the main job end to end on this machine: pa-engine (the project's own Zeebe
// gateway), the Dataverse emulator and the pa-connector worker; it deploys
// examples/run-desktop-flow.bpmn, runs one instance, prints the final variables and a short
// report, and stops everything it started, on Ctrl-C too. Run it with `make demo`.
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
		"ZEEBE_ADDRESS=" + gateway, "ZEEBE_INSECURE_CONNECTION=true",
		"PA_CONNECTOR_ALLOWED_HOSTS=127.0.0.1", "PA_CONNECTOR_HTTP_ADDR=127.0.0.1:0",
		"PA_CONNECTOR_LOG_FORMAT=console", "SECRET_DV_TOKEN=" + token,
	})
	if err != nil {
		return fail("%v", err)
	}
	cleanups = append(cleanups, func() { step("stopping the worker (SIGTERM)"); stopProc(worker) })

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
	fmt.Printf("   engine ready after      %s (from its start)\n", engineReady.Round(time.Millisecond))
	fmt.Printf("   process instance took   %s (the desktop flow itself runs 2.5 s)\n", instDur.Round(time.Millisecond))
	fmt.Printf("   Dataverse calls made    %v\n", counts)
	fmt.Printf("   engine records          %d exported (one JSON line each)\n", countLines(records))
	fmt.Printf("   total                   %s\n", time.Since(began).Round(time.Millisecond))
	return 0
}

func step(s string) { fmt.Println("==> " + s) }

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
