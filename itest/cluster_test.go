package itest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dynomite-go/dynomite/testcontainers/dynomite"
)

// token is every node's token: with one node per rack, each rack owns the
// whole ring and holds a full copy.
const token = "437425602"

// Cluster is one datacenter of racks, one node and one datastore per rack,
// on one network.
type Cluster struct {
	e      *Env
	Net    *Net
	Nodes  []*Node
	Stores []*Ctr
}

// oneDC starts racks rack1..rackN of datacenter dc1: redis-rK (or
// memcached-rK) and dyn-rK, which knows the others as dyn_seeds, with the
// testcontainers module (Env.RunCluster).
func oneDC(e *Env, racks int, memcached bool, read, write string) *Cluster {
	e.t.Helper()
	ds := dynomite.Redis
	if memcached {
		ds = dynomite.Memcached
	}
	if read == "" {
		read = string(dynomite.DCOne)
	}
	if write == "" {
		write = string(dynomite.DCOne)
	}
	opts := []dynomite.Option{dynomite.WithRacks(racks), dynomite.WithDatastore(ds),
		dynomite.WithConsistency(dynomite.Consistency(read), dynomite.Consistency(write))}
	for _, kv := range hintsExtra {
		opts = append(opts, dynomite.WithNodeConfig(kv[0], kv[1]))
	}
	return e.RunCluster(opts...)
}

// all returns every container of the cluster, for logs.
func (c *Cluster) all() []*Ctr {
	var out []*Ctr
	for _, n := range c.Nodes {
		out = append(out, n.Ctr)
	}
	return append(out, c.Stores...)
}

// probeSeq makes every probe key new.
var probeSeq atomic.Int64

// waitReplicated waits until a write through each node reaches every
// given Redis: the nodes' peer connections are up. A fresh key is written
// on each try (a write made while a peer was not connected is not
// replicated later).
func waitReplicated(t *testing.T, via []*Node, stores []*Ctr, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, len(via))
	for i, n := range via {
		wg.Go(func() {
			nc := nodeClient(n, "DC_ONE")
			defer nc.Close()
			scs := make([]*redis.Client, len(stores))
			for j, s := range stores {
				scs[j] = storeClient(s)
				defer scs[j].Close()
			}
			try := 0
			errs[i] = eventually(within, 300*time.Millisecond, func() error {
				try++
				key := fmt.Sprintf("ready:%s:%d:%d", n.Role, probeSeq.Add(1), try)
				if err := nc.Set(ctx, key, "1", 0).Err(); err != nil {
					return fmt.Errorf("SET through %s: %v", n.Role, err)
				}
				return eventually(time.Second, 100*time.Millisecond, func() error {
					for j, sc := range scs {
						if v, err := sc.Get(ctx, key).Result(); err != nil || v != "1" {
							return fmt.Errorf("a write through %s does not reach %s (%v)", n.Role, stores[j].Role, err)
						}
					}
					return nil
				})
			})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			var cs []*Ctr
			for _, n := range via {
				cs = append(cs, n.Ctr)
			}
			t.Fatalf("cluster not ready after %s: %v\n%s", within, err, logsOf(20, cs...))
		}
	}
}
