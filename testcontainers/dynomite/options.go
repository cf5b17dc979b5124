package dynomite

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// The images `make images` builds in the repository (scripts/images.sh);
// they exist only where that ran, and are never pulled.
const (
	DefaultImage          = "dynomite-local/dynomite:latest"
	DefaultRedisImage     = "dynomite-local/redis:latest"
	DefaultMemcachedImage = "dynomite-local/memcached:latest"
)

// Datastore is what each node fronts.
type Datastore int

const (
	Redis     Datastore = iota // data_store: 0
	Memcached                  // data_store: 1
)

func (d Datastore) String() string {
	switch d {
	case Redis:
		return "redis"
	case Memcached:
		return "memcached"
	}
	return fmt.Sprintf("Datastore(%d)", int(d))
}

// port is the datastore's port inside its container.
func (d Datastore) port() string {
	if d == Memcached {
		return "11211"
	}
	return "6379"
}

// Consistency is a read_consistency or write_consistency level.
type Consistency string

const (
	DCOne            Consistency = "DC_ONE"
	DCQuorum         Consistency = "DC_QUORUM"
	DCSafeQuorum     Consistency = "DC_SAFE_QUORUM"
	DCEachSafeQuorum Consistency = "DC_EACH_SAFE_QUORUM"
)

func (c Consistency) check(key string) error {
	switch Consistency(strings.ToUpper(string(c))) {
	case DCOne, DCQuorum, DCSafeQuorum, DCEachSafeQuorum:
		return nil
	}
	return fmt.Errorf("dynomite: %s %q: want DC_ONE, DC_QUORUM, DC_SAFE_QUORUM or DC_EACH_SAFE_QUORUM", key, string(c))
}

// Member is one container of the cluster, as WithCustomizer sees it.
type Member struct {
	Alias      string // its name on the cluster's network: dyn-dc1-rack1, redis-dc1-rack1 ...
	Datacenter string // dc1, dc2 ...
	Rack       string // rack1, rack2 ...
	Node       bool   // a dynomite node; false: its datastore
}

// Customizer adjusts the request of one container before it starts: a name,
// labels, a file, a log consumer.
type Customizer func(m Member, req *testcontainers.GenericContainerRequest) error

type options struct {
	racks, dcs       int
	datastore        Datastore
	read, write      Consistency
	password         string
	image            string
	redisImage       string
	memcachedImage   string
	extra            [][2]string
	labels           map[string]string
	hostIP           string // "" = decided by the daemon's address
	customizers      []Customizer
	startupTimeout   time.Duration
	replicateTimeout time.Duration
}

func defaults() options {
	return options{
		racks: 3, dcs: 1, datastore: Redis, read: DCOne, write: DCOne,
		image: DefaultImage, redisImage: DefaultRedisImage, memcachedImage: DefaultMemcachedImage,
		startupTimeout: 60 * time.Second, replicateTimeout: 60 * time.Second,
	}
}

// Option configures Run.
type Option func(*options) error

// WithRacks sets the racks per datacenter (default 3), one node and one
// datastore each.
func WithRacks(n int) Option {
	return func(o *options) error {
		if n < 1 || n > 16 {
			return fmt.Errorf("dynomite: WithRacks(%d): want 1 to 16", n)
		}
		o.racks = n
		return nil
	}
}

// WithDatacenters sets the number of datacenters (default 1), named dc1,
// dc2 ..., each with the same racks.
func WithDatacenters(n int) Option {
	return func(o *options) error {
		if n < 1 || n > 8 {
			return fmt.Errorf("dynomite: WithDatacenters(%d): want 1 to 8", n)
		}
		o.dcs = n
		return nil
	}
}

// WithDatastore picks Redis (the default) or Memcached behind every node.
func WithDatastore(d Datastore) Option {
	return func(o *options) error {
		if d != Redis && d != Memcached {
			return fmt.Errorf("dynomite: WithDatastore(%v): want Redis or Memcached", d)
		}
		o.datastore = d
		return nil
	}
}

// WithConsistency sets every node's read_consistency and
// write_consistency (default DC_ONE for both).
func WithConsistency(read, write Consistency) Option {
	return func(o *options) error {
		if err := errors.Join(read.check("read_consistency"), write.check("write_consistency")); err != nil {
			return err
		}
		o.read, o.write = Consistency(strings.ToUpper(string(read))), Consistency(strings.ToUpper(string(write)))
		return nil
	}
}

// WithPassword protects the cluster with a password: clients must AUTH
// with it (the nodes' requirepass), and every Redis requires it too
// (redis-server --requirepass; the nodes send it as datastore_password).
// Redis only: Memcached has no password.
func WithPassword(password string) Option {
	return func(o *options) error {
		if password == "" || strings.ContainsAny(password, "\r\n") {
			return errors.New("dynomite: WithPassword: the password must be non-empty and on one line")
		}
		o.password = password
		return nil
	}
}

// WithImage names the dynomite image (default DefaultImage).
func WithImage(image string) Option {
	return imageOption("WithImage", image, func(o *options) { o.image = image })
}

// WithRedisImage names the Redis image (default DefaultRedisImage). It runs
// `redis-server ...` as its command, as the public redis images do.
func WithRedisImage(image string) Option {
	return imageOption("WithRedisImage", image, func(o *options) { o.redisImage = image })
}

// WithMemcachedImage names the Memcached image (default
// DefaultMemcachedImage). It runs `memcached ...` as its command, as the
// public memcached images do.
func WithMemcachedImage(image string) Option {
	return imageOption("WithMemcachedImage", image, func(o *options) { o.memcachedImage = image })
}

func imageOption(name, image string, set func(*options)) Option {
	return func(o *options) error {
		if image == "" {
			return fmt.Errorf("dynomite: %s: empty image name", name)
		}
		set(o)
		return nil
	}
}

// WithNodeConfig adds a key to every node's configuration, written as
// given after the keys the cluster sets (e.g. "timeout", "2000").
func WithNodeConfig(key, value string) Option {
	return func(o *options) error {
		if key == "" || strings.ContainsAny(key, ": \n") || strings.Contains(value, "\n") {
			return fmt.Errorf("dynomite: WithNodeConfig(%q, %q): want a plain key and a one-line value", key, value)
		}
		o.extra = append(o.extra, [2]string{key, value})
		return nil
	}
}

// WithLabels puts labels on every container and on the network.
func WithLabels(labels map[string]string) Option {
	return func(o *options) error {
		if o.labels == nil {
			o.labels = map[string]string{}
		}
		maps.Copy(o.labels, labels)
		return nil
	}
}

// WithHostIP sets the host address the ports are published on. By default
// it is 127.0.0.1 when the Docker daemon runs on this machine, and every
// interface (Docker's default) when it is remote.
func WithHostIP(ip string) Option {
	return func(o *options) error {
		if _, err := netip.ParseAddr(ip); err != nil {
			return fmt.Errorf("dynomite: WithHostIP(%q): %v", ip, err)
		}
		o.hostIP = ip
		return nil
	}
}

// WithCustomizer adjusts every container's request before it starts.
func WithCustomizer(c Customizer) Option {
	return func(o *options) error {
		if c == nil {
			return errors.New("dynomite: WithCustomizer(nil)")
		}
		o.customizers = append(o.customizers, c)
		return nil
	}
}

// WithStartupTimeout bounds the wait for each container to be ready
// (default 60 s), and then, again, for the nodes to be connected to each
// other.
func WithStartupTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("dynomite: WithStartupTimeout(%s): want a positive duration", d)
		}
		o.startupTimeout, o.replicateTimeout = d, d
		return nil
	}
}

func (o *options) validate() error {
	if o.password != "" && o.datastore == Memcached {
		return errors.New("dynomite: WithPassword needs Redis: Memcached has no password")
	}
	return nil
}
