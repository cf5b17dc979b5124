package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/cmd/dynomite/cli"
	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/node"
	"github.com/dynomite-go/dynomite/proxy/node/nodetest"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// run runs `dynomite args...` in process.
func run(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code, handled := cli.Run(args, &o, &e)
	if !handled {
		return "", "not a subcommand", -1
	}
	return o.String(), e.String(), code
}

// cluster is three racks of two nodes each (dc1), each node in front of a
// redis-server of its own, with tokens from cli.Balanced(2).
type cluster struct {
	t     *testing.T
	addrs []nodetest.GossipNode
	nodes []ringNode
	stop  []func()
}

type ringNode struct {
	rack  string
	token uint32
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{t: t, addrs: nodetest.GossipNodes(t, 6), stop: make([]func(), 6)}
	tokens := cli.Balanced(2)
	for i := range 6 {
		c.nodes = append(c.nodes, ringNode{rack: fmt.Sprintf("rack%d", i/2+1), token: tokens[i%2]})
	}
	return c
}

func (c *cluster) conf(i int) string {
	var seeds []string
	for j, n := range c.nodes {
		if j != i {
			seeds = append(seeds, fmt.Sprintf("  - %s:%s:dc1:%d", c.addrs[j].Dyn, n.rack, n.token))
		}
	}
	a := c.addrs[i]
	return fmt.Sprintf("dyn_o_mite:\n  datacenter: dc1\n  rack: %s\n  listen: %s\n  dyn_listen: %s\n  stats_listen: %s\n"+
		// server_failure_limit: a peer not started stays "waiting" (it
		// would count as down after that many refused connections)
		"  tokens: '%d'\n  hash_tag: '{}'\n  servers:\n  - %s:1\n  server_failure_limit: 1000000\n  dyn_seeds:\n%s\n",
		c.nodes[i].rack, a.Listen, a.Dyn, a.Stats, c.nodes[i].token, a.Redis, strings.Join(seeds, "\n"))
}

// start runs node i until stop(i) or the test's end.
func (c *cluster) start(i int) { c.stop[i] = runNode(c.t, c.conf(i)) }

// runNode runs the node yml describes, as the dynomite command does, until
// stop or the test's end.
func runNode(t *testing.T, yml string) (stop func()) {
	cfg, err := config.Parse([]byte(yml), "node.yml")
	require.NoError(t, err)
	n, err := node.New(context.Background(), cfg)
	require.NoError(t, err)
	require.NoError(t, n.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	return stop
}

// ready waits until node i answers `dynomite ready`.
func (c *cluster) ready(i int) {
	var out, errOut string
	code := -1
	proxytest.Eventually(c.t, 20*time.Second, func() bool {
		out, errOut, code = run("ready", "--addr", c.addrs[i].Stats)
		return code == 0
	}, "node %d never ready: %s%s", i+1, out, errOut)
}

func TestCommandsAgainstAThreeRackCluster(t *testing.T) {
	c := newCluster(t)
	for i := range 5 { // the sixth (rack3, second token) later
		c.start(i)
	}
	stats := c.addrs[0].Stats

	t.Run("ready names the peer it waits for, then marking it down completes the ring", func(t *testing.T) {
		missing := c.addrs[5].Dyn
		var out, errOut string
		var code int
		proxytest.Eventually(t, 20*time.Second, func() bool {
			out, errOut, code = run("ready", "--addr", stats)
			// every other peer connected: only the one not started is named
			return code == 1 && errOut == "dynomite: not ready (503): waiting for peers: dc1/rack3 "+missing+"\n"
		}, "want only %s missing; got %d %q %q", missing, code, out, errOut)

		res, err := http.Get("http://" + stats + "/peer/down/" + missing)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, 200, res.StatusCode)
		out, errOut, code = run("ready", "--addr", stats)
		require.Equal(t, 0, code, "a peer marked down is known: %s%s", out, errOut)
		require.Equal(t, "ready\n", out)
		res, err = http.Get("http://" + stats + "/peer/up/" + missing)
		require.NoError(t, err)
		res.Body.Close()
		out, _, code = run("ready", "--addr", stats)
		require.Equal(t, 1, code, out)
	})

	c.start(5)
	for i := range 6 {
		c.ready(i)
	}

	t.Run("ring lists every node with its rack, token and state", func(t *testing.T) {
		out, errOut, code := run("ring", "--addr", stats)
		require.Equal(t, 0, code, errOut)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 7, out)
		require.Regexp(t, `^DATACENTER\s+RACK\s+NODE\s+ADDRESS\s+TOKENS\s+STATE$`, lines[0])
		for i, n := range c.nodes {
			name := c.addrs[i].Dyn // a node is named by its dyn_listen address, the local one too
			row := fmt.Sprintf(`(?m)^dc1\s+%s\s+%s\s+%s\s+%d\s+up%s$`, n.rack, regexp.QuoteMeta(name),
				regexp.QuoteMeta(c.addrs[i].Dyn), n.token, map[bool]string{true: ` \(this node\)`}[i == 0])
			require.Regexp(t, row, out, "node %d", i+1)
		}
		t.Logf("dynomite ring:\n%s", out)

		// a node's part in a move shows beside its state
		plan := fmt.Sprintf(`{"id":"t","join":[%q],"phase":"dual"}`, c.addrs[5].Dyn)
		res, err := http.Post("http://"+stats+"/scale/plan", "application/json", strings.NewReader(plan))
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		out, _, code = run("ring", "--addr", stats)
		require.Equal(t, 0, code)
		require.Regexp(t, `(?m)^dc1\s+\S+\s+`+regexp.QuoteMeta(c.addrs[5].Dyn)+`\s+\S+\s+\d+\s+up, joining$`, out)
		res, err = http.Post("http://"+stats+"/scale/plan", "application/json", strings.NewReader("null"))
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)

		out, _, code = run("ring", "--addr", stats, "-o", "json")
		require.Equal(t, 0, code)
		var r admin.RingJSON
		require.NoError(t, json.Unmarshal([]byte(out), &r))
		require.Equal(t, c.addrs[0].Dyn, r.Local)
		require.Equal(t, "{}", r.HashTag)
		require.Len(t, r.Datacenters, 1)
		require.Len(t, r.Datacenters[0].Racks, 3)
		for _, rk := range r.Datacenters[0].Racks {
			require.Len(t, rk.Nodes, 2, rk.Name)
			require.Equal(t, []uint32{0}, rk.Nodes[0].Tokens, "nodes by lowest token")
			require.Equal(t, []uint32{1 << 31}, rk.Nodes[1].Tokens)
		}
	})

	t.Run("owner matches the ring's own computation, hash tags honoured", func(t *testing.T) {
		var nodes []ring.Node
		for i, n := range c.nodes {
			nodes = append(nodes, ring.Node{Name: c.addrs[i].Dyn, Addr: c.addrs[i].Dyn, DC: "dc1", Rack: n.rack, Tokens: []ring.Token{ring.Token(n.token)}})
		}
		topo, err := ring.NewTopology(c.addrs[0].Dyn, nodes, ring.Options{HashTag: "{}"})
		require.NoError(t, err)
		byOwner := map[string]bool{}
		for k := range 20 {
			key := fmt.Sprintf("{user%d}.profile", k)
			out, errOut, code := run("owner", key, "--addr", stats, "-o", "json")
			require.Equal(t, 0, code, errOut)
			var o admin.OwnerJSON
			require.NoError(t, json.Unmarshal([]byte(out), &o))
			tok, ok := topo.KeyToken([]byte(fmt.Sprintf("user%d", k)))
			require.True(t, ok)
			require.Equal(t, uint32(tok), o.Token, key)
			require.Len(t, o.Owners, 3)
			for r, p := range o.Owners {
				want := topo.Lookup([]byte(key), 0, r)
				require.Equal(t, "rack"+fmt.Sprint(r+1), p.Rack)
				require.Equal(t, want.Addr, p.Addr, "%s in %s", key, p.Rack)
				byOwner[p.Addr] = true
			}
		}
		require.Len(t, byOwner, 6, "20 keys land on both nodes of every rack")

		out, errOut, code := run("owner", "{user1}.profile", "--addr", stats)
		require.Equal(t, 0, code, errOut)
		tok, _ := topo.KeyToken([]byte("user1"))
		require.Contains(t, out, fmt.Sprintf("key \"{user1}.profile\": token %d (hash murmur, hash_tag {})\n", tok))
		require.Regexp(t, `(?m)^DATACENTER\s+RACK\s+NODE\s+ADDRESS$`, out)
		for r := range 3 {
			want := topo.Lookup([]byte("user1"), 0, r)
			require.Regexp(t, fmt.Sprintf(`(?m)^dc1\s+rack%d\s+.*%s$`, r+1, regexp.QuoteMeta(want.Addr)), out)
		}
		t.Logf("dynomite owner {user1}.profile:\n%s", out)
	})

	t.Run("status lists the peers up, and no made-up hints or repair", func(t *testing.T) {
		// a write through node 1 reaches every rack (DC_ONE: the other
		// racks are written after the reply, so wait for their replies)
		require.Equal(t, "+OK\r\n", proxytest.Dial(t, c.addrs[0].Listen).Do("SET", "status-key", "v"))
		var s admin.StatusJSON
		var out string
		proxytest.Eventually(t, 20*time.Second, func() bool {
			var errOut string
			var code int
			out, errOut, code = run("status", "--addr", stats, "-o", "json")
			require.Equal(t, 0, code, errOut)
			s = admin.StatusJSON{}
			require.NoError(t, json.Unmarshal([]byte(out), &s))
			asked, replied := 0, 0
			for _, p := range s.Peers {
				if p.Requests > 0 {
					asked++
				}
				if p.LatencyMS != nil {
					replied++
				}
			}
			// rack2's and rack3's owners, and rack1's when it is not this node
			return asked >= 2 && replied == asked
		}, "the owners of the key in the other racks never show a latency")
		require.True(t, s.Ready, s.Missing)
		require.Equal(t, "rack1", s.Node.Rack)
		require.Equal(t, "connected", s.Node.Datastore)
		require.Equal(t, "NORMAL", s.Node.State)
		require.Len(t, s.Peers, 5)
		for _, p := range s.Peers {
			require.Equal(t, "up", p.State, p.Name)
			require.Equal(t, p.Requests > 0, p.LatencyMS != nil, "%s: a latency exactly when it was asked something", p.Name)
		}
		require.Nil(t, s.Hints)
		require.Nil(t, s.Repair)

		out, errOut, code := run("status", "--addr", stats)
		require.Equal(t, 0, code, errOut)
		require.Contains(t, out, "ready\n")
		require.Regexp(t, `(?m)^PEER\s+DATACENTER\s+RACK\s+STATE\s+LATENCY\s+REQUESTS\s+ERRORS\s+TIMEOUTS\s+CONNECT ERRORS$`, out)
		require.Contains(t, out, "hints: not reported by this node\nrepair: not reported by this node\n")
		t.Logf("dynomite status:\n%s", out)
	})

	t.Run("a stopped node cannot be reached: exit 2 and why", func(t *testing.T) {
		gone := c.addrs[5].Stats
		c.stop[5]()
		for _, cmd := range [][]string{{"ring"}, {"owner", "k"}, {"status"}, {"reload"}} {
			_, errOut, code := run(append(cmd, "--addr", gone)...)
			require.Equal(t, 2, code, cmd)
			require.Equal(t, "dynomite: cannot reach the stats listener at "+gone+": connection refused\n", errOut, cmd)
		}
		out, errOut, code := run("ready", "--addr", gone)
		require.Equal(t, 1, code, "a healthcheck's failure is 1: Docker reserves 2")
		require.Empty(t, out)
		require.Contains(t, errOut, "connection refused")
		proxytest.Eventually(t, 20*time.Second, func() bool {
			out, _, _ := run("ring", "--addr", stats)
			return regexp.MustCompile(`(?m)^dc1\s+rack3\s+.*\s+down$`).MatchString(out)
		}, "the ring never shows the stopped node down")
		out, errOut, code = run("ready", "--addr", stats)
		require.Equal(t, 0, code, "a peer known once and gone since leaves the ring complete: %s%s", out, errOut)
	})
}

func TestReadyWithoutTheDatastoreNorItsPeer(t *testing.T) {
	a := nodetest.GossipNodes(t, 1)[0]
	dead, peer := proxytest.FreeAddr(t), proxytest.FreeAddr(t)
	runNode(t, fmt.Sprintf("dyn_o_mite:\n  datacenter: dc1\n  rack: rack1\n  listen: %s\n  dyn_listen: %s\n  stats_listen: %s\n"+
		"  tokens: '0'\n  servers:\n  - %s:1\n  server_failure_limit: 1000000\n  dyn_seeds:\n  - %s:rack2:dc1:0\n", a.Listen, a.Dyn, a.Stats, dead, peer))

	_, errOut, code := run("ready", "--addr", a.Stats)
	require.Equal(t, 1, code)
	require.Equal(t, "dynomite: not ready (503): datastore not connected; waiting for peers: dc1/rack2 "+peer+"\n", errOut)
	_, errOut, code = run("health", "--addr", a.Stats)
	require.Equal(t, 1, code, "health says the same about the datastore")
	require.Equal(t, "dynomite: unhealthy (503): datastore not connected\n", errOut)
}

func TestTokensAreBalanced(t *testing.T) {
	require.Equal(t, []uint32{0}, cli.Balanced(1))
	require.Equal(t, []uint32{0, 1431655765, 2863311530}, cli.Balanced(3))
	for _, n := range []int{2, 3, 7, 100} {
		ts := cli.Balanced(n)
		// node i owns (t[i-1], t[i]]; node 0 wraps around the top
		for i := 1; i < n; i++ {
			span := uint64(ts[i] - ts[i-1])
			require.InDelta(t, float64(uint64(1)<<32)/float64(n), float64(span), 1, "n=%d i=%d", n, i)
		}
	}
	out, errOut, code := run("tokens", "3", "--racks", "2")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "# 3 node(s) per rack over 0..4294967295; every rack takes the same tokens\n"+
		"# rack1\nrack1-node1:\n  tokens: '0'\nrack1-node2:\n  tokens: '1431655765'\nrack1-node3:\n  tokens: '2863311530'\n"+
		"# rack2\nrack2-node1:\n  tokens: '0'\nrack2-node2:\n  tokens: '1431655765'\nrack2-node3:\n  tokens: '2863311530'\n", out)
	out, _, code = run("tokens", "2", "-o", "json")
	require.Equal(t, 0, code)
	require.JSONEq(t, `[{"rack":"rack1","node":1,"tokens":"0"},{"rack":"rack1","node":2,"tokens":"2147483648"}]`, out)
	for _, bad := range [][]string{{"tokens"}, {"tokens", "0"}, {"tokens", "x"}, {"tokens", "2", "--racks", "0"}, {"tokens", "2", "-o", "yaml"}} {
		_, errOut, code := run(bad...)
		require.Equal(t, 2, code, bad)
		require.NotEmpty(t, errOut, bad)
	}
}

// fakeReload answers POST /reload as the contract says.
func fakeReload(t *testing.T, code int, body string) (addr string, token *string) {
	var got string
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/reload" {
			http.Error(w, "want POST /reload, got "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		got = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://"), &got
}

func TestReload(t *testing.T) {
	t.Run("success prints the hash and what changed", func(t *testing.T) {
		addr, auth := fakeReload(t, 200, `{"ok":true,"hash":"ab12","changed":["timeout","read_consistency"]}`)
		out, errOut, code := run("reload", "--addr", addr, "--token", "s3cret")
		require.Equal(t, 0, code, errOut)
		require.Equal(t, "reloaded: configuration ab12; changed: timeout, read_consistency\n", out)
		require.Equal(t, "Bearer s3cret", *auth)
	})
	t.Run("the token comes from the environment too", func(t *testing.T) {
		addr, auth := fakeReload(t, 200, `{"ok":true,"hash":"ab12","changed":[]}`)
		t.Setenv(cli.TokenEnv, "from-env")
		out, _, code := run("reload", "--addr", addr)
		require.Equal(t, 0, code)
		require.Equal(t, "reloaded: configuration ab12; nothing changed\n", out)
		require.Equal(t, "Bearer from-env", *auth)
	})
	for _, status := range []int{409, 400} {
		t.Run(fmt.Sprintf("a refusal (%d) exits 1 with the node's reason", status), func(t *testing.T) {
			addr, _ := fakeReload(t, status, `{"ok":false,"hash":"ab12","error":"dyn_listen cannot change without a restart"}`)
			_, errOut, code := run("reload", "--addr", addr)
			require.Equal(t, 1, code)
			require.Equal(t, fmt.Sprintf("dynomite: reload refused (%d): dyn_listen cannot change without a restart\n", status), errOut)
			out, _, code := run("reload", "--addr", addr, "-o", "json")
			require.Equal(t, 1, code)
			require.JSONEq(t, `{"ok":false,"hash":"ab12","changed":null,"error":"dyn_listen cannot change without a restart"}`, out)
		})
	}
	t.Run("a guarded endpoint without the token says to pass it", func(t *testing.T) {
		addr, _ := fakeReload(t, 401, "admin endpoint: missing or wrong stats_admin_token\n")
		_, errOut, code := run("reload", "--addr", addr)
		require.Equal(t, 1, code)
		require.Contains(t, errOut, "refused (401): admin endpoint: missing or wrong stats_admin_token; pass the node's stats_admin_token with --token or $"+cli.TokenEnv)
	})
}

func TestNotASubcommand(t *testing.T) {
	for _, args := range [][]string{nil, {"-c", "x.yml"}, {"-t"}, {"rings"}} {
		_, handled := cli.Run(args, &bytes.Buffer{}, &bytes.Buffer{})
		require.False(t, handled, "%q is the node's, not the CLI's", args)
	}
}
