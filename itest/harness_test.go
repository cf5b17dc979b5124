package itest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/dynomite-go/dynomite/testcontainers/dynomite"
)

// Env is one suite's Docker world: the networks and containers it creates,
// all labelled with the run and the suite, all removed when the test ends.
type Env struct {
	t     *testing.T
	ctx   context.Context
	cli   *testcontainers.DockerClient
	suite string

	mu    sync.Mutex
	ctrs  []*Ctr
	nets  []*Net
	began time.Time
}

// Step logs a step of the suite with the time since it started.
func (e *Env) Step(format string, a ...any) {
	e.t.Helper()
	e.t.Logf("%6.1fs %s", time.Since(e.began).Seconds(), fmt.Sprintf(format, a...))
}

// newEnv skips when no Docker daemon answers and builds missing images.
func newEnv(t *testing.T, suite string) *Env {
	t.Helper()
	cli := requireDocker(t)
	ensureImages(t, cli)
	ctx, cancel := context.WithCancel(context.Background())
	e := &Env{t: t, ctx: ctx, cli: cli, suite: suite, began: time.Now()}
	t.Cleanup(func() {
		cancel()
		e.cleanup()
	})
	return e
}

// cleanup removes the suite's containers (in parallel, without waiting for
// a graceful stop), then its networks.
func (e *Env) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e.mu.Lock()
	ctrs, nets := e.ctrs, e.nets
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range ctrs {
		wg.Go(func() {
			if _, err := e.cli.ContainerRemove(ctx, c.C.GetContainerID(), client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
				e.t.Logf("removing %s: %v", c.Name, err)
			}
		})
	}
	wg.Wait()
	for _, n := range nets {
		if _, err := e.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
			e.t.Logf("removing network %s: %v", n.Name, err)
		}
	}
}

func (e *Env) labels() map[string]string {
	return map[string]string{labelRun: runID, labelSuite: e.suite}
}

// Net is a Docker network of the suite.
type Net struct {
	Name, ID string
	Subnet   netip.Prefix // set when created with a fixed subnet
}

// IP returns the subnet's address number n (for fixed addresses).
func (n *Net) IP(host int) netip.Addr {
	a := n.Subnet.Addr().As4()
	a[3] = byte(host)
	return netip.AddrFrom4(a)
}

// Network creates a bridge network named after the suite and the run. With
// fixed, it gets a /24 of its own (free ones are tried at random) so that
// containers can have fixed addresses, which a DNS record or a fake EC2
// answer can name before the containers exist.
func (e *Env) Network(name string, fixed bool) *Net {
	e.t.Helper()
	full := fmt.Sprintf("itest-%s-%s-%s", e.suite, name, runID)
	opts := client.NetworkCreateOptions{Driver: "bridge", Labels: e.labels()}
	var subnet netip.Prefix
	var err error
	var res client.NetworkCreateResult
	for try := 0; try < 20; try++ {
		if fixed {
			// A /24 of 10.213.0.0/16: Docker's default pools
			// (172.17-31.0.0/16, then 192.168.0.0/16 in /20s) never hand
			// it to the suites' other networks, which take a /16 each, and
			// the compose files use 172.29.53.0/24. (172.30/172.31 were
			// used before: with a dozen networks open at once Docker
			// reaches them.)
			subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte(rand.IntN(256)), 0}), 24)
			opts.IPAM = &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet, IPRange: netip.PrefixFrom(netip.AddrFrom4([4]byte{subnet.Addr().As4()[0], subnet.Addr().As4()[1], subnet.Addr().As4()[2], 128}), 25)}}}
		}
		res, err = e.cli.NetworkCreate(e.ctx, full, opts)
		// another run's fixed subnet: the daemon says "overlap" or
		// "conflicts with network", depending on its version
		if err == nil || !fixed || !(strings.Contains(err.Error(), "overlap") || strings.Contains(err.Error(), "conflicts with network")) {
			break
		}
	}
	if err != nil {
		e.t.Fatalf("network %s: %v", full, err)
	}
	n := &Net{Name: full, ID: res.ID, Subnet: subnet}
	e.mu.Lock()
	e.nets = append(e.nets, n)
	e.mu.Unlock()
	return n
}

// Attach puts a container on a network under aliases, optionally at a
// fixed address.
type Attach struct {
	Net     *Net
	Aliases []string
	IP      netip.Addr
}

// Spec describes one container.
type Spec struct {
	Role       string // short name: dyn-r1, redis-r1 ...
	Image      string
	Entrypoint []string
	Cmd        []string
	Env        map[string]string
	Nets       []Attach // the first one at creation, the others connected before start
	Ports      []string // container ports published on 127.0.0.1 (random host ports)
	Files      []testcontainers.ContainerFile
	Wait       wait.Strategy
	User       string
}

// Ctr is a running container of the suite.
type Ctr struct {
	e    *Env
	Role string
	Name string
	C    testcontainers.Container
	spec Spec
}

// Start creates and starts a container and registers its removal.
func (e *Env) Start(s Spec) *Ctr {
	e.t.Helper()
	c, err := e.start(s)
	if err != nil {
		e.t.Fatalf("%v", err)
	}
	return c
}

func (e *Env) start(s Spec) (*Ctr, error) {
	name := fmt.Sprintf("itest-%s-%s-%s", e.suite, s.Role, runID)
	req := testcontainers.ContainerRequest{
		Image:        s.Image,
		Name:         name,
		Entrypoint:   s.Entrypoint,
		Cmd:          s.Cmd,
		Env:          s.Env,
		Labels:       e.labels(),
		ExposedPorts: s.Ports,
		Files:        s.Files,
		WaitingFor:   s.Wait,
		ConfigModifier: func(c *container.Config) {
			if s.User != "" {
				c.User = s.User
			}
		},
		HostConfigModifier: func(hc *container.HostConfig) {
			// Published on loopback only, random host ports.
			hc.PortBindings = network.PortMap{}
			for _, p := range s.Ports {
				hc.PortBindings[network.MustParsePort(p)] = []network.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "0"}}
			}
		},
		NetworkAliases: map[string][]string{},
	}
	if len(s.Ports) == 0 {
		// testcontainers would publish every port the image exposes, on
		// every interface.
		return nil, fmt.Errorf("%s: no ports: name at least one, it is published on 127.0.0.1", s.Role)
	}
	for _, a := range s.Nets {
		req.Networks = append(req.Networks, a.Net.Name)
		req.NetworkAliases[a.Net.Name] = a.Aliases
	}
	if len(s.Nets) > 0 && s.Nets[0].IP.IsValid() {
		first := s.Nets[0]
		req.EndpointSettingsModifier = func(m map[string]*network.EndpointSettings) {
			if es := m[first.Net.Name]; es != nil {
				es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: first.IP}
			}
		}
	}
	c, err := testcontainers.GenericContainer(e.ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	ctr := &Ctr{e: e, Role: s.Role, Name: name, C: c, spec: s}
	if c != nil {
		e.mu.Lock()
		e.ctrs = append(e.ctrs, ctr)
		e.mu.Unlock()
	}
	if err != nil {
		logs := ""
		if c != nil {
			logs = "\n" + ctr.Logs(30)
		}
		return ctr, fmt.Errorf("starting %s (%s): %v%s", s.Role, s.Image, err, logs)
	}
	return ctr, nil
}

// startAll starts containers in parallel (they do not depend on each other).
func (e *Env) startAll(specs ...Spec) []*Ctr {
	e.t.Helper()
	out := make([]*Ctr, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Go(func() { out[i], errs[i] = e.start(s) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			e.t.Fatalf("%v", err)
		}
	}
	return out
}

// HostAddr is where the container's port is published on 127.0.0.1. It
// changes when the container restarts.
func (c *Ctr) HostAddr(port string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := c.C.MappedPort(ctx, port)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", p.Port()), nil
}

func (c *Ctr) mustHostAddr(port string) string {
	c.e.t.Helper()
	a, err := c.HostAddr(port)
	if err != nil {
		c.e.t.Fatalf("%s: port %s: %v", c.Role, port, err)
	}
	return a
}

// Kill sends SIGKILL: no goodbye to peers or clients.
func (c *Ctr) Kill() {
	c.e.t.Helper()
	if _, err := c.e.cli.ContainerKill(c.e.ctx, c.C.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		c.e.t.Fatalf("kill %s: %v", c.Role, err)
	}
}

// Stop stops gracefully (SIGTERM, then SIGKILL after grace).
func (c *Ctr) Stop(grace time.Duration) {
	c.e.t.Helper()
	if err := c.C.Stop(c.e.ctx, &grace); err != nil {
		c.e.t.Fatalf("stop %s: %v", c.Role, err)
	}
}

// Restart starts a stopped or killed container and waits with its wait
// strategy (for a node: /health answers 200).
func (c *Ctr) Restart() {
	c.e.t.Helper()
	if err := c.C.Start(c.e.ctx); err != nil {
		c.e.t.Fatalf("restart %s: %v\n%s", c.Role, err, c.Logs(30))
	}
}

// Running tells whether the container runs (not exited, not restarting).
func (c *Ctr) Running() (bool, string) {
	st, err := c.C.State(c.e.ctx)
	if err != nil {
		return false, err.Error()
	}
	return st.Running && !st.Restarting, fmt.Sprintf("%s (exit %d, OOM %v)", st.Status, st.ExitCode, st.OOMKilled)
}

// Logs returns the last n lines of the container's output.
func (c *Ctr) Logs(n int) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := c.C.Logs(ctx)
	if err != nil {
		return fmt.Sprintf("(logs of %s: %v)", c.Role, err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return fmt.Sprintf("--- %s (last %d lines) ---\n%s", c.Role, n, tail(string(b), n))
}

// IP is the container's address on a network.
func (c *Ctr) IP(n *Net) string {
	c.e.t.Helper()
	in, err := c.C.Inspect(c.e.ctx)
	if err != nil {
		c.e.t.Fatalf("inspect %s: %v", c.Role, err)
	}
	if es, ok := in.NetworkSettings.Networks[n.Name]; ok && es.IPAddress.IsValid() {
		return es.IPAddress.String()
	}
	c.e.t.Fatalf("%s has no address on %s", c.Role, n.Name)
	return ""
}

// Disconnect takes the container off a network (the link is cut: packets
// stop, established connections are not reset).
func (c *Ctr) Disconnect(n *Net) {
	c.e.t.Helper()
	if _, err := c.e.cli.NetworkDisconnect(c.e.ctx, n.ID, client.NetworkDisconnectOptions{Container: c.C.GetContainerID(), Force: true}); err != nil {
		c.e.t.Fatalf("disconnect %s from %s: %v", c.Role, n.Name, err)
	}
}

// Connect puts the container back on a network under aliases.
func (c *Ctr) Connect(n *Net, aliases ...string) {
	c.e.t.Helper()
	if _, err := c.e.cli.NetworkConnect(c.e.ctx, n.ID, client.NetworkConnectOptions{Container: c.C.GetContainerID(),
		EndpointConfig: &network.EndpointSettings{Aliases: aliases}}); err != nil {
		c.e.t.Fatalf("connect %s to %s: %v", c.Role, n.Name, err)
	}
}

// Copy writes a file into the container (running or not).
func (c *Ctr) Copy(path string, content []byte, mode int64) {
	c.e.t.Helper()
	if err := c.C.CopyToContainer(c.e.ctx, content, path, mode); err != nil {
		c.e.t.Fatalf("copy %s into %s: %v", path, c.Role, err)
	}
}

// ---- datastores ------------------------------------------------------

// Redis starts a redis-server container (no persistence: a cache behind
// dynomite) known on the network as role.
func redisSpec(role string, nets ...Attach) Spec {
	return Spec{
		Role:  role,
		Image: image("redis"),
		Cmd:   dynomite.RedisCommand(""),
		Nets:  nets,
		Ports: []string{"6379/tcp"},
		// Not ForLog: after a restart the old line is still in the log.
		Wait: wait.ForListeningPort("6379/tcp").WithStartupTimeout(30 * time.Second),
	}
}

// ---- dynomite nodes --------------------------------------------------

// NodeConf is one node's configuration, written in upstream's YAML format.
type NodeConf struct {
	DC, Rack  string
	Token     string
	Server    string // host:port:weight of its datastore
	DataStore int    // 0 redis, 1 memcached
	Seeds     []string
	Read      string // read_consistency (default DC_ONE)
	Write     string
	Extra     [][2]string // more keys, in order, values as written
}

// Timeouts shorter than the defaults keep the suites short: a datastore or
// peer that stops answering is given up after 2 s (+200 ms for a peer in
// the same datacenter, +5 s across), a failed datastore is retried after
// 1 s instead of 10 s.
const (
	confTimeout      = "2000"
	confRetryTimeout = "1000"
)

// YAML renders the configuration with the testcontainers module's
// NodeConfig (listeners on 8102, 8101 and 22222), the suites' timeouts
// first among the extra keys.
func (n NodeConf) YAML() string {
	return dynomite.NodeConfig{
		Datacenter: n.DC, Rack: n.Rack, Token: n.Token, Server: n.Server,
		Datastore:       dynomite.Datastore(n.DataStore),
		Seeds:           n.Seeds,
		ReadConsistency: dynomite.Consistency(n.Read), WriteConsistency: dynomite.Consistency(n.Write),
		Extra: append([][2]string{{"timeout", confTimeout}, {"server_retry_timeout", confRetryTimeout}}, n.Extra...),
	}.YAML()
}

// Node is a dynomite container: clients on 8102, peers on 8101, stats on
// 22222, all published on 127.0.0.1.
type Node struct {
	*Ctr
	DC, Rack string
	Conf     NodeConf

	mu   sync.Mutex
	addr string // client address on the host, refreshed after restarts
}

const confPath = dynomite.ConfigPath

// ITEST_DYNOMITE_BIN replaces the image's binary with a locally built one
// (static: CGO_ENABLED=0), to try a change without rebuilding the image.
var dynomiteBin = os.Getenv("ITEST_DYNOMITE_BIN")

// binOverride is the file that puts ITEST_DYNOMITE_BIN in place of the
// image's binary, if set.
func binOverride() []testcontainers.ContainerFile {
	if dynomiteBin == "" {
		return nil
	}
	return []testcontainers.ContainerFile{{HostFilePath: dynomiteBin, ContainerFilePath: "/usr/bin/dynomite", FileMode: 0o755}}
}

func nodeSpec(role string, conf NodeConf, env map[string]string, nets ...Attach) Spec {
	files := append([]testcontainers.ContainerFile{{Reader: strings.NewReader(conf.YAML()), ContainerFilePath: confPath, FileMode: 0o644}},
		binOverride()...)
	return Spec{
		Role:  role,
		Image: image("dynomite"),
		Cmd:   []string{"-c", confPath},
		Env:   env,
		Nets:  nets,
		Ports: []string{"8102/tcp", "22222/tcp"},
		Files: files,
		// The image is FROM scratch: no shell for ForListeningPort. /ready
		// (or, on builds without it, /health) answers 200 once the node
		// serves.
		Wait: dynomite.ReadyStrategy(30 * time.Second),
	}
}

func asNode(c *Ctr, conf NodeConf) *Node {
	n := &Node{Ctr: c, DC: conf.DC, Rack: conf.Rack, Conf: conf}
	n.refresh()
	return n
}

// RunCluster starts a cluster with the testcontainers module
// (testcontainers/dynomite): its network, a datastore and a node per rack,
// with the suite's images, labels (the sweep finds them), container names,
// timeouts and ITEST_DYNOMITE_BIN. It returns once every node is ready and
// connected to every other. Roles: dyn-r<N> and redis-r<N> (memcached-r<N>)
// in one datacenter, dyn-dc<D>-r<N> ... in several. The containers and the
// network are the Env's: removed when the test ends, and reachable through
// Node.Ctr and Cluster.Stores for faults (Kill, Stop, Disconnect).
func (e *Env) RunCluster(opts ...dynomite.Option) *Cluster {
	e.t.Helper()
	opts = append([]dynomite.Option{
		dynomite.WithImage(image("dynomite")), dynomite.WithRedisImage(image("redis")), dynomite.WithMemcachedImage(image("memcached")),
		dynomite.WithLabels(e.labels()), dynomite.WithHostIP("127.0.0.1"),
		dynomite.WithNodeConfig("timeout", confTimeout), dynomite.WithNodeConfig("server_retry_timeout", confRetryTimeout),
		dynomite.WithCustomizer(func(m dynomite.Member, req *testcontainers.GenericContainerRequest) error {
			req.Name = fmt.Sprintf("itest-%s-%s-%s", e.suite, m.Alias, runID)
			if m.Node {
				req.Files = append(req.Files, binOverride()...)
			}
			return nil
		}),
	}, opts...)
	start := time.Now()
	cl, err := dynomite.Run(e.ctx, opts...)
	if err != nil {
		e.t.Fatalf("cluster: %v", err)
	}
	oneDC := cl.Nodes[len(cl.Nodes)-1].Datacenter == cl.Nodes[0].Datacenter
	ctr := func(alias, dc, rack string, c *testcontainers.DockerContainer) *Ctr {
		kind, _, _ := strings.Cut(alias, "-") // dyn, redis, memcached
		role := kind + "-" + dc + "-r" + strings.TrimPrefix(rack, "rack")
		if oneDC {
			role = kind + "-r" + strings.TrimPrefix(rack, "rack")
		}
		return &Ctr{e: e, Role: role, Name: fmt.Sprintf("itest-%s-%s-%s", e.suite, alias, runID), C: c}
	}
	c := &Cluster{e: e, Net: &Net{Name: cl.Network.Name, ID: cl.Network.ID}}
	for _, n := range cl.Nodes {
		conf := NodeConf{DC: n.Datacenter, Rack: n.Rack, Token: n.Config.Token, Server: n.Config.Server,
			DataStore: int(n.Config.Datastore), Seeds: n.Config.Seeds,
			Read: string(n.Config.ReadConsistency), Write: string(n.Config.WriteConsistency)}
		c.Nodes = append(c.Nodes, asNode(ctr(n.Alias, n.Datacenter, n.Rack, n.Container), conf))
		c.Stores = append(c.Stores, ctr(n.Datastore.Alias, n.Datacenter, n.Rack, n.Datastore.Container))
	}
	e.mu.Lock()
	e.ctrs = append(e.ctrs, c.all()...)
	e.nets = append(e.nets, c.Net)
	e.mu.Unlock()
	e.Step("cluster of %d nodes up (testcontainers/dynomite) in %s", len(c.Nodes), time.Since(start).Round(100*time.Millisecond))
	return c
}

func (n *Node) refresh() {
	a := n.mustHostAddr("8102/tcp")
	n.mu.Lock()
	n.addr = a
	n.mu.Unlock()
}

// Addr is the node's client address on the host.
func (n *Node) Addr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addr
}

// Restart starts the node again and waits for /health.
func (n *Node) Restart() {
	n.Ctr.Restart()
	n.refresh()
}

// Health asks /health (200 means the datastore is connected).
func (n *Node) Health() (int, error) {
	a, err := n.HostAddr("22222/tcp")
	if err != nil {
		return 0, err
	}
	c := http.Client{Timeout: 3 * time.Second}
	r, err := c.Get("http://" + a + "/health")
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, r.Body)
	r.Body.Close()
	return r.StatusCode, nil
}

// Describe returns the node's view of the cluster (/cluster_describe) as
// "dc/rack" -> addresses, sorted.
func (n *Node) Describe() (map[string][]string, error) {
	a, err := n.HostAddr("22222/tcp")
	if err != nil {
		return nil, err
	}
	c := http.Client{Timeout: 3 * time.Second}
	r, err := c.Get("http://" + a + "/cluster_describe")
	if err != nil {
		return nil, err
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	var d struct {
		DCs []struct {
			Name  string `json:"name"`
			Racks []struct {
				Name    string `json:"name"`
				Servers []struct {
					Host string `json:"host"`
					Port any    `json:"port"`
				} `json:"servers"`
			} `json:"racks"`
		} `json:"dcs"`
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&d); err != nil {
		return nil, fmt.Errorf("cluster_describe: %v: %q", err, body)
	}
	out := map[string][]string{}
	for _, dc := range d.DCs {
		for _, rk := range dc.Racks {
			k := dc.Name + "/" + rk.Name
			for _, s := range rk.Servers {
				out[k] = append(out[k], fmt.Sprintf("%s:%v", s.Host, s.Port))
			}
			sort.Strings(out[k])
		}
	}
	return out, nil
}

// logsOf joins the last lines of several containers, for failure messages.
func logsOf(n int, cs ...*Ctr) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.Logs(n))
		b.WriteString("\n")
	}
	return b.String()
}

// eventually polls f until it returns nil or the deadline passes.
func eventually(d time.Duration, every time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(every)
	}
}
