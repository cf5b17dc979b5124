package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Keys upstream does not have (security and limits). They are flat,
// validated like upstream's, and listed by Describe after upstream's keys.
var ourKeys = []key{
	// Password clients must give with AUTH (or HELLO ... AUTH). Empty: no
	// authentication.
	{name: "requirepass", val: func(c *Config) value { return secretVal{&c.RequirePass} }},
	// Named users Redis clients may authenticate as (AUTH <user> <password>,
	// HELLO ... AUTH <user> <password>), beside requirepass (user
	// "default"): one "name:password" or "name:#<sha256 hex>" per entry.
	{name: "client_users", seq: true, val: func(c *Config) value { return usersVal{&c.ClientUsers} }},
	// Password this node sends to its own Redis on every connection.
	{name: "datastore_password", val: func(c *Config) value { return secretVal{&c.DatastorePassword} }},
	// Optional TLS client listener, beside `listen`.
	{name: "client_tls_listen", val: func(c *Config) value { return listenVal{&c.ClientTLSListen, false} }},
	{name: "client_tls_cert_file", val: func(c *Config) value { return strVal{&c.ClientTLSCertFile, true} }},
	{name: "client_tls_key_file", val: func(c *Config) value { return strVal{&c.ClientTLSKeyFile, true} }},
	// When set, clients of the TLS listener must present a certificate
	// signed by this CA (the authentication of memcached clients).
	{name: "client_tls_ca_file", val: func(c *Config) value { return strVal{&c.ClientTLSCAFile, true} }},
	// Mutual TLS between peers under a cluster CA, on the links that
	// secure_server_option selects. Without them, pem_key_file is used.
	{name: "peer_tls_cert_file", val: func(c *Config) value { return strVal{&c.PeerTLSCertFile, true} }},
	{name: "peer_tls_key_file", val: func(c *Config) value { return strVal{&c.PeerTLSKeyFile, true} }},
	{name: "peer_tls_ca_file", val: func(c *Config) value { return strVal{&c.PeerTLSCAFile, true} }},
	// Limits. 0 keeps the default; the defaults are generous.
	{name: "max_client_connections", def: "0", val: func(c *Config) value { return optIntVal{p: &c.MaxClientConnections, max: maxInt32, zero: "unlimited"} }},
	{name: "max_request_bytes", def: "536870912", val: func(c *Config) value { return optIntVal{p: &c.MaxRequestBytes, min: 1024, max: 1 << 30} }},
	{name: "max_inflight_requests", def: "128", val: func(c *Config) value { return optIntVal{p: &c.MaxInflightRequests, min: 1, max: 65536} }},
	{name: "max_buffered_bytes", def: "1073741824", val: func(c *Config) value { return optIntVal{p: &c.MaxBufferedBytes, min: 1 << 20, max: maxInt32} }},
	{name: "client_idle_timeout", def: "0", val: func(c *Config) value { return optMsVal{p: &c.ClientIdleTimeout, zero: "none"} }},
	{name: "client_read_timeout", def: "30000", val: func(c *Config) value { return optMsVal{p: &c.ClientReadTimeout, zero: "none"} }},
	// A Redis pub/sub subscriber that leaves more than the hard limit of
	// messages unread, or more than the soft limit for the soft seconds,
	// is disconnected: Redis's client-output-buffer-limit pubsub, with its
	// defaults (32mb 8mb 60). 0 turns a limit off, as in Redis.
	{name: "pubsub_output_buffer_hard_limit", def: "33554432", val: func(c *Config) value { return offIntVal{p: &c.PubSubOutputBufferHardLimit, max: maxInt32} }},
	{name: "pubsub_output_buffer_soft_limit", def: "8388608", val: func(c *Config) value { return offIntVal{p: &c.PubSubOutputBufferSoftLimit, max: maxInt32} }},
	{name: "pubsub_output_buffer_soft_seconds", def: "60", val: func(c *Config) value { return offIntVal{p: &c.PubSubOutputBufferSoftSeconds, max: maxInt32} }},
	// dns_srv_provider (seedprovider/dnssrv): the SRV record, the DNS server
	// ("" = /etc/resolv.conf) and the timeout of one exchange.
	{name: "dns_srv_name", val: func(c *Config) value { return strVal{&c.DNSSRVName, true} }},
	{name: "dns_srv_resolver", val: func(c *Config) value { return strVal{&c.DNSSRVResolver, true} }},
	{name: "dns_srv_timeout", def: "2000", val: func(c *Config) value { return msVal{&c.DNSSRVTimeout} }},
	// ec2_provider (seedprovider/ec2): instances tagged
	// <ec2_cluster_tag_key>=<ec2_cluster_tag_value> in ec2_regions.
	{name: "ec2_cluster_tag_value", val: func(c *Config) value { return strVal{&c.EC2ClusterTagValue, true} }},
	{name: "ec2_cluster_tag_key", def: "dynomite:cluster", val: func(c *Config) value { return strVal{&c.EC2ClusterTagKey, true} }},
	{name: "ec2_regions", val: func(c *Config) value { return strVal{&c.EC2Regions, true} }},
	{name: "ec2_peer_address", def: "private", val: func(c *Config) value { return enumVal{p: &c.EC2PeerAddress, one: []string{"private", "public"}} }},
	{name: "ec2_peer_port", def: "8101", val: func(c *Config) value { return optIntVal{p: &c.EC2PeerPort, min: 1, max: 65535} }},
	{name: "ec2_endpoint", val: func(c *Config) value { return strVal{&c.EC2Endpoint, true} }},
	// Gossip (proxy/gossip, hashicorp/memberlist), used only with
	// enable_gossip: true. gossip_listen is its TCP and UDP address; empty:
	// dyn_listen's host with its port + 2 (8103 for 8101).
	{name: "gossip_listen", val: func(c *Config) value { return listenVal{&c.GossipListen, false} }},
	// Comma-separated host:port list of other nodes' gossip addresses to join
	// through; empty: the dyn_seeds hosts with their port + 2.
	{name: "gossip_seeds", val: func(c *Config) value { return hostPortsVal{&c.GossipSeeds} }},
	// The host:port other nodes reach this node's gossip on (behind NAT, or
	// when gossip_listen is 0.0.0.0); empty: gossip_listen's address.
	{name: "gossip_advertise", val: func(c *Config) value { return advertiseVal{&c.GossipAdvertise} }},
	// Token for the stats listener's runtime-changing endpoints (/set_*,
	// /state/*, /peer/*, /read_repairs/*, log level). Empty: they answer
	// loopback clients only.
	{name: "stats_admin_token", val: func(c *Config) value { return secretVal{&c.StatsAdminToken} }},
	// FLUSHDB and FLUSHALL through the proxy empty every datastore of the
	// cluster; off, they are refused with an error naming this key.
	{name: "allow_flush", def: "false", val: func(c *Config) value { return boolVal{&c.AllowFlush} }},
	// The log level, upstream's -v scale (0 emerg .. 5 notice .. 7 debug ..
	// 11), so that a reload can change it. -v on the command line wins at
	// start; unset, the level is -v's (5 by default).
	{name: "verbosity", def: "5", val: func(c *Config) value { return intVal{p: &c.Verbosity, min: 0, max: 11} }},
	// Hinted handoff (proxy/hints): a write's copy that a replica did not
	// get is kept in hints_dir (one directory per node, on a persistent
	// volume; empty: hinted handoff off) and replayed once the replica is
	// back. hints_fsync: always, interval (every second) or never;
	// max_hint_window: a replica down longer gets no new hints (ms, 0: no
	// limit); max_hints_bytes caps each replica's log; hint_replay_rate is
	// the replay's pace in bytes a second, per replica.
	{name: "hints_dir", val: func(c *Config) value { return strVal{&c.HintsDir, true} }},
	{name: "hints_fsync", def: "interval", val: func(c *Config) value { return enumVal{p: &c.HintsFsync, one: []string{"always", "interval", "never"}} }},
	{name: "max_hint_window", def: "10800000", val: func(c *Config) value { return optMsVal{p: &c.MaxHintWindow, zero: "no limit"} }},
	{name: "max_hints_bytes", def: "1073741824", val: func(c *Config) value { return optIntVal{p: &c.MaxHintsBytes, min: 1 << 20, max: maxInt32} }},
	{name: "hint_replay_rate", def: "4194304", val: func(c *Config) value { return optIntVal{p: &c.HintReplayRate, min: 1024, max: maxInt32} }},
	// Anti-entropy (proxy/antientropy): repair_interval runs a repair of
	// this node's ranges every so many ms (0: only when asked, POST
	// /repair); repair_preferred_dc decides the keys that neither a
	// timestamp nor a majority of replicas decides (empty: they are
	// reported and left alone). A repair is paced by stream_keys_per_sec
	// and stream_bytes_per_sec, with the node's other data movements.
	{name: "repair_interval", def: "0", val: func(c *Config) value { return optMsVal{p: &c.RepairInterval, zero: "off"} }},
	{name: "repair_preferred_dc", val: func(c *Config) value { return strVal{&c.RepairPreferredDC, true} }},
	// Warm-up (proxy/node/warmup.go): a node started with warm_up fills its
	// datastore with its token ranges from a replica in another rack
	// before it serves reads (POST /warmup starts one on a running node).
	// stream_keys_per_sec and stream_bytes_per_sec bound every data
	// movement of the node together (warm-up, repair), 0: no limit.
	// peer_stats_port is the port of the other nodes' stats listeners, at
	// their dyn_listen host, which a warming node asks for their datastore's
	// address (GET /datastore); 0: this node's stats_listen port.
	{name: "warm_up", def: "false", val: func(c *Config) value { return boolVal{&c.WarmUp} }},
	{name: "stream_keys_per_sec", val: func(c *Config) value {
		return optIntVal{p: &c.StreamKeysPerSec, min: 1, max: maxInt32, zero: "no limit"}
	}},
	{name: "stream_bytes_per_sec", val: func(c *Config) value {
		return optIntVal{p: &c.StreamBytesPerSec, min: 1024, max: maxInt32, zero: "no limit"}
	}},
	{name: "peer_stats_port", val: func(c *Config) value {
		return optIntVal{p: &c.PeerStatsPort, min: 1, max: 65535, zero: "this node's stats_listen port"}
	}},
}

// secretVal is a string Describe does not print.
type secretVal struct{ p *string }

func (v secretVal) set(s string) error { *v.p = s; return nil }
func (v secretVal) check() error       { return nil }
func (v secretVal) String() string {
	if *v.p == "" {
		return ""
	}
	return "(set, not shown)"
}

// User is one entry of client_users: a name and the SHA-256 digest of its
// password (the password itself is not kept).
type User struct {
	Name   string
	Digest [sha256.Size]byte
}

// usersVal is client_users: "name:password" or "name:#<sha256 hex>" per
// entry. Neither Describe nor an error message shows a password.
type usersVal struct{ p *[]User }

func (v usersVal) set(s string) error {
	name, pw, ok := strings.Cut(s, ":")
	switch {
	case !ok || pw == "":
		return errors.New(`is not "name:password" or "name:#<sha256 hex>"`)
	case name == "":
		return errors.New("has an empty user name")
	case strings.ContainsFunc(name, unicode.IsSpace):
		return fmt.Errorf("user %q has a blank in its name", name)
	case name == "default":
		return errors.New(`user "default" is requirepass's: set requirepass instead`)
	}
	u := User{Name: name}
	if hexDigest, hashed := strings.CutPrefix(pw, "#"); hashed {
		b, err := hex.DecodeString(hexDigest)
		if err != nil || len(b) != sha256.Size {
			return fmt.Errorf("user %q: a hashed password is # and 64 hex digits (the SHA-256 of the password)", name)
		}
		copy(u.Digest[:], b)
	} else {
		u.Digest = sha256.Sum256([]byte(pw))
	}
	for _, o := range *v.p {
		if o.Name == name {
			return fmt.Errorf("user %q is listed twice", name)
		}
	}
	*v.p = append(*v.p, u)
	return nil
}

func (v usersVal) check() error { return nil }

// redact: a value that failed to parse is shown without its password.
func (v usersVal) redact(s string) string {
	if name, _, ok := strings.Cut(s, ":"); ok {
		return name + ":(not shown)"
	}
	return "(not shown)"
}

func (v usersVal) items() []string {
	out := make([]string, len(*v.p))
	for i, u := range *v.p {
		out[i] = u.Name + ":(password not shown)"
	}
	return out
}

func (v usersVal) String() string { return strings.Join(v.items(), ", ") }

// optIntVal is a number where 0 keeps the default (upstream's UNSET_NUM).
type optIntVal struct {
	p        *int
	min, max int
	zero     string // how Describe shows 0
}

func (v optIntVal) set(s string) error {
	n, err := parseNumber(s)
	if err != nil {
		return err
	}
	if n > v.max || n < v.min {
		return fmt.Errorf("is out of range %d..%d", v.min, v.max)
	}
	*v.p = n
	return nil
}

func (v optIntVal) unset(s string) bool { return isZeroNumber(s) }

func (v optIntVal) check() error {
	if *v.p != 0 && (*v.p < v.min || *v.p > v.max) {
		return fmt.Errorf("is out of range %d..%d", v.min, v.max)
	}
	if *v.p < 0 {
		return errors.New("must not be negative")
	}
	return nil
}

func (v optIntVal) String() string {
	if *v.p == 0 && v.zero != "" {
		return "0 (" + v.zero + ")"
	}
	return strconv.Itoa(*v.p)
}

// offIntVal is a number of 0..max where 0 is a value of its own: the
// limit is off.
type offIntVal struct {
	p   *int
	max int
}

func (v offIntVal) set(s string) error {
	n, err := parseNumber(s)
	if err != nil {
		return err
	}
	*v.p = n
	return v.check()
}

func (v offIntVal) unset(string) bool { return false }

func (v offIntVal) check() error {
	if *v.p < 0 || *v.p > v.max {
		return fmt.Errorf("is out of range 0..%d (0: off)", v.max)
	}
	return nil
}

func (v offIntVal) String() string {
	if *v.p == 0 {
		return "0 (off)"
	}
	return strconv.Itoa(*v.p)
}

// optMsVal is a duration in ms where 0 means "none".
type optMsVal struct {
	p    *time.Duration
	zero string
}

func (v optMsVal) set(s string) error {
	n, err := parseNumber(s)
	if err != nil {
		return err
	}
	if n > maxInt32 {
		return fmt.Errorf("is out of range 0..%d", maxInt32)
	}
	*v.p = time.Duration(n) * time.Millisecond
	return nil
}

func (v optMsVal) unset(s string) bool { return false }
func (v optMsVal) check() error {
	if *v.p < 0 {
		return errors.New("must not be negative")
	}
	return nil
}

func (v optMsVal) String() string {
	if *v.p == 0 && v.zero != "" {
		return "0 (" + v.zero + ")"
	}
	return strconv.FormatInt(v.p.Milliseconds(), 10)
}

// enumVal is a string from a fixed list.
type enumVal struct {
	p   *string
	one []string
}

func (v enumVal) set(s string) error {
	for _, o := range v.one {
		if s == o {
			*v.p = s
			return nil
		}
	}
	return fmt.Errorf("is not one of %v", v.one)
}

func (v enumVal) check() error   { return nil }
func (v enumVal) String() string { return *v.p }

// hostPortsVal is a comma-separated list of host:port (gossip_seeds).
type hostPortsVal struct{ p *[]Endpoint }

func (v hostPortsVal) set(s string) error {
	var out []Endpoint
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return errors.New("has an empty entry (a comma-separated host:port list)")
		}
		e, err := parseEndpoint(part, false)
		if err != nil {
			return fmt.Errorf("entry %q %w", part, err)
		}
		out = append(out, e)
	}
	*v.p = out
	return nil
}

func (v hostPortsVal) check() error {
	for _, e := range *v.p {
		if err := e.check(false); err != nil {
			return fmt.Errorf("entry %q %w", e.String(), err)
		}
	}
	return nil
}

func (v hostPortsVal) String() string {
	parts := make([]string, len(*v.p))
	for i, e := range *v.p {
		parts[i] = e.String()
	}
	return strings.Join(parts, ",")
}

// advertiseVal is an address other nodes dial: host:port whose host is not
// a wildcard address.
type advertiseVal struct{ p *Endpoint }

func (v advertiseVal) set(s string) error {
	e, err := parseEndpoint(s, false)
	if err != nil {
		return err
	}
	if err := checkAdvertised(e); err != nil {
		return err
	}
	*v.p = e
	return nil
}

func (v advertiseVal) check() error {
	if v.p.IsZero() {
		return nil
	}
	if err := v.p.check(false); err != nil {
		return err
	}
	return checkAdvertised(*v.p)
}

func checkAdvertised(e Endpoint) error {
	if a, err := netip.ParseAddr(e.Host); err == nil && a.IsUnspecified() {
		return fmt.Errorf("has the wildcard address %s, which other nodes cannot dial", e.Host)
	}
	return nil
}

func (v advertiseVal) String() string {
	if v.p.IsZero() {
		return `""`
	}
	return v.p.String()
}
