// Command topology asks a Zeebe gateway for its cluster topology over gRPC
// and exits 0 when at least one broker reports a HEALTHY partition LEADER.
//
// It is the readiness probe of scripts/zeebe.sh: a broker whose gateway
// answers Topology with a healthy leader accepts commands (deploy, create
// instance, activate/stream jobs).
//
// Usage: topology [-address 127.0.0.1:26500] [-timeout 3s] [-v]
//
// Exit codes: 0 ready, 1 reachable but no healthy leader yet, 2 unreachable
// or the request failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"github.com/camunda/zeebe/clients/go/v8/pkg/zbc"
)

func main() {
	address := flag.String("address", envOr("ZEEBE_ADDRESS", "127.0.0.1:26500"), "gateway gRPC address host:port")
	timeout := flag.Duration("timeout", 3*time.Second, "timeout of the Topology request")
	verbose := flag.Bool("v", false, "print the topology")
	flag.Parse()

	client, err := zbc.NewClient(&zbc.ClientConfig{
		GatewayAddress:         *address,
		UsePlaintextConnection: true,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "topology: client: %v\n", err)
		os.Exit(2)
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	resp, err := client.NewTopologyCommand().Send(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "topology: %s: %v\n", *address, err)
		os.Exit(2)
	}

	ready := false
	for _, b := range resp.GetBrokers() {
		for _, p := range b.GetPartitions() {
			if *verbose {
				fmt.Printf("broker %d %s:%d version %s partition %d %s %s\n",
					b.GetNodeId(), b.GetHost(), b.GetPort(), b.GetVersion(),
					p.GetPartitionId(), p.GetRole(), p.GetHealth())
			}
			if p.GetRole() == pb.Partition_LEADER && p.GetHealth() == pb.Partition_HEALTHY {
				ready = true
			}
		}
	}
	if *verbose {
		fmt.Printf("cluster size %d, partitions %d, replication factor %d, gateway version %s\n",
			resp.GetClusterSize(), resp.GetPartitionsCount(), resp.GetReplicationFactor(), resp.GetGatewayVersion())
	}
	if !ready {
		fmt.Fprintf(os.Stderr, "topology: %s: no healthy partition leader yet (%d brokers)\n", *address, len(resp.GetBrokers()))
		os.Exit(1)
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
