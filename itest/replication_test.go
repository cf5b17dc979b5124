package itest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

const replKeysPerNode = 100

// TestReplicationRedis: three racks; writes through each node (SET at
// DC_ONE, SET at DC_QUORUM, MSET) are in every rack's Redis, and reads
// through every node (GET, MGET) return them.
func TestReplicationRedis(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := newEnv(t, "repl-redis")
	c := oneDC(e, 3, false, "", "")
	waitReplicated(t, c.Nodes, c.Stores, 30*time.Second)
	ctx := context.Background()

	var ops Counts
	var written []Write
	for _, n := range c.Nodes {
		for _, level := range []string{"DC_ONE", "DC_QUORUM"} {
			nc := nodeClient(n, level)
			for i := 0; i < replKeysPerNode; i++ {
				k, v := fmt.Sprintf("repl:%s:%s:%03d", n.Role, level, i), fmt.Sprintf("%s-%d", level, i)
				if err := nc.Set(ctx, k, v, 0).Err(); err != nil {
					ops.fail("SET " + errText(err))
					continue
				}
				ops.ok()
				written = append(written, Write{Key: k, Val: v, Worker: n.Role + "/" + level, Seq: i})
			}
			nc.Close()
		}
		// Multi-key: MSET is split by replica set and reassembled.
		nc := nodeClient(n, "")
		var kv []any
		for i := 0; i < 20; i++ {
			k, v := fmt.Sprintf("repl:%s:mset:%03d", n.Role, i), fmt.Sprintf("m%d", i)
			kv = append(kv, k, v)
			written = append(written, Write{Key: k, Val: v, Worker: n.Role + "/MSET", Seq: i})
		}
		if err := nc.MSet(ctx, kv...).Err(); err != nil {
			ops.fail("MSET " + errText(err))
		} else {
			ops.ok()
		}
		nc.Close()
	}

	// Every rack's Redis holds every write (DC_ONE replicates in the
	// background: give it a moment).
	for _, s := range c.Stores {
		sc := storeClient(s)
		var missing, wrong []Write
		err := eventually(10*time.Second, 200*time.Millisecond, func() error {
			var err error
			missing, wrong, err = missingIn(ctx, sc, written)
			if err == nil && len(missing)+len(wrong) > 0 {
				err = fmt.Errorf("%d missing, %d wrong", len(missing), len(wrong))
			}
			return err
		})
		sc.Close()
		if err != nil {
			t.Errorf("%s: %v; missing: %s; wrong: %s", s.Role, err, keyRanges(missing), keyRanges(wrong))
		}
	}

	// Reads through every node, single and multi-key.
	var reads Counts
	for _, n := range c.Nodes {
		for _, level := range []string{"DC_ONE", "DC_QUORUM"} {
			nc := nodeClient(n, level)
			for i := 0; i < len(written); i += 50 {
				batch := written[i:min(i+50, len(written))]
				keys := make([]string, len(batch))
				for j, w := range batch {
					keys[j] = w.Key
				}
				vals, err := nc.MGet(ctx, keys...).Result()
				if err != nil {
					reads.fail("MGET " + errText(err))
					continue
				}
				for j, v := range vals {
					if s, _ := v.(string); s != batch[j].Val {
						reads.fail(fmt.Sprintf("MGET through %s at %s: wrong value", n.Role, level))
					} else {
						reads.ok()
					}
				}
			}
			for _, w := range written[:10] {
				if v, err := nc.Get(ctx, w.Key).Result(); err != nil || v != w.Val {
					reads.fail(fmt.Sprintf("GET through %s at %s: %v %q", n.Role, level, err, v))
				} else {
					reads.ok()
				}
			}
			nc.Close()
		}
	}
	if ops.Failed() > 0 || reads.Failed() > 0 {
		t.Errorf("writes: %s; reads: %s\n%s", ops.String(), reads.String(), logsOf(20, c.all()...))
	}
	summary(t, "replication/redis", start,
		"3 racks; writes %s (SET ×%d per node at DC_ONE and DC_QUORUM, MSET ×20 per node); all %d keys checked in each of the 3 Redis: %s; reads through each node at DC_ONE and DC_QUORUM (MGET, GET) %s; %s",
		ops.String(), replKeysPerNode, len(written), verdict(t), reads.String(), imagesNote)
}

// TestReplicationMemcached: three racks of Memcached; sets through each node
// are in every rack's memcached, and gets through every node return them.
func TestReplicationMemcached(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := newEnv(t, "repl-memcached")
	c := oneDC(e, 3, true, "", "")

	mcOf := func(addr func() (string, error)) *memcache.Client {
		a, err := addr()
		if err != nil {
			t.Fatalf("%v", err)
		}
		mc := memcache.New(a)
		mc.Timeout = 5 * time.Second
		return mc
	}
	nodeMC := func(n *Node) *memcache.Client { return mcOf(func() (string, error) { return n.Addr(), nil }) }
	storeMC := func(s *Ctr) *memcache.Client { return mcOf(func() (string, error) { return s.HostAddr("11211/tcp") }) }

	// Ready: a set through each node reaches every memcached.
	for _, n := range c.Nodes {
		mc := nodeMC(n)
		try := 0
		err := eventually(30*time.Second, 300*time.Millisecond, func() error {
			try++
			k := fmt.Sprintf("ready:%s:%d", n.Role, try)
			if err := mc.Set(&memcache.Item{Key: k, Value: []byte("1")}); err != nil {
				return err
			}
			return eventually(time.Second, 100*time.Millisecond, func() error {
				for _, s := range c.Stores {
					if _, err := storeMC(s).Get(k); err != nil {
						return fmt.Errorf("%s: %v", s.Role, err)
					}
				}
				return nil
			})
		})
		if err != nil {
			t.Fatalf("memcached cluster not ready: %v\n%s", err, logsOf(20, c.all()...))
		}
	}

	var ops Counts
	var written []Write
	for _, n := range c.Nodes {
		mc := nodeMC(n)
		for i := 0; i < replKeysPerNode; i++ {
			k, v := fmt.Sprintf("repl:%s:%03d", n.Role, i), fmt.Sprintf("val-%s-%d", n.Role, i)
			if err := mc.Set(&memcache.Item{Key: k, Value: []byte(v), Flags: 7}); err != nil {
				ops.fail("set " + errText(err))
				continue
			}
			ops.ok()
			written = append(written, Write{Key: k, Val: v, Worker: n.Role, Seq: i})
		}
	}
	keys := make([]string, len(written))
	for i, w := range written {
		keys[i] = w.Key
	}
	check := func(mc *memcache.Client, who string) (bad []Write, err error) {
		for i := 0; i < len(keys); i += 50 {
			items, err := mc.GetMulti(keys[i:min(i+50, len(keys))])
			if err != nil {
				return nil, err
			}
			for _, w := range written[i:min(i+50, len(keys))] {
				it := items[w.Key]
				if it == nil || string(it.Value) != w.Val || it.Flags != 7 {
					bad = append(bad, w)
				}
			}
		}
		return bad, nil
	}
	for _, s := range c.Stores {
		mc := storeMC(s)
		var bad []Write
		err := eventually(10*time.Second, 200*time.Millisecond, func() error {
			var err error
			bad, err = check(mc, s.Role)
			if err == nil && len(bad) > 0 {
				err = fmt.Errorf("%d keys missing or wrong", len(bad))
			}
			return err
		})
		if err != nil {
			t.Errorf("%s: %v: %s", s.Role, err, keyRanges(bad))
		}
	}
	var reads Counts
	for _, n := range c.Nodes {
		bad, err := check(nodeMC(n), n.Role)
		switch {
		case err != nil:
			reads.fail("get through " + n.Role + ": " + errText(err))
		case len(bad) > 0:
			reads.fail(fmt.Sprintf("get through %s: %d missing or wrong", n.Role, len(bad)))
		default:
			reads.ok()
		}
	}
	if ops.Failed() > 0 || reads.Failed() > 0 {
		t.Errorf("sets: %s; multi-gets: %s\n%s", ops.String(), reads.String(), logsOf(20, c.all()...))
	}
	summary(t, "replication/memcached", start,
		"3 racks; sets %s (%d per node, flags kept); all %d keys checked in each of the 3 memcached: %s; multi-key gets through each node of all keys %s",
		ops.String(), replKeysPerNode, len(written), verdict(t), reads.String())
}

// verdict is "ok" or "FAILED" for the summary line.
func verdict(t *testing.T) string {
	if t.Failed() {
		return "FAILED"
	}
	return "ok"
}
