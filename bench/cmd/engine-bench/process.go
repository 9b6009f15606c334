package main

import (
	"context"
	"fmt"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/zbc"
)

// oneTaskXML is the benchmark's process: start → a service task (the job) → end.
func oneTaskXML(processID, jobType string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="engine-bench" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="` + processID + `" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>to-task</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="task">
      <bpmn:extensionElements><zeebe:taskDefinition type="` + jobType + `" retries="3"/></bpmn:extensionElements>
      <bpmn:incoming>to-task</bpmn:incoming><bpmn:outgoing>to-end</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>to-end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="to-task" sourceRef="start" targetRef="task"/>
    <bpmn:sequenceFlow id="to-end" sourceRef="task" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
`)
}

// newZB is the official Zeebe Go client on the engine (deploys, results, checks).
func newZB(addr string) (zbc.Client, error) {
	return zbc.NewClient(&zbc.ClientConfig{GatewayAddress: addr, UsePlaintextConnection: true})
}

// deploy deploys the one-task process with the official client.
func deploy(ctx context.Context, zc zbc.Client, processID, jobType string) error {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := zc.NewDeployResourceCommand().AddResource(oneTaskXML(processID, jobType), processID+".bpmn").Send(dctx)
	if err != nil {
		return fmt.Errorf("deploying %s: %w", processID, err)
	}
	if len(res.GetDeployments()) != 1 || res.GetDeployments()[0].GetProcess().GetBpmnProcessId() != processID {
		return fmt.Errorf("deploying %s: unexpected answer %v", processID, res)
	}
	return nil
}
