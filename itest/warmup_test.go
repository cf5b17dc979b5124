package itest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestWarmUp: three racks at DC_ONE hold 20,000 keys. Rack 3's node is
// stopped, its Redis emptied (a replaced node), and the node started again
// with warm_up (5,000 keys/s) while clients read those keys through every
// node and write new ones through racks 1 and 2. Checked:
//   - rack 3's Redis holds every key when the node first answers /ready
//     (the container's wait strategy): it served no read before;
//   - no read through any node, rack 3's included while it warmed,
//     returned one of those keys as missing;
//   - the writes made meanwhile reach rack 3's Redis.
//
// The warm-up's time and rate are reported.
func TestWarmUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "warmup")
	c := oneDC(e, 3, false, "", "")
	waitReplicated(t, c.Nodes, c.Stores, 30*time.Second)
	victim, victimRedis := c.Nodes[2], c.Stores[2]
	ctx := context.Background()

	const n = 20_000
	nc := nodeClient(c.Nodes[0], "")
	defer nc.Close()
	for i := 0; i < n; i += 500 {
		p := nc.Pipeline()
		for j := i; j < i+500; j++ {
			p.Set(ctx, "warm:"+strconv.Itoa(j), "v"+strconv.Itoa(j), 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatalf("loading through %s: %v", c.Nodes[0].Role, err)
		}
	}
	stores := make([]*redis.Client, 3)
	for i, s := range c.Stores {
		stores[i] = storeClient(s)
		defer stores[i].Close()
	}
	for i, sc := range stores {
		if err := eventually(30*time.Second, 200*time.Millisecond, func() error {
			if got, err := sc.DBSize(ctx).Result(); err != nil || got < n {
				return fmt.Errorf("%s holds %d keys (%v)", c.Stores[i].Role, got, err)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	e.Step("%d keys in every rack", n)

	victim.Stop(10 * time.Second)
	if err := stores[2].FlushAll(ctx).Err(); err != nil {
		t.Fatalf("emptying %s: %v", victimRedis.Role, err)
	}
	conf := victim.Conf
	conf.Extra = append(conf.Extra, [2]string{"warm_up", "true"}, [2]string{"stream_keys_per_sec", "5000"})
	victim.Copy(confPath, []byte(conf.YAML()), 0o644)

	var (
		stop                    atomic.Bool
		wg                      sync.WaitGroup
		reads, victimReads      atomic.Int64
		missing, failed, writes atomic.Int64
		mu                      sync.Mutex
		problems                []string
		written                 []string
	)
	note := func(p string) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 10 {
			problems = append(problems, p)
		}
	}
	read := func(name string, cl *redis.Client, count *atomic.Int64) {
		defer wg.Done()
		defer cl.Close()
		for j := 0; !stop.Load(); j++ {
			k := "warm:" + strconv.Itoa((j*7919)%n)
			_, err := cl.Get(ctx, k).Result()
			switch {
			case errors.Is(err, redis.Nil):
				missing.Add(1)
				note(fmt.Sprintf("GET %s through %s: missing", k, name))
			case err != nil:
				// the restarting node refuses connections for a moment
				if name != victim.Role {
					failed.Add(1)
					note(fmt.Sprintf("GET %s through %s: %v", k, name, err))
				}
				time.Sleep(50 * time.Millisecond)
				continue
			}
			reads.Add(1)
			if count != nil {
				count.Add(1)
			}
		}
	}
	for _, nd := range c.Nodes[:2] {
		wg.Add(2)
		go read(nd.Role, nodeClient(nd, ""), nil)
		go func() {
			defer wg.Done()
			cl := nodeClient(nd, "")
			defer cl.Close()
			for j := 0; !stop.Load(); j++ {
				k := fmt.Sprintf("during:%s:%d", nd.Role, j)
				if err := cl.Set(ctx, k, "x", 0).Err(); err != nil {
					failed.Add(1)
					note(fmt.Sprintf("SET %s through %s: %v", k, nd.Role, err))
					continue
				}
				writes.Add(1)
				mu.Lock()
				written = append(written, k)
				mu.Unlock()
			}
		}()
	}
	// rack 3's reader dials the node's published address of the moment:
	// it changes with the restart
	wg.Add(1)
	go read(victim.Role, redis.NewClient(&redis.Options{
		Addr: victim.Role,
		Dialer: func(ctx context.Context, network, _ string) (net.Conn, error) {
			a, err := victim.HostAddr("8102/tcp")
			if err != nil {
				return nil, err
			}
			d := net.Dialer{Timeout: clientDialTimeout}
			return d.DialContext(ctx, network, a)
		},
		Protocol: 2, DisableIdentity: true, MaxRetries: -1, DialTimeout: clientDialTimeout, ReadTimeout: clientReadTimeout, PoolSize: 1,
	}), &victimReads)

	began := time.Now()
	victim.Restart() // returns once /ready answers 200: the warm-up completed
	took := time.Since(began)
	got, err := stores[2].DBSize(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	// the first n keys must all be there; writes made meanwhile add to them
	for i := 0; i < n; i += 1000 {
		p := stores[2].Pipeline()
		cmds := make([]*redis.IntCmd, 0, 1000)
		for j := i; j < i+1000; j++ {
			cmds = append(cmds, p.Exists(ctx, "warm:"+strconv.Itoa(j)))
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for j, cmd := range cmds {
			if cmd.Val() != 1 {
				t.Fatalf("warm:%d is not on %s when %s is ready (it holds %d keys)\n%s", i+j, victimRedis.Role, victim.Role, got, victim.Logs(30))
			}
		}
	}
	e.Step("%s warmed up and ready in %s (restart included): %d keys on %s, %.0f keys/s", victim.Role,
		took.Round(100*time.Millisecond), got, victimRedis.Role, float64(n)/took.Seconds())

	before := victimReads.Load()
	if err := eventually(30*time.Second, 100*time.Millisecond, func() error {
		if victimReads.Load() < before+100 {
			return fmt.Errorf("reads through %s stalled at %d", victim.Role, victimReads.Load())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stop.Store(true)
	wg.Wait()
	e.Step("%d reads (%d through %s), %d writes during the warm-up", reads.Load(), victimReads.Load(), victim.Role, writes.Load())
	if missing.Load() > 0 || failed.Load() > 0 {
		t.Fatalf("%d reads returned a key as missing, %d requests failed: %v", missing.Load(), failed.Load(), problems)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, k := range written {
		if err := eventually(10*time.Second, 100*time.Millisecond, func() error {
			if v, err := stores[2].Get(ctx, k).Result(); err != nil || v != "x" {
				return fmt.Errorf("%s is not on %s: %q %v", k, victimRedis.Role, v, err)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}
