package dynomite

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Bad options are refused by Run before it touches Docker, with an error
// that names the option and the value.
func TestRunRejectsBadOptions(t *testing.T) {
	cases := []struct {
		opts []Option
		want string
	}{
		{[]Option{WithRacks(0)}, "WithRacks(0)"},
		{[]Option{WithRacks(17)}, "WithRacks(17)"},
		{[]Option{WithDatacenters(0)}, "WithDatacenters(0)"},
		{[]Option{WithDatastore(Datastore(7))}, "WithDatastore(Datastore(7))"},
		{[]Option{WithConsistency("DC_TWO", DCOne)}, `read_consistency "DC_TWO"`},
		{[]Option{WithConsistency(DCOne, "quorum")}, `write_consistency "quorum"`},
		{[]Option{WithPassword("")}, "WithPassword"},
		{[]Option{WithPassword("a\nb")}, "WithPassword"},
		{[]Option{WithDatastore(Memcached), WithPassword("pw")}, "WithPassword needs Redis"},
		{[]Option{WithImage("")}, "WithImage: empty"},
		{[]Option{WithRedisImage("")}, "WithRedisImage: empty"},
		{[]Option{WithMemcachedImage("")}, "WithMemcachedImage: empty"},
		{[]Option{WithNodeConfig("a: b", "1")}, `WithNodeConfig("a: b"`},
		{[]Option{WithNodeConfig("timeout", "1\n2")}, `WithNodeConfig("timeout"`},
		{[]Option{WithHostIP("localhost")}, `WithHostIP("localhost")`},
		{[]Option{WithCustomizer(nil)}, "WithCustomizer(nil)"},
		{[]Option{WithStartupTimeout(0)}, "WithStartupTimeout(0s)"},
	}
	for _, c := range cases {
		cl, err := Run(context.Background(), c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error with %q, got %v", c.want, err)
		}
		if cl != nil {
			t.Errorf("%q: a cluster was returned with the error", c.want)
		}
	}
}

func applied(t *testing.T, opts ...Option) options {
	t.Helper()
	o := defaults()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	return o
}

// The plan of 2 datacenters × 2 racks of Memcached: names, datastores,
// each node's seeds (every other node, with its rack and datacenter, never
// itself) and the settings every node gets.
func TestPlanTwoDatacenters(t *testing.T) {
	o := applied(t, WithDatacenters(2), WithRacks(2), WithDatastore(Memcached),
		WithConsistency("dc_safe_quorum", DCEachSafeQuorum), WithNodeConfig("timeout", "2000"))
	ps := o.plan()
	var aliases []string
	for _, p := range ps {
		aliases = append(aliases, p.Alias+"/"+p.store.Alias)
	}
	want := "dyn-dc1-rack1/memcached-dc1-rack1 dyn-dc1-rack2/memcached-dc1-rack2 dyn-dc2-rack1/memcached-dc2-rack1 dyn-dc2-rack2/memcached-dc2-rack2"
	if got := strings.Join(aliases, " "); got != want {
		t.Fatalf("members:\n got %s\nwant %s", got, want)
	}
	p := ps[2] // dc2 rack1
	if p.Datacenter != "dc2" || p.Rack != "rack1" || !p.Node || p.store.Node {
		t.Fatalf("member %+v store %+v", p.Member, p.store)
	}
	wantSeeds := []string{
		"dyn-dc1-rack1:8101:rack1:dc1:" + Token,
		"dyn-dc1-rack2:8101:rack2:dc1:" + Token,
		"dyn-dc2-rack2:8101:rack2:dc2:" + Token,
	}
	if strings.Join(p.conf.Seeds, ",") != strings.Join(wantSeeds, ",") {
		t.Fatalf("seeds of dc2/rack1: %q, want %q", p.conf.Seeds, wantSeeds)
	}
	y := p.conf.YAML()
	for _, line := range []string{
		"dyn_o_mite:\n",
		"  datacenter: dc2\n", "  rack: rack1\n",
		"  listen: 0.0.0.0:8102\n", "  dyn_listen: 0.0.0.0:8101\n", "  stats_listen: 0.0.0.0:22222\n",
		"  tokens: '" + Token + "'\n",
		"  servers:\n  - memcached-dc2-rack1:11211:1\n",
		"  data_store: 1\n",
		"  read_consistency: DC_SAFE_QUORUM\n", "  write_consistency: DC_EACH_SAFE_QUORUM\n",
		"  dyn_seeds:\n  - dyn-dc1-rack1:8101:rack1:dc1:" + Token + "\n",
		"  timeout: 2000\n",
	} {
		if !strings.Contains(y, line) {
			t.Errorf("the YAML lacks %q:\n%s", line, y)
		}
	}
	if strings.Contains(y, "requirepass") {
		t.Errorf("no password was set, yet:\n%s", y)
	}
}

// A password reaches the nodes (requirepass and datastore_password, quoted
// so that YAML reads it back as given) and redis-server (--requirepass).
func TestPlanPassword(t *testing.T) {
	o := applied(t, WithRacks(1), WithPassword("it's: #1"))
	y := o.plan()[0].conf.YAML()
	for _, line := range []string{"  requirepass: 'it''s: #1'\n", "  datastore_password: 'it''s: #1'\n", "  data_store: 0\n", "  servers:\n  - redis-dc1-rack1:6379:1\n"} {
		if !strings.Contains(y, line) {
			t.Errorf("the YAML lacks %q:\n%s", line, y)
		}
	}
	if o.plan()[0].conf.Seeds != nil {
		t.Errorf("a single node has seeds: %q", o.plan()[0].conf.Seeds)
	}
	cmd := strings.Join(RedisCommand("it's: #1"), " ")
	if !strings.HasSuffix(cmd, "--requirepass it's: #1") {
		t.Errorf("redis command: %s", cmd)
	}
	if strings.Contains(strings.Join(RedisCommand(""), " "), "requirepass") {
		t.Error("requirepass without a password")
	}
}

func TestImagesAndDefaults(t *testing.T) {
	o := applied(t)
	if o.racks != 3 || o.dcs != 1 || o.datastore != Redis || o.read != DCOne || o.write != DCOne || o.image != DefaultImage {
		t.Fatalf("defaults: %+v", o)
	}
	o = applied(t, WithImage("me/dyn:1"), WithRedisImage("redis:7.0"), WithMemcachedImage("memcached:1.6"), WithHostIP("0.0.0.0"))
	if o.image != "me/dyn:1" || o.redisImage != "redis:7.0" || o.memcachedImage != "memcached:1.6" || o.hostIP != "0.0.0.0" {
		t.Fatalf("images: %+v", o)
	}
	req := o.storeRequest(Member{Alias: "redis-dc1-rack1"}, &testcontainers.DockerNetwork{Name: "n"}, "127.0.0.1")
	if req.Image != "redis:7.0" || req.Cmd[0] != "redis-server" {
		t.Fatalf("store request: %s %q", req.Image, req.Cmd)
	}
	o = applied(t, WithDatastore(Memcached), WithMemcachedImage("memcached:1.6"))
	if req := o.storeRequest(Member{}, &testcontainers.DockerNetwork{Name: "n"}, ""); req.Image != "memcached:1.6" || req.Cmd[0] != "memcached" {
		t.Fatalf("store request: %s %q", req.Image, req.Cmd)
	}
}

func TestCountPeersUp(t *testing.T) {
	const metrics = `# HELP dynomite_peer_up 1 when the peer is connected
# TYPE dynomite_peer_up gauge
dynomite_peer_up{peer="dyn-dc1-rack2:8101",peer_dc="dc1",peer_rack="rack2"} 1
dynomite_peer_up{peer="dyn-dc1-rack3:8101",peer_dc="dc1",peer_rack="rack3"} 0
dynomite_peer_up{peer="dyn-dc2-rack1:8101",peer_dc="dc2",peer_rack="rack1"} 1
dynomite_peer_up_other 1
dynomite_peer_admin_down{peer="dyn-dc1-rack2:8101",peer_dc="dc1",peer_rack="rack2"} 1
`
	n, err := countPeersUp(strings.NewReader(metrics))
	if err != nil || n != 2 {
		t.Fatalf("countPeersUp = %d, %v; want 2", n, err)
	}
}

// target is a wait.StrategyTarget whose stats port is an httptest server.
type target struct {
	wait.StrategyTarget
	addr    string
	running atomic.Bool
}

func (t *target) Host(context.Context) (string, error) {
	h, _, err := net.SplitHostPort(t.addr)
	return h, err
}
func (t *target) MappedPort(_ context.Context, port string) (network.Port, error) {
	_, p, _ := net.SplitHostPort(t.addr)
	return network.ParsePort(p + "/tcp")
}
func (t *target) State(context.Context) (*container.State, error) {
	if t.running.Load() {
		return &container.State{Running: true, Status: container.StateRunning}, nil
	}
	return &container.State{Status: container.StateExited, ExitCode: 2}, nil
}

func serve(t *testing.T, h http.HandlerFunc) *target {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tg := &target{addr: srv.Listener.Addr().String()}
	tg.running.Store(true)
	return tg
}

func TestReadyStrategy(t *testing.T) {
	ctx := context.Background()
	t.Run("ready after 503s", func(t *testing.T) {
		var asked atomic.Int32
		tg := serve(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/ready" {
				t.Errorf("asked %s", r.URL.Path)
			}
			if asked.Add(1) < 3 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		})
		if err := ReadyStrategy(30*time.Second).WaitUntilReady(ctx, tg); err != nil {
			t.Fatal(err)
		}
		if asked.Load() != 3 {
			t.Fatalf("asked /ready %d times, want 3", asked.Load())
		}
	})
	t.Run("no /ready: /health", func(t *testing.T) {
		var health atomic.Int32
		tg := serve(t, func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/ready":
				http.NotFound(w, r)
			case "/health":
				if health.Add(1) < 2 {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			}
		})
		if err := ReadyStrategy(30*time.Second).WaitUntilReady(ctx, tg); err != nil {
			t.Fatal(err)
		}
		if health.Load() != 2 {
			t.Fatalf("asked /health %d times, want 2", health.Load())
		}
	})
	t.Run("never ready", func(t *testing.T) {
		tg := serve(t, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "not ready: waiting for peers: dyn-dc1-rack2:8101", http.StatusServiceUnavailable)
		})
		err := ReadyStrategy(500*time.Millisecond).WaitUntilReady(ctx, tg)
		if err == nil || !strings.Contains(err.Error(), "/ready answers 503: not ready: waiting for peers: dyn-dc1-rack2:8101") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("exited", func(t *testing.T) {
		tg := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
		tg.running.Store(false)
		err := ReadyStrategy(30*time.Second).WaitUntilReady(ctx, tg)
		if err == nil || !strings.Contains(err.Error(), "exited (exit code 2)") {
			t.Fatalf("got %v", err)
		}
	})
}
