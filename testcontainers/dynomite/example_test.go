package dynomite_test

import (
	"context"
	"fmt"
	"log"

	"github.com/redis/go-redis/v9"

	"github.com/dynomite-go/dynomite/testcontainers/dynomite"
)

// Three racks of Redis: a write through rack 1's node is read back through
// rack 3's. At DC_QUORUM a write is acknowledged by two racks of three and a
// read asks all three and takes the answer two agree on, so the read sees
// the write at once (at DC_ONE, the default, rack 3 gets its copy in the
// background, a moment later).
func Example() {
	ctx := context.Background()
	cluster, err := dynomite.Run(ctx,
		dynomite.WithRacks(3),
		dynomite.WithConsistency(dynomite.DCQuorum, dynomite.DCQuorum))
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := cluster.Terminate(context.Background()); err != nil {
			log.Print(err)
		}
	}()

	addrs, err := cluster.Endpoints(ctx)
	if err != nil {
		log.Fatal(err)
	}
	rack1 := redis.NewClient(&redis.Options{Addr: addrs[0], Protocol: 2, DisableIdentity: true})
	defer rack1.Close()
	rack3 := redis.NewClient(&redis.Options{Addr: addrs[2], Protocol: 2, DisableIdentity: true})
	defer rack3.Close()

	if err := rack1.Set(ctx, "greeting", "hello from rack1", 0).Err(); err != nil {
		log.Fatal(err)
	}
	v, err := rack3.Get(ctx, "greeting").Result()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(addrs), "nodes:", cluster.Nodes[0].Rack, cluster.Nodes[1].Rack, cluster.Nodes[2].Rack)
	fmt.Println("through rack3:", v)
	// Output:
	// 3 nodes: rack1 rack2 rack3
	// through rack3: hello from rack1
}
