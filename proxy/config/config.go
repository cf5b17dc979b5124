package config

import (
	"fmt"
	"time"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// Config is one node's configuration: the pool named by the file's root key.
//
// The yaml tags give each field's key for documentation; the file is read by
// Parse, not by yaml.Unmarshal. Times are milliseconds in the file. Every key,
// its default and its checks are in the table in keys.go.
type Config struct {
	// Pool is the file's root key, the pool name (conventionally dyn_o_mite).
	Pool string `yaml:"-"`

	// Listen is the client listener (RESP or memcache): host:port or a unix
	// socket path. Required.
	Listen Endpoint `yaml:"listen"`
	// DynListen is the peer listener. Empty means no peer listener, which only
	// a single node may do.
	DynListen Endpoint `yaml:"dyn_listen"`
	// StatsListen is the stats and admin HTTP listener.
	StatsListen Endpoint `yaml:"stats_listen"`
	// Servers is the local datastore; exactly one entry. Required.
	Servers []Server `yaml:"servers"`
	// DataStore is the protocol of the datastore and of the client listener.
	DataStore msg.Proto `yaml:"data_store"`
	// Tokens are this node's ring tokens (usually one). Required when the
	// node has peers.
	Tokens []uint32 `yaml:"tokens"`
	// Rack is this node's rack; each rack holds one full copy of the data.
	Rack string `yaml:"rack"`
	// Datacenter is this node's datacenter.
	Datacenter string `yaml:"datacenter"`
	// DynSeeds are the static peers.
	DynSeeds []Seed `yaml:"dyn_seeds"`
	// DynSeedProvider names where peers come from: simple_provider (DynSeeds
	// only), florida_provider or dns_provider.
	DynSeedProvider string `yaml:"dyn_seed_provider"`
	// Hash maps keys to tokens.
	Hash Hash `yaml:"hash"`
	// HashTag is "" or two characters, e.g. "{}": only the part of the key
	// between them is hashed.
	HashTag string `yaml:"hash_tag"`
	// ReadConsistency is the initial read consistency.
	ReadConsistency consistency.Level `yaml:"read_consistency"`
	// WriteConsistency is the initial write consistency.
	WriteConsistency consistency.Level `yaml:"write_consistency"`
	// ReadRepairsEnabled turns read repair on (proxy/repair, the README's
	// read repair section); it acts only when both consistencies are above
	// DC_ONE, as upstream's dyn_core.c is_read_repairs_enabled.
	ReadRepairsEnabled bool `yaml:"read_repairs_enabled"`
	// SecureServerOption says which peer links are encrypted.
	SecureServerOption SecureOption `yaml:"secure_server_option"`
	// PemKeyFile is the RSA private key for encrypted peer links, read only
	// when SecureServerOption is not none.
	PemKeyFile string `yaml:"pem_key_file"`
	// ReconKeyFile is the reconciliation key file (upstream's entropy code).
	ReconKeyFile string `yaml:"recon_key_file"`
	// ReconIVFile is the reconciliation IV file (upstream's entropy code).
	ReconIVFile string `yaml:"recon_iv_file"`
	// Timeout is the datastore request timeout; peer timeouts derive from it.
	Timeout time.Duration `yaml:"timeout"`
	// Preconnect connects to the datastore and the peers at startup. When
	// false, connections are made lazily on first use.
	Preconnect bool `yaml:"preconnect"`
	// AutoEjectHosts ejects the datastore for ServerRetryTimeout after
	// ServerFailureLimit consecutive failures.
	AutoEjectHosts bool `yaml:"auto_eject_hosts"`
	// ServerRetryTimeout is how long an ejected datastore stays out, and the
	// cap of the reconnect backoff.
	ServerRetryTimeout time.Duration `yaml:"server_retry_timeout"`
	// ServerFailureLimit is the number of consecutive failures that eject the
	// datastore when AutoEjectHosts is true.
	ServerFailureLimit int `yaml:"server_failure_limit"`
	// Backlog is the listen() backlog.
	Backlog int `yaml:"backlog"`
	// ClientConnections is parsed and ignored, as upstream does.
	ClientConnections int `yaml:"client_connections"`
	// DatastoreConnections is the number of connections to the datastore
	// (1..255).
	DatastoreConnections int `yaml:"datastore_connections"`
	// LocalPeerConnections is the number of connections to each peer in the
	// same datacenter (1..255).
	LocalPeerConnections int `yaml:"local_peer_connections"`
	// RemotePeerConnections is the number of connections to each peer in
	// another datacenter (1..255).
	RemotePeerConnections int `yaml:"remote_peer_connections"`
	// EnableGossip turns gossip on.
	EnableGossip bool `yaml:"enable_gossip"`
	// GosInterval is the gossip and seed-provider polling period.
	GosInterval time.Duration `yaml:"gos_interval"`
	// ConnMsgRate is the per-connection message rate (per second) towards
	// peers in other datacenters.
	ConnMsgRate int `yaml:"conn_msg_rate"`
	// StatsInterval is the stats aggregation period.
	StatsInterval time.Duration `yaml:"stats_interval"`
	// MbufSize is the buffer chunk size in bytes (512..512000, a multiple of
	// 16). When the file does not set it, the -m flag applies.
	MbufSize int `yaml:"mbuf_size"`
	// MaxMsgs caps the messages in flight (100000..1000000). When the file
	// does not set it, the -M flag applies.
	MaxMsgs int `yaml:"max_msgs"`
	// Env is the environment (aws, network, ...), compared literally.
	Env string `yaml:"env"`
	// DynReadTimeout is the peer read timeout (unused upstream).
	DynReadTimeout time.Duration `yaml:"dyn_read_timeout"`
	// DynWriteTimeout is the peer write timeout (unused upstream).
	DynWriteTimeout time.Duration `yaml:"dyn_write_timeout"`
	// DynPort is parsed and ignored: the peer port comes from DynListen.
	DynPort int `yaml:"dyn_port"`
	// DynConnections is parsed; upstream does not use it.
	DynConnections int `yaml:"dyn_connections"`

	// Our keys (security and limits); see keys_ours.go.
	RequirePass, DatastorePassword                       string        `yaml:"-"`
	ClientUsers                                          []User        `yaml:"-"`
	ClientTLSListen                                      Endpoint      `yaml:"client_tls_listen"`
	ClientTLSCertFile, ClientTLSKeyFile, ClientTLSCAFile string        `yaml:"-"`
	PeerTLSCertFile, PeerTLSKeyFile, PeerTLSCAFile       string        `yaml:"-"`
	MaxClientConnections, MaxRequestBytes                int           `yaml:"-"`
	MaxInflightRequests, MaxBufferedBytes                int           `yaml:"-"`
	ClientIdleTimeout, ClientReadTimeout                 time.Duration `yaml:"-"`
	PubSubOutputBufferHardLimit                          int           `yaml:"-"`
	PubSubOutputBufferSoftLimit                          int           `yaml:"-"`
	PubSubOutputBufferSoftSeconds                        int           `yaml:"-"`
	StatsAdminToken                                      string        `yaml:"-"`
	DNSSRVName, DNSSRVResolver                           string        `yaml:"-"`
	DNSSRVTimeout                                        time.Duration `yaml:"-"`
	EC2ClusterTagValue, EC2ClusterTagKey, EC2Regions     string        `yaml:"-"`
	AllowFlush                                           bool          `yaml:"-"`
	Verbosity                                            int           `yaml:"-"`
	EC2PeerAddress, EC2Endpoint                          string        `yaml:"-"`
	EC2PeerPort                                          int           `yaml:"-"`
	// Gossip (gossip_listen, gossip_seeds, gossip_advertise): zero values
	// mean "derived from dyn_listen and dyn_seeds" (see keys_ours.go).
	GossipListen, GossipAdvertise Endpoint   `yaml:"-"`
	GossipSeeds                   []Endpoint `yaml:"-"`
	// Hinted handoff (hints_dir, hints_fsync, max_hint_window,
	// max_hints_bytes, hint_replay_rate; see keys_ours.go).
	HintsDir, HintsFsync          string        `yaml:"-"`
	MaxHintWindow                 time.Duration `yaml:"-"`
	MaxHintsBytes, HintReplayRate int           `yaml:"-"`
	// Anti-entropy (repair_interval, repair_preferred_dc; see
	// keys_ours.go).
	RepairInterval    time.Duration `yaml:"-"`
	RepairPreferredDC string        `yaml:"-"`
	// Warm-up and data movement (warm_up, stream_keys_per_sec,
	// stream_bytes_per_sec, peer_stats_port; see keys_ours.go).
	WarmUp                                             bool `yaml:"-"`
	StreamKeysPerSec, StreamBytesPerSec, PeerStatsPort int  `yaml:"-"`

	// Warnings are remarks about the file that do not stop it from loading
	// (deprecated or ignored keys, settings without effect), each as
	// "file:line: key: message".
	Warnings []string `yaml:"-"`

	// set holds the keys the file gave a value to (a 0 number counts as
	// unset, as upstream).
	set map[string]bool
}

// Default returns a Config holding upstream's defaults (as its code has them,
// not its README). Each key's default is documented at its entry in the key
// table (keys.go). Listen and Servers have no default: the result does not
// pass Validate until they are set.
func Default() *Config {
	c := &Config{Pool: "dyn_o_mite"}
	for i := range keys {
		k := &keys[i]
		if k.def != "" {
			// The defaults are constants, checked by TestDefaultsParse.
			_ = k.val(c).set(k.def)
		}
	}
	return c
}

// IsSet reports whether the file that produced c gave key a value. A number
// set to 0 counts as unset, as upstream, so for example the -m and -M flags
// apply when mbuf_size or max_msgs is absent or 0. It is false for every key
// of a Config that was not parsed.
func (c *Config) IsSet(key string) bool { return c.set[key] }

// Validate checks c without touching the network or the file system: every
// value against its key's rules, then the rules that tie keys together. It
// returns nil or an *Errors listing every problem.
func (c *Config) Validate() error {
	if ps := c.problems(); len(ps) > 0 {
		return &Errors{Problems: ps}
	}
	return nil
}

// problems returns every problem of c, with Line 0.
func (c *Config) problems() []Problem {
	var ps []Problem
	add := func(key, value, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Value: value, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Pool == "" {
		add("", "", "the pool name (the root key) is empty")
	}
	for i := range keys {
		k := &keys[i]
		v := k.val(c)
		if err := v.check(); err != nil {
			value := ""
			if !k.seq {
				value = v.String()
			}
			add(k.name, value, "%s", err.Error())
		}
	}

	if c.Listen.IsZero() {
		add("listen", "", "is missing (required)")
	}
	switch n := len(c.Servers); {
	case n == 0:
		add("servers", "", "is missing: pool %q has no datastore (required)", c.Pool)
	case n > 1:
		add("servers", "", "has %d entries: exactly one datastore is supported", n)
	}
	if c.StatsListen.IsZero() {
		add("stats_listen", "", "is missing")
	}
	hasPeers := len(c.DynSeeds) > 0 || (c.DynSeedProvider != "" && c.DynSeedProvider != "simple_provider")
	if hasPeers && c.DynListen.IsZero() {
		add("dyn_listen", "", "is missing: it is required when dyn_seeds or a seed provider is configured")
	}
	if hasPeers && len(c.Tokens) == 0 {
		add("tokens", "", "is missing: it is required when dyn_seeds or a seed provider is configured")
	}
	// Two listeners on one address cannot both bind.
	listeners := []struct {
		key string
		e   Endpoint
	}{{"listen", c.Listen}, {"dyn_listen", c.DynListen}, {"stats_listen", c.StatsListen}}
	for i, a := range listeners {
		for _, b := range listeners[:i] {
			if !a.e.IsZero() && a.e == b.e {
				add(a.key, a.e.String(), "is the same address as %s", b.key)
			}
		}
	}
	return ps
}
