package clients

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

// go-redis v9 with its defaults: RESP3 (HELLO 3 on connect), a pool of
// connections, MULTI/EXEC for TxPipelined.
func TestGoRedis(t *testing.T) {
	c := startCluster(t, clusterConfig{})
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: c.Addrs[0]})
	t.Cleanup(func() { rdb.Close() })
	const client = "go-redis"

	record(t, client, "basic: SET/GET", func() error {
		if err := rdb.Set(ctx, "gr:k", "v", 0).Err(); err != nil {
			return err
		}
		return expectEqual(rdb.Get(ctx, "gr:k").Result())("v")
	}())
}
