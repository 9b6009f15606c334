//go:build integration

package conformance

import (
	"context"
	"testing"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/entities"
	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"github.com/camunda/zeebe/clients/go/v8/pkg/zbc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// §A: one broker, partition 1 LEADER HEALTHY, version 8.5.8.
func TestK01TopologyReportsOneHealthyLeader(t *testing.T) {
	t.Parallel()
	top, err := eng.zc.NewTopologyCommand().Send(ctxT(t, 10*time.Second))
	must(t, err, "Topology")
	if top.GetGatewayVersion() != "8.5.8" {
		t.Errorf("gatewayVersion %q, want 8.5.8", top.GetGatewayVersion())
	}
	if top.GetClusterSize() != 1 || top.GetPartitionsCount() != 1 || top.GetReplicationFactor() != 1 {
		t.Errorf("clusterSize %d partitionsCount %d replicationFactor %d, want 1 1 1", top.GetClusterSize(), top.GetPartitionsCount(), top.GetReplicationFactor())
	}
	if len(top.GetBrokers()) != 1 {
		t.Fatalf("%d brokers, want 1: %v", len(top.GetBrokers()), top.GetBrokers())
	}
	b := top.GetBrokers()[0]
	if b.GetNodeId() != 0 || b.GetVersion() != "8.5.8" || b.GetHost() == "" || b.GetPort() <= 0 {
		t.Errorf("broker nodeId %d host %q port %d version %q, want nodeId 0, a host, a port, version 8.5.8", b.GetNodeId(), b.GetHost(), b.GetPort(), b.GetVersion())
	}
	if len(b.GetPartitions()) != 1 {
		t.Fatalf("%d partitions, want 1: %v", len(b.GetPartitions()), b.GetPartitions())
	}
	p := b.GetPartitions()[0]
	if p.GetPartitionId() != 1 || p.GetRole() != pb.Partition_LEADER || p.GetHealth() != pb.Partition_HEALTHY {
		t.Errorf("partition %d %s %s, want 1 LEADER HEALTHY", p.GetPartitionId(), p.GetRole(), p.GetHealth())
	}
}

// §A: the server must tolerate the Go client's keepalive pings.
//
// Scaled down: the item asks for pings every 45 s (the Go client's default) for 10 minutes. Here
// the client pings every 10 s (gRPC-Go's minimum) for 45 s while one idle job stream keeps the
// connection active (gRPC-Go only pings with a call open). gRPC-Go's default server policy
// (MinTime 5 min, 2 strikes tolerated) answers the fourth ping, at about 40 s, with GOAWAY
// ENHANCE_YOUR_CALM "too_many_pings", which kills the stream with UNAVAILABLE; the window is
// 45 s rather than 35 s so that such a server fails this test. Passing requires a server that
// permits pings at 10 s intervals (stricter than Zeebe's 30 s minKeepAliveInterval, which covers the
// real 45 s).
func TestK02KeepalivePingsDoNotCauseGoaway(t *testing.T) {
	t.Parallel()
	const window = 45 * time.Second
	zc, err := zbc.NewClient(&zbc.ClientConfig{GatewayAddress: eng.addr, UsePlaintextConnection: true, KeepAlive: 10 * time.Second})
	must(t, err, "client")
	defer zc.Close()
	// one call first so that the connection is up
	_, err = zc.NewTopologyCommand().Send(ctxT(t, 10*time.Second))
	must(t, err, "Topology")

	jobs := make(chan entities.Job, 1)
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		done <- zc.NewStreamJobsCommand().JobType("k02-nobody").Consumer(jobs).WorkerName("k02").Timeout(time.Minute).Send(ctx)
	}()
	var streamErr error
	select {
	case streamErr = <-done:
	case j := <-jobs:
		t.Fatalf("unexpected job %v", j)
	case <-time.After(window + 15*time.Second):
		t.Fatal("the stream did not end at the client deadline")
	}
	elapsed := time.Since(start)
	if elapsed < window-500*time.Millisecond {
		t.Fatalf("the stream ended after %s (before the %s window): %v (a GOAWAY for too many pings ends it with UNAVAILABLE)", elapsed.Round(time.Millisecond), window, streamErr)
	}
	if c := status.Code(streamErr); c != codes.DeadlineExceeded && c != codes.Canceled {
		t.Errorf("stream ended with %v, want the client's own deadline", streamErr)
	}
	// the connection is still usable
	top, err := zc.NewTopologyCommand().Send(ctxT(t, 10*time.Second))
	if err != nil || top.GetGatewayVersion() != "8.5.8" {
		t.Errorf("Topology after %s of 10 s pings: %v %v", window, top, err)
	}
}
