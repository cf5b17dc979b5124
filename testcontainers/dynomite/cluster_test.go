package dynomite_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"

	"github.com/dynomite-go/dynomite/testcontainers/dynomite"
)

func run(t *testing.T, opts ...dynomite.Option) *dynomite.Cluster {
	t.Helper()
	needDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := dynomite.Run(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Terminate(context.Background()); err != nil {
			t.Errorf("terminate: %v", err)
		}
	})
	return c
}

// memcache sends one text-protocol command and returns the reply up to its
// last line (STORED, END, an error).
func memcache(t *testing.T, addr, cmd string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(cmd)); err != nil {
		t.Fatal(err)
	}
	var reply []string
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%q to %s: %v after %q", cmd, addr, err, reply)
		}
		line = strings.TrimRight(line, "\r\n")
		reply = append(reply, line)
		switch {
		case line == "STORED", line == "END", strings.Contains(line, "ERROR"):
			return strings.Join(reply, "|")
		}
	}
}

// Two datacenters of one Memcached rack each: a set through dc1's node at
// DC_EACH_SAFE_QUORUM is acknowledged only once both datacenters stored
// it, so dc2's own memcached holds it at once; a get through dc2's node
// returns it.
func TestMemcachedTwoDatacenters(t *testing.T) {
	c := run(t, dynomite.WithDatastore(dynomite.Memcached), dynomite.WithDatacenters(2), dynomite.WithRacks(1),
		dynomite.WithConsistency(dynomite.DCEachSafeQuorum, dynomite.DCEachSafeQuorum))
	ctx := context.Background()
	if len(c.Nodes) != 2 || c.Nodes[0].Datacenter != "dc1" || c.Nodes[1].Datacenter != "dc2" {
		t.Fatalf("nodes: %+v", c.Nodes)
	}
	dc1, err := c.Nodes[0].Endpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dc2, err := c.Nodes[1].Endpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dc2Store, err := c.Nodes[1].Datastore.Endpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := memcache(t, dc1, "set k 5 0 2\r\nv1\r\n"); got != "STORED" {
		t.Fatalf("set through dc1: %q", got)
	}
	if got := memcache(t, dc2Store, "get k\r\n"); got != "VALUE k 5 2|v1|END" {
		t.Fatalf("dc2's memcached: %q", got)
	}
	if got := memcache(t, dc2, "get k\r\n"); got != "VALUE k 5 2|v1|END" {
		t.Fatalf("get through dc2: %q", got)
	}
	if !strings.Contains(c.Nodes[1].Config.YAML(), "data_store: 1") {
		t.Fatalf("config: %s", c.Nodes[1].Config.YAML())
	}
}

// A password: a client must AUTH with it (the node's requirepass), the
// datastore requires it too, and the node still reaches its Redis
// (datastore_password). Images named explicitly, labels on every
// container and the network, a customizer naming the containers; all of
// it gone after Terminate.
func TestPasswordLabelsCustomizerTerminate(t *testing.T) {
	needDocker(t)
	ctx := context.Background()
	const pw = "s3cret: #1"
	name := fmt.Sprintf("dyntc-%d", time.Now().UnixNano())
	c, err := dynomite.Run(ctx, dynomite.WithRacks(2), dynomite.WithPassword(pw),
		dynomite.WithImage(dynomite.DefaultImage), dynomite.WithRedisImage(dynomite.DefaultRedisImage),
		dynomite.WithLabels(map[string]string{"dyntc.test": name}),
		dynomite.WithCustomizer(func(m dynomite.Member, req *testcontainers.GenericContainerRequest) error {
			req.Name = name + "-" + m.Alias
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	terminated := false
	t.Cleanup(func() {
		if !terminated {
			_ = c.Terminate(ctx)
		}
	})
	addrs, err := c.Endpoints(ctx)
	if err != nil || len(addrs) != 2 {
		t.Fatalf("endpoints %q: %v", addrs, err)
	}
	for _, a := range addrs {
		if h, _, _ := net.SplitHostPort(a); h != "127.0.0.1" && h != "localhost" {
			t.Errorf("endpoint %s is not on loopback (a local daemon's ports are published on 127.0.0.1)", a)
		}
	}
	noAuth := redis.NewClient(&redis.Options{Addr: addrs[0], Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	defer noAuth.Close()
	if err := noAuth.Set(ctx, "k", "v", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("SET without AUTH: %v, want NOAUTH", err)
	}
	wrong := redis.NewClient(&redis.Options{Addr: addrs[0], Password: "nope", Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	defer wrong.Close()
	if err := wrong.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("a wrong password: %v, want WRONGPASS", err)
	}
	for i, a := range addrs {
		cl := redis.NewClient(&redis.Options{Addr: a, Password: pw, Protocol: 2, DisableIdentity: true})
		defer cl.Close()
		key := fmt.Sprintf("k%d", i)
		if err := cl.Set(ctx, key, "v", 0).Err(); err != nil {
			t.Fatalf("SET through %s with AUTH: %v", c.Nodes[i].Alias, err)
		}
		if v, err := cl.Get(ctx, key).Result(); err != nil || v != "v" {
			t.Fatalf("GET through %s: %q %v", c.Nodes[i].Alias, v, err)
		}
	}
	store, err := c.Nodes[0].Datastore.Endpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	direct := redis.NewClient(&redis.Options{Addr: store, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	defer direct.Close()
	if err := direct.Get(ctx, "k0").Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("the Redis itself without AUTH: %v, want NOAUTH", err)
	}

	ids := map[string]bool{}
	for _, n := range c.Nodes {
		for _, ctr := range []*testcontainers.DockerContainer{n.Container, n.Datastore.Container} {
			in, err := ctr.Inspect(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if in.Config.Labels["dyntc.test"] != name || !strings.HasPrefix(strings.TrimPrefix(in.Name, "/"), name+"-") {
				t.Errorf("container %s: labels %v", in.Name, in.Config.Labels)
			}
			ids[ctr.GetContainerID()] = true
		}
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	nw, err := cli.NetworkInspect(ctx, c.Network.ID, client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if nw.Network.Labels["dyntc.test"] != name {
		t.Errorf("network labels %v", nw.Network.Labels)
	}

	if err := c.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	terminated = true
	for id := range ids {
		if _, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil {
			t.Errorf("container %s is still there after Terminate", id)
		}
	}
	if _, err := cli.NetworkInspect(ctx, c.Network.ID, client.NetworkInspectOptions{}); err == nil {
		t.Errorf("network %s is still there after Terminate", c.Network.Name)
	}
}
