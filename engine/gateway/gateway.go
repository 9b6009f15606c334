// Package gateway serves Zeebe's gateway gRPC API (gateway_protocol.Gateway of Zeebe 8.5) on
// top of the engine: it checks what Zeebe's gateway checks, turns each call into an engine
// command, holds long polls and job streams, and maps rejections to Zeebe's gRPC codes and
// messages. Any RPC not listed in docs/engine.md answers UNIMPLEMENTED naming the method.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pa-connector/pa-connector/engine"
)

// Gateway-side defaults (Zeebe's ConfigurationDefaults).
const (
	defaultLongPoll      = 10 * time.Second
	defaultRequestTimout = 15 * time.Second
	pollProbe            = 10 * time.Second
)

// Server implements pb.GatewayServer.
type Server struct {
	pb.UnimplementedGatewayServer

	e    *engine.Engine
	addr net.Addr

	mu    sync.Mutex
	polls map[string]map[chan struct{}]struct{}

	closing   chan struct{}
	closeOnce sync.Once
}

// Shutdown ends held long polls (answered with no jobs, as on a timeout) and open job streams,
// so that a graceful stop of the gRPC server does not wait for them.
func (s *Server) Shutdown() { s.closeOnce.Do(func() { close(s.closing) }) }

// New returns a gateway over e; addr is what Topology reports as the broker's address.
func New(e *engine.Engine, addr net.Addr) *Server {
	s := &Server{e: e, addr: addr, polls: map[string]map[chan struct{}]struct{}{}, closing: make(chan struct{})}
	e.SetNotify(s.wake)
	return s
}

// status maps an engine answer or error to a gRPC error.
func toStatus(res *engine.Result, err error, exhausted string) error {
	switch {
	case errors.Is(err, engine.ErrBackpressure):
		return status.Error(codes.ResourceExhausted, exhausted)
	case errors.Is(err, engine.ErrClosed):
		return status.Error(codes.Unavailable, "the engine is shutting down")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case err != nil:
		return status.Error(codes.Internal, err.Error())
	}
	r := res.Rejection
	if r == nil {
		return nil
	}
	if res.NotFoundFor { // the log says INVALID_STATE; Zeebe's client is told NOT_FOUND
		return status.Error(codes.NotFound, fmt.Sprintf("Command '%s' rejected with code '%s': %s", r.Intent, engine.RejectNotFound, r.Reason))
	}
	msg := fmt.Sprintf("Command '%s' rejected with code '%s': %s", r.Intent, r.Type, r.Reason)
	switch r.Type {
	case engine.RejectInvalidArgument:
		return status.Error(codes.InvalidArgument, msg)
	case engine.RejectNotFound:
		return status.Error(codes.NotFound, msg)
	case engine.RejectAlreadyExists:
		return status.Error(codes.AlreadyExists, msg)
	case engine.RejectInvalidState:
		return status.Error(codes.FailedPrecondition, msg)
	case engine.RejectProcessingError:
		return status.Error(codes.Internal, msg)
	}
	return status.Error(codes.Unknown, msg)
}

const (
	exhaustedKeyed  = "Reached maximum capacity of requests handled"
	exhaustedCreate = "Expected to execute the command on one of the partitions, but all failed; there are no more partitions available to retry. Please try again. If the error persists contact your zeebe operator"
)

func (s *Server) do(ctx context.Context, c *engine.Cmd) (*engine.Result, error) {
	res, err := s.e.Do(ctx, c, nil)
	exhausted := exhaustedKeyed
	if c.Op == engine.OpCreate {
		exhausted = exhaustedCreate
	}
	if err := toStatus(res, err, exhausted); err != nil {
		return nil, err
	}
	return res, nil
}

// document checks a variables argument as Zeebe's gateway does: empty or null is no
// variables, anything else must be a JSON object.
func document(s string) (json.RawMessage, error) {
	t := strings.TrimSpace(s)
	if t == "" || t == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(t))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON value")
	}
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, fmt.Sprintf("Invalid JSON value: %s (%v)", short(t), err))
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, status.Error(codes.InvalidArgument, fmt.Sprintf("Expected document to be a root level object, but was '%s'", jsonType(v)))
	}
	// Zeebe keeps documents as MessagePack, so what comes back out is plain JSON whatever the
	// client's encoder escaped (Go's escapes <, > and & as \u003c...): re-encode without.
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, status.Error(codes.InvalidArgument, fmt.Sprintf("Invalid JSON value: %s (%v)", short(t), err))
	}
	return json.RawMessage(strings.TrimSuffix(b.String(), "\n")), nil
}

func short(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func jsonType(v any) string {
	switch v.(type) {
	case []any:
		return "ARRAY"
	case string:
		return "STRING"
	case float64, json.Number:
		return "NUMBER"
	case bool:
		return "BOOLEAN"
	case nil:
		return "NIL"
	}
	return "UNKNOWN"
}

func checkTenant(t string) error {
	if t != "" && t != engine.DefaultTenant {
		return status.Error(codes.InvalidArgument, fmt.Sprintf("Expected to handle gRPC request with tenant identifier '%s', but multi-tenancy is disabled", t))
	}
	return nil
}

// Topology reports one healthy broker leading one partition.
func (s *Server) Topology(context.Context, *pb.TopologyRequest) (*pb.TopologyResponse, error) {
	host, port := "127.0.0.1", int32(26500)
	if a, ok := s.addr.(*net.TCPAddr); ok {
		host, port = a.IP.String(), int32(a.Port)
	}
	return &pb.TopologyResponse{
		Brokers: []*pb.BrokerInfo{{NodeId: 0, Host: host, Port: port, Version: engine.Version,
			Partitions: []*pb.Partition{{PartitionId: 1, Role: pb.Partition_LEADER, Health: pb.Partition_HEALTHY}}}},
		ClusterSize: 1, PartitionsCount: 1, ReplicationFactor: 1, GatewayVersion: engine.Version,
	}, nil
}

func (s *Server) DeployResource(ctx context.Context, req *pb.DeployResourceRequest) (*pb.DeployResourceResponse, error) {
	if err := checkTenant(req.TenantId); err != nil {
		return nil, err
	}
	c := &engine.Cmd{Op: engine.OpDeploy}
	for _, r := range req.Resources {
		c.Resources = append(c.Resources, engine.Resource{Name: r.Name, Content: r.Content})
	}
	res, err := s.do(ctx, c)
	if err != nil {
		return nil, err
	}
	out := &pb.DeployResourceResponse{Key: res.Key, TenantId: engine.DefaultTenant}
	for _, d := range res.Deployed {
		out.Deployments = append(out.Deployments, &pb.Deployment{Metadata: &pb.Deployment_Process{Process: &pb.ProcessMetadata{
			BpmnProcessId: d.ProcessID, Version: d.Version, ProcessDefinitionKey: d.Key, ResourceName: d.ResourceName,
			TenantId: engine.DefaultTenant}}})
	}
	return out, nil
}

func createCmd(req *pb.CreateProcessInstanceRequest) (*engine.Cmd, error) {
	if err := checkTenant(req.TenantId); err != nil {
		return nil, err
	}
	if len(req.StartInstructions) > 0 {
		return nil, status.Error(codes.InvalidArgument, "start instructions are not supported by this engine")
	}
	vars, err := document(req.Variables)
	if err != nil {
		return nil, err
	}
	return &engine.Cmd{Op: engine.OpCreate, ProcessID: req.BpmnProcessId, Version: req.Version,
		Key: req.ProcessDefinitionKey, HasKey: req.BpmnProcessId == "", Variables: vars}, nil
}

func (s *Server) CreateProcessInstance(ctx context.Context, req *pb.CreateProcessInstanceRequest) (*pb.CreateProcessInstanceResponse, error) {
	c, err := createCmd(req)
	if err != nil {
		return nil, err
	}
	res, err := s.do(ctx, c)
	if err != nil {
		return nil, err
	}
	in := res.Instance
	return &pb.CreateProcessInstanceResponse{ProcessDefinitionKey: in.DefinitionKey, BpmnProcessId: in.ProcessID,
		Version: in.Version, ProcessInstanceKey: in.Key, TenantId: engine.DefaultTenant}, nil
}

func (s *Server) CreateProcessInstanceWithResult(ctx context.Context, req *pb.CreateProcessInstanceWithResultRequest) (*pb.CreateProcessInstanceWithResultResponse, error) {
	if req.Request == nil {
		return nil, status.Error(codes.InvalidArgument, "Expected a create process instance request, but none given")
	}
	c, err := createCmd(req.Request)
	if err != nil {
		return nil, err
	}
	c.Await, c.Fetch = true, req.FetchVariables
	timeout := time.Duration(req.RequestTimeout) * time.Millisecond
	if timeout <= 0 {
		timeout = defaultRequestTimout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	await := make(chan *engine.Result, 1)
	res, err := s.e.Do(ctx, c, await)
	if err := toStatus(res, err, exhaustedCreate); err != nil {
		return nil, err
	}
	select {
	case r := <-await:
		in := res.Instance
		return &pb.CreateProcessInstanceWithResultResponse{ProcessDefinitionKey: in.DefinitionKey, BpmnProcessId: in.ProcessID,
			Version: in.Version, ProcessInstanceKey: in.Key, Variables: r.Variables, TenantId: engine.DefaultTenant}, nil
	case <-timer.C:
		return nil, status.Error(codes.DeadlineExceeded, "Time out between gateway and broker: Request timed out after "+isoDuration(timeout))
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// isoDuration formats d as Java's Duration.toString does (PT15S, PT0.5S, PT1M30S).
func isoDuration(d time.Duration) string {
	var b strings.Builder
	b.WriteString("PT")
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dH", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dM", m)
		d -= m * time.Minute
	}
	if d > 0 || b.Len() == 2 {
		b.WriteString(strconv.FormatFloat(d.Seconds(), 'f', -1, 64))
		b.WriteByte('S')
	}
	return b.String()
}

func (s *Server) CancelProcessInstance(ctx context.Context, req *pb.CancelProcessInstanceRequest) (*pb.CancelProcessInstanceResponse, error) {
	if _, err := s.do(ctx, &engine.Cmd{Op: engine.OpCancel, Key: req.ProcessInstanceKey}); err != nil {
		return nil, err
	}
	return &pb.CancelProcessInstanceResponse{}, nil
}

func (s *Server) CompleteJob(ctx context.Context, req *pb.CompleteJobRequest) (*pb.CompleteJobResponse, error) {
	vars, err := document(req.Variables)
	if err != nil {
		return nil, err
	}
	if _, err := s.do(ctx, &engine.Cmd{Op: engine.OpComplete, Key: req.JobKey, Variables: vars}); err != nil {
		return nil, err
	}
	return &pb.CompleteJobResponse{}, nil
}

func (s *Server) FailJob(ctx context.Context, req *pb.FailJobRequest) (*pb.FailJobResponse, error) {
	vars, err := document(req.Variables)
	if err != nil {
		return nil, err
	}
	if _, err := s.do(ctx, &engine.Cmd{Op: engine.OpFail, Key: req.JobKey, Retries: req.Retries, Message: req.ErrorMessage,
		Backoff: req.RetryBackOff, Variables: vars}); err != nil {
		return nil, err
	}
	return &pb.FailJobResponse{}, nil
}

func (s *Server) ThrowError(ctx context.Context, req *pb.ThrowErrorRequest) (*pb.ThrowErrorResponse, error) {
	vars, err := document(req.Variables)
	if err != nil {
		return nil, err
	}
	if _, err := s.do(ctx, &engine.Cmd{Op: engine.OpThrow, Key: req.JobKey, Code: req.ErrorCode, Message: req.ErrorMessage,
		Variables: vars}); err != nil {
		return nil, err
	}
	return &pb.ThrowErrorResponse{}, nil
}

func (s *Server) UpdateJobTimeout(ctx context.Context, req *pb.UpdateJobTimeoutRequest) (*pb.UpdateJobTimeoutResponse, error) {
	if _, err := s.do(ctx, &engine.Cmd{Op: engine.OpUpdateTimeout, Key: req.JobKey, Timeout: req.Timeout}); err != nil {
		return nil, err
	}
	return &pb.UpdateJobTimeoutResponse{}, nil
}

func (s *Server) UpdateJobRetries(ctx context.Context, req *pb.UpdateJobRetriesRequest) (*pb.UpdateJobRetriesResponse, error) {
	if _, err := s.do(ctx, &engine.Cmd{Op: engine.OpUpdateRetries, Key: req.JobKey, Retries: req.Retries}); err != nil {
		return nil, err
	}
	return &pb.UpdateJobRetriesResponse{}, nil
}

func (s *Server) SetVariables(ctx context.Context, req *pb.SetVariablesRequest) (*pb.SetVariablesResponse, error) {
	vars, err := document(req.Variables)
	if err != nil {
		return nil, err
	}
	res, err := s.do(ctx, &engine.Cmd{Op: engine.OpSetVariables, Key: req.ElementInstanceKey, Variables: vars, Local: req.Local})
	if err != nil {
		return nil, err
	}
	return &pb.SetVariablesResponse{Key: res.Key}, nil
}

func (s *Server) PublishMessage(ctx context.Context, req *pb.PublishMessageRequest) (*pb.PublishMessageResponse, error) {
	if err := checkTenant(req.TenantId); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Name) == "" {
		return nil, status.Error(codes.InvalidArgument, "Expected to publish a message with a name, but the name was blank")
	}
	vars, err := document(req.Variables)
	if err != nil {
		return nil, err
	}
	res, err := s.do(ctx, &engine.Cmd{Op: engine.OpPublish, Name: req.Name, Corr: req.CorrelationKey, ID: req.MessageId,
		TTL: req.TimeToLive, Variables: vars})
	if err != nil {
		return nil, err
	}
	return &pb.PublishMessageResponse{Key: res.Key, TenantId: engine.DefaultTenant}, nil
}

func (s *Server) ResolveIncident(ctx context.Context, req *pb.ResolveIncidentRequest) (*pb.ResolveIncidentResponse, error) {
	if _, err := s.do(ctx, &engine.Cmd{Op: engine.OpResolve, Key: req.IncidentKey}); err != nil {
		return nil, err
	}
	return &pb.ResolveIncidentResponse{}, nil
}
