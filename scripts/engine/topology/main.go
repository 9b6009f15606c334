// Command topology asks a Zeebe gateway (pa-engine, or any Zeebe cluster) for its topology over
// gRPC and exits 0 when the Topology call succeeds.
//
// It is the readiness probe of scripts/engine.sh: pa-engine is ready once it answers Topology.
// With -leader it also requires a partition that reports itself LEADER and HEALTHY (what a
// Zeebe cluster answers once it takes commands).
//
// Usage: topology [-address 127.0.0.1:26500] [-timeout 3s] [-leader] [-v]
//
// Exit codes: 0 ready, 1 reachable but no healthy leader yet (-leader only), 2 unreachable
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
	address := flag.String("address", "127.0.0.1:26500", "gateway gRPC address host:port (plaintext)")
	timeout := flag.Duration("timeout", 3*time.Second, "timeout of the Topology request")
	leader := flag.Bool("leader", false, "also require a HEALTHY partition LEADER")
	verbose := flag.Bool("v", false, "print the topology")
	flag.Parse()

	// The Zeebe client reads ZEEBE_ADDRESS, ZEEBE_CLIENT_ID and friends from the environment and
	// lets them override the configuration: this probe talks to the address it is given, in
	// plaintext, without credentials.
	for _, name := range []string{"ZEEBE_ADDRESS", "ZEEBE_HOST", "ZEEBE_PORT", "ZEEBE_INSECURE_CONNECTION",
		"ZEEBE_CA_CERTIFICATE_PATH", "ZEEBE_OVERRIDE_AUTHORITY", "ZEEBE_CLIENT_ID", "ZEEBE_CLIENT_SECRET",
		"ZEEBE_AUTHORIZATION_SERVER_URL", "ZEEBE_TOKEN_AUDIENCE", "ZEEBE_TOKEN_SCOPE", "ZEEBE_CLIENT_CONFIG_PATH"} {
		os.Unsetenv(name)
	}
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

	healthyLeader := false
	for _, b := range resp.GetBrokers() {
		for _, p := range b.GetPartitions() {
			if *verbose {
				fmt.Printf("node %d %s:%d version %s partition %d %s %s\n",
					b.GetNodeId(), b.GetHost(), b.GetPort(), b.GetVersion(),
					p.GetPartitionId(), p.GetRole(), p.GetHealth())
			}
			if p.GetRole() == pb.Partition_LEADER && p.GetHealth() == pb.Partition_HEALTHY {
				healthyLeader = true
			}
		}
	}
	if *verbose {
		fmt.Printf("cluster size %d, partitions %d, replication factor %d, gateway version %s\n",
			resp.GetClusterSize(), resp.GetPartitionsCount(), resp.GetReplicationFactor(), resp.GetGatewayVersion())
	}
	if *leader && !healthyLeader {
		fmt.Fprintf(os.Stderr, "topology: %s: no healthy partition leader yet (%d nodes)\n", *address, len(resp.GetBrokers()))
		os.Exit(1)
	}
}
