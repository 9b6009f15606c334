//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

const flowTemplated = "d0c5f10e-0000-4000-8000-0000000000e1"

// TestTemplateGeneratedFromTheFlowRunsEndToEnd: the real binary's `templates generate` reads
// the emulator binary's desktop flow with typed inputs and writes its element template (twice:
// the same bytes), which `expr lint` passes; a service task built from it as Modeler writes
// one (the template applied, its fields filled in) deploys on pa-engine and runs: the run
// gets runInputs as the typed JSON the flow's schema wants (the flow echoes its inputs), an
// optional input left empty is not sent, and the template's result expression puts the flow's
// outputs in process variables.
func TestTemplateGeneratedFromTheFlowRunsEndToEnd(t *testing.T) {
	cfg := emulatorConfig()
	vars := []map[string]any{
		{"name": "Customer", "type": "string", "title": "Customer name", "required": true},
		{"name": "Amount", "type": "number", "required": true},
		{"name": "Count", "type": "integer", "default": 1},
		{"name": "Urgent", "type": "boolean"},
		{"name": "Lines", "type": "array"},
		{"name": "Meta", "type": "object"},
		{"name": "Note", "type": "string"},
	}
	cfg["flows"].(map[string]any)[flowTemplated] = map[string]any{"name": "Typed invoice", "description": "Enters an invoice",
		"duration": "300ms", "echoInputs": true, "inputSchema": vars, "outputSchema": vars}
	dv := startEmulator(t, cfg)

	dir := t.TempDir()
	generate := func() (string, []byte) {
		t.Helper()
		cmd := exec.Command(workerBin, "templates", "generate", "--organization-uri", dv.URL, "--token", "{{secrets.DV_TOKEN}}",
			"--out", dir, "--flow", flowTemplated)
		cmd.Env = append(os.Environ(), "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_ALLOWED_HOSTS=127.0.0.1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("templates generate: %v\n%s", err, out)
		}
		path := filepath.Join(dir, "desktop-flow-"+flowTemplated+".json")
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return path, raw
	}
	path, first := generate()
	if _, again := generate(); !bytes.Equal(first, again) {
		t.Fatal("a second templates generate wrote other bytes")
	}
	if bytes.Contains(first, []byte(dvToken)) {
		t.Fatal("the template holds the token")
	}
	if out, err := exec.Command(workerBin, "expr", "lint", "--template", path).CombinedOutput(); err != nil {
		t.Fatalf("expr lint: %v\n%s", err, out)
	}

	var tmpl elementTemplate
	if err := json.Unmarshal(first, &tmpl); err != nil {
		t.Fatal(err)
	}
	// What a modeler fills in; everything else keeps the template's default. Number and
	// Boolean fields hold what their inputs hold (Modeler writes them as FEEL).
	filled := map[string]any{
		"organizationUri": dv.URL, "authentication.token": "{{secrets.DV_TOKEN}}",
		"connectionName": "conn", "runMode": "unattended", "pollInterval": "PT1S", "resultVariable": "run",
		"runInputs.Customer": "Ada", "runInputs.Amount": 12.5, "runInputs.Count": 3, "runInputs.Urgent": true,
		"runInputs.Lines": `=[{item: "pen", quantity: 2}]`, "runInputs.Meta": `={source: "camunda", ids: [1, 2]}`,
	}
	task := applyTemplate(t, tmpl, filled)
	bpmn := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="flow-template-defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="flow-template" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
%s
    <bpmn:endEvent id="End"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Task" />
    <bpmn:sequenceFlow id="f2" sourceRef="Task" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>
`, task)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := zeebe.NewDeployResourceCommand().AddResource([]byte(bpmn), "flow-template.bpmn").Send(ctx); err != nil {
		t.Fatalf("deploying the task built from the template: %v\n%s", err, bpmn)
	}
	startWorker(t, "SECRET_DV_TOKEN="+dvToken)
	out := runProcess(t, "flow-template", map[string]any{}, 60*time.Second)

	wantInputs := map[string]any{"Customer": "Ada", "Amount": 12.5, "Count": float64(3), "Urgent": true,
		"Lines": []any{map[string]any{"item": "pen", "quantity": float64(2)}}, "Meta": map[string]any{"source": "camunda", "ids": []any{float64(1), float64(2)}}}
	run, _ := out["run"].(map[string]any)
	body, _ := run["body"].(map[string]any)
	if got := body["outputs"]; !reflect.DeepEqual(got, wantInputs) {
		t.Errorf("the run's inputs (echoed) %s, want exactly %s\ntask:\n%s", jsonText(got), jsonText(wantInputs), task)
	}
	for name, want := range wantInputs {
		if !reflect.DeepEqual(out[name], want) {
			t.Errorf("process variable %s = %s, want %s (the template's result expression)", name, jsonText(out[name]), jsonText(want))
		}
	}
	if id, _ := out["flowSessionId"].(string); len(id) != 36 {
		t.Errorf("flowSessionId = %v", out["flowSessionId"])
	}
	if c := dv.counts(t); c["RunDesktopFlow"] != 1 {
		t.Errorf("%d runs, want 1", c["RunDesktopFlow"])
	}
}

func jsonText(v any) string { b, _ := json.Marshal(v); return string(b) }

// elementTemplate is the part of an element template Modeler applies.
type elementTemplate struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	Icon    struct {
		Contents string `json:"contents"`
	} `json:"icon"`
	Properties []elementTemplateProperty `json:"properties"`
}

type elementTemplateProperty struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Value    any    `json:"value"`
	FEEL     string `json:"feel"`
	Optional bool   `json:"optional"`
	Binding  struct {
		Type, Name, Key, Property string
	} `json:"binding"`
	Condition *struct {
		Property string   `json:"property"`
		Equals   *string  `json:"equals"`
		OneOf    []string `json:"oneOf"`
	} `json:"condition"`
}

// applyTemplate writes the service task Modeler writes when the template is applied and the
// properties of filled given those values: properties whose condition holds (on the values
// of the properties they name), each property's value (filled, else its default); an empty
// optional one is left out; Number and Boolean inputs are cast to FEEL (=value) and a
// feel: required value gets its "=" (bpmn-js-element-templates' toFeelExpression).
func applyTemplate(t *testing.T, tmpl elementTemplate, filled map[string]any) string {
	t.Helper()
	value := func(p elementTemplateProperty) any {
		if v, ok := filled[p.ID]; ok && p.ID != "" {
			return v
		}
		return p.Value
	}
	byID := map[string]elementTemplateProperty{}
	for _, p := range tmpl.Properties {
		if p.ID != "" {
			byID[p.ID] = p
		}
	}
	used := map[string]bool{}
	var inputs, headers, props []string
	var taskType, retries string
	for _, p := range tmpl.Properties {
		if c := p.Condition; c != nil {
			v := fmt.Sprint(value(byID[c.Property]))
			if (c.Equals != nil && v != *c.Equals) || (c.OneOf != nil && !slices.Contains(c.OneOf, v)) {
				continue
			}
		}
		used[p.ID] = true
		v := value(p)
		if v == nil || v == "" {
			if !p.Optional && p.Binding.Type == "zeebe:input" && p.Type != "Dropdown" {
				t.Fatalf("required property %s has no value", p.ID)
			}
			continue
		}
		s := fmt.Sprint(v)
		if p.Binding.Type == "zeebe:input" && (p.Type == "Number" || p.Type == "Boolean") && !strings.HasPrefix(s, "=") {
			s = "=" + s
		}
		if p.FEEL == "required" && !strings.HasPrefix(s, "=") {
			s = "=" + s
		}
		a := html.EscapeString
		switch p.Binding.Type {
		case "zeebe:taskDefinition":
			if p.Binding.Property == "type" {
				taskType = s
			} else {
				retries = s
			}
		case "zeebe:input":
			inputs = append(inputs, fmt.Sprintf(`          <zeebe:input source="%s" target="%s" />`, a(s), a(p.Binding.Name)))
		case "zeebe:taskHeader":
			headers = append(headers, fmt.Sprintf(`          <zeebe:header key="%s" value="%s" />`, a(p.Binding.Key), a(s)))
		case "zeebe:property":
			props = append(props, fmt.Sprintf(`          <zeebe:property name="%s" value="%s" />`, a(p.Binding.Name), a(s)))
		default:
			t.Fatalf("property %s: binding %s not applied by this test", p.ID, p.Binding.Type)
		}
	}
	var unknown []string
	for id := range filled {
		if !used[id] {
			unknown = append(unknown, id)
		}
	}
	if sort.Strings(unknown); len(unknown) > 0 {
		t.Fatalf("filled properties the template does not show: %v", unknown)
	}
	a := html.EscapeString
	return fmt.Sprintf(`    <bpmn:serviceTask id="Task" name="Typed invoice" zeebe:modelerTemplate="%s" zeebe:modelerTemplateVersion="%d" zeebe:modelerTemplateIcon="%s">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="%s" retries="%s" />
        <zeebe:ioMapping>
%s
        </zeebe:ioMapping>
        <zeebe:taskHeaders>
%s
        </zeebe:taskHeaders>
        <zeebe:properties>
%s
        </zeebe:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>`, a(tmpl.ID), tmpl.Version, a(tmpl.Icon.Contents), a(taskType), a(retries),
		strings.Join(inputs, "\n"), strings.Join(headers, "\n"), strings.Join(props, "\n"))
}
