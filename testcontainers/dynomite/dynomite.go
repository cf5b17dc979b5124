package dynomite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	mnetwork "github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Cluster is a running cluster: its network and its nodes, in order dc1
// rack1, dc1 rack2, ..., dc2 rack1, ...
type Cluster struct {
	Network *testcontainers.DockerNetwork
	Nodes   []*Node
}

// Node is one rack's dynomite node and its datastore.
type Node struct {
	Datacenter, Rack string
	Alias            string // its name on the network (dyn-dc1-rack1)
	Config           NodeConfig
	Container        *testcontainers.DockerContainer
	Datastore        *DatastoreContainer
}

// DatastoreContainer is a node's Redis or Memcached.
type DatastoreContainer struct {
	Alias     string // its name on the network (redis-dc1-rack1)
	Port      string // its port in the container, 6379/tcp or 11211/tcp
	Container *testcontainers.DockerContainer
}

// Endpoint is where clients reach the node from the host: host:port.
// It changes when the container restarts.
func (n *Node) Endpoint(ctx context.Context) (string, error) {
	return n.Container.PortEndpoint(ctx, ClientPort, "")
}

// StatsEndpoint is the node's stats listener (/ready, /health, /metrics,
// /cluster_describe ...) from the host: host:port.
func (n *Node) StatsEndpoint(ctx context.Context) (string, error) {
	return n.Container.PortEndpoint(ctx, StatsPort, "")
}

// Endpoint is where the datastore itself is reached from the host,
// bypassing the node: host:port.
func (d *DatastoreContainer) Endpoint(ctx context.Context) (string, error) {
	return d.Container.PortEndpoint(ctx, d.Port, "")
}

// Endpoints returns every node's client address (host:port), in node order.
func (c *Cluster) Endpoints(ctx context.Context) ([]string, error) {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		a, err := n.Endpoint(ctx)
		if err != nil {
			return nil, fmt.Errorf("dynomite: endpoint of %s: %w", n.Alias, err)
		}
		out[i] = a
	}
	return out, nil
}

// Terminate removes every container, then the network. It may be called
// on a partly started cluster.
func (c *Cluster) Terminate(ctx context.Context) error {
	if c == nil {
		return nil
	}
	var ctrs []*testcontainers.DockerContainer
	for _, n := range c.Nodes {
		if n.Container != nil {
			ctrs = append(ctrs, n.Container)
		}
		if n.Datastore != nil && n.Datastore.Container != nil {
			ctrs = append(ctrs, n.Datastore.Container)
		}
	}
	errs := make([]error, len(ctrs))
	var wg sync.WaitGroup
	for i, ctr := range ctrs {
		wg.Go(func() { errs[i] = ctr.Terminate(ctx) })
	}
	wg.Wait()
	if c.Network != nil {
		errs = append(errs, c.Network.Remove(ctx))
	}
	return errors.Join(errs...)
}

// Run starts a cluster: a network, every datastore, then every node, and
// returns once the nodes are ready and connected to each other. On an
// error, what was started is removed.
func Run(ctx context.Context, opts ...Option) (*Cluster, error) {
	o := defaults()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	c, err := o.run(ctx)
	if err != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return nil, errors.Join(err, c.Terminate(ctx))
	}
	return c, nil
}

func (o *options) run(ctx context.Context) (*Cluster, error) {
	hostIP, err := o.publishIP(ctx)
	if err != nil {
		return nil, err
	}
	netLabels := testcontainers.GenericLabels()
	for k, v := range o.labels {
		netLabels[k] = v
	}
	nw, err := network.New(ctx, network.WithLabels(netLabels))
	if err != nil {
		return nil, fmt.Errorf("dynomite: network: %w", err)
	}
	c := &Cluster{Network: nw}
	plans := o.plan()
	for _, p := range plans {
		c.Nodes = append(c.Nodes, &Node{Datacenter: p.Datacenter, Rack: p.Rack, Alias: p.Alias, Config: p.conf,
			Datastore: &DatastoreContainer{Alias: p.store.Alias, Port: o.datastore.port() + "/tcp"}})
	}
	// Datastores first (the nodes connect to them at start), all at once.
	err = parallel(len(plans), func(i int) error {
		ctr, err := o.start(ctx, plans[i].store, o.storeRequest(plans[i].store, nw, hostIP))
		c.Nodes[i].Datastore.Container = ctr
		return err
	})
	if err != nil {
		return c, err
	}
	err = parallel(len(plans), func(i int) error {
		ctr, err := o.start(ctx, plans[i].Member, o.nodeRequest(plans[i], nw, hostIP))
		c.Nodes[i].Container = ctr
		return err
	})
	if err != nil {
		return c, err
	}
	return c, c.waitConnected(ctx, o.replicateTimeout)
}

func parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// publishIP is the host address ports are bound to: WithHostIP's, else
// 127.0.0.1 for a daemon on this machine (nothing else needs to reach the
// cluster), else "" (every interface, Docker's default) for a remote one.
func (o *options) publishIP(ctx context.Context) (string, error) {
	if o.hostIP != "" {
		return o.hostIP, nil
	}
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return "", fmt.Errorf("dynomite: docker: %w", err)
	}
	defer p.Close()
	host, err := p.DaemonHost(ctx)
	if err != nil {
		return "", fmt.Errorf("dynomite: docker host: %w", err)
	}
	if host == "localhost" {
		return "127.0.0.1", nil
	}
	if a, err := netip.ParseAddr(host); err == nil && a.IsLoopback() {
		return a.String(), nil
	}
	return "", nil
}

// base is what every container of the cluster has: its network alias, its
// labels, its published ports on hostIP.
func (o *options) base(m Member, nw *testcontainers.DockerNetwork, hostIP, image string, ports ...string) testcontainers.GenericContainerRequest {
	labels := map[string]string{}
	for k, v := range o.labels {
		labels[k] = v
	}
	return testcontainers.GenericContainerRequest{Started: true, ContainerRequest: testcontainers.ContainerRequest{
		Image:          image,
		Labels:         labels,
		ExposedPorts:   ports,
		Networks:       []string{nw.Name},
		NetworkAliases: map[string][]string{nw.Name: {m.Alias}},
		HostConfigModifier: func(hc *container.HostConfig) {
			if hostIP == "" {
				return
			}
			hc.PortBindings = mnetwork.PortMap{}
			for _, p := range ports {
				hc.PortBindings[mnetwork.MustParsePort(p)] = []mnetwork.PortBinding{{HostIP: netip.MustParseAddr(hostIP), HostPort: "0"}}
			}
		},
	}}
}

// storeRequest: the datastore, as a cache (no persistence), reachable from
// the network. Not a log line as the wait: after a restart the old line is
// still in the log.
func (o *options) storeRequest(m Member, nw *testcontainers.DockerNetwork, hostIP string) testcontainers.GenericContainerRequest {
	port := o.datastore.port() + "/tcp"
	image, cmd := o.redisImage, RedisCommand(o.password)
	if o.datastore == Memcached {
		image, cmd = o.memcachedImage, MemcachedCommand()
	}
	req := o.base(m, nw, hostIP, image, port)
	req.Cmd = cmd
	req.WaitingFor = wait.ForListeningPort(port).WithStartupTimeout(o.startupTimeout)
	return req
}

// RedisCommand is the datastore command of a Redis container: no
// persistence, reachable from other containers, with requirepass when
// password is set.
func RedisCommand(password string) []string {
	cmd := []string{"redis-server", "--port", "6379", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"}
	if password != "" {
		cmd = append(cmd, "--requirepass", password)
	}
	return cmd
}

// MemcachedCommand is the datastore command of a Memcached container.
func MemcachedCommand() []string {
	return []string{"memcached", "-p", "11211", "-U", "0", "-m", "64"}
}

func (o *options) nodeRequest(p plan, nw *testcontainers.DockerNetwork, hostIP string) testcontainers.GenericContainerRequest {
	req := o.base(p.Member, nw, hostIP, o.image, ClientPort, StatsPort)
	req.Cmd = []string{"-c", ConfigPath}
	req.Files = []testcontainers.ContainerFile{{Reader: strings.NewReader(p.conf.YAML()), ContainerFilePath: ConfigPath, FileMode: 0o644}}
	req.WaitingFor = ReadyStrategy(o.startupTimeout)
	return req
}

// start applies the customizers and starts the container. The container
// is returned even when it failed to become ready, so that it is removed.
func (o *options) start(ctx context.Context, m Member, req testcontainers.GenericContainerRequest) (*testcontainers.DockerContainer, error) {
	for _, cz := range o.customizers {
		if err := cz(m, &req); err != nil {
			return nil, fmt.Errorf("dynomite: customizing %s: %w", m.Alias, err)
		}
	}
	ctr, err := testcontainers.GenericContainer(ctx, req)
	var dc *testcontainers.DockerContainer
	if ctr != nil {
		dc, _ = ctr.(*testcontainers.DockerContainer)
	}
	if err != nil {
		return dc, fmt.Errorf("dynomite: starting %s (%s): %w%s", m.Alias, req.Image, err, logTail(ctx, dc, 20))
	}
	return dc, nil
}

// waitConnected waits until every node reports every other node connected
// (dynomite_peer_up), so that a write is replicated as soon as Run returns.
func (c *Cluster) waitConnected(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	want := len(c.Nodes) - 1
	if want == 0 {
		return nil
	}
	client := http.Client{Timeout: 2 * time.Second}
	return parallel(len(c.Nodes), func(i int) error {
		n := c.Nodes[i]
		last := "no answer yet"
		for {
			addr, err := n.StatsEndpoint(ctx)
			if err == nil {
				var up int
				up, err = peersUp(ctx, &client, addr)
				if err == nil && up >= want {
					return nil
				}
				if err == nil {
					err = fmt.Errorf("%d of %d peers connected", up, want)
				}
			}
			last = err.Error()
			select {
			case <-ctx.Done():
				return fmt.Errorf("dynomite: %s: peers not connected within %s: %s%s", n.Alias, timeout, last,
					logTail(context.WithoutCancel(ctx), n.Container, 20))
			case <-time.After(200 * time.Millisecond):
			}
		}
	})
}

// logTail is the last lines of a container's output, for error messages.
func logTail(ctx context.Context, c *testcontainers.DockerContainer, lines int) string {
	if c == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	rc, err := c.Logs(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	out, _ := io.ReadAll(rc)
	all := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return "\n--- last lines of its output ---\n" + strings.Join(all, "\n")
}
