package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// fileWith returns a valid node file (listen, servers, dyn_listen and tokens
// set) whose first key, on line 2, is "key: value", replacing the base line
// for key.
func fileWith(key, value string) string {
	base := []struct{ k, v string }{
		{"listen", "127.0.0.1:8102"},
		{"dyn_listen", "127.0.0.1:8101"},
		{"servers", "\n  - 127.0.0.1:6379:1"},
		{"tokens", "'1'"},
	}
	var b strings.Builder
	b.WriteString("dyn_o_mite:\n")
	b.WriteString("  " + key + ": " + value + "\n")
	for _, l := range base {
		if l.k != key {
			b.WriteString("  " + l.k + ": " + l.v + "\n")
		}
	}
	return b.String()
}

// keyLine is the line of the tested key in fileWith's output.
const keyLine = 2

type keyCase struct {
	name  string
	key   string
	value string                        // YAML after "key: "
	want  string                        // the effective value as Describe prints it
	check func(t *testing.T, c *Config) // further checks of a valid file
	warn  string                        // a warning the file must give
	err   string                        // for an invalid file: the expected message
}

func keyCases() []keyCase {
	cs := []keyCase{
		{name: "listen takes an IPv4 host and port", key: "listen", value: "0.0.0.0:8102", want: "0.0.0.0:8102"},
		{name: "listen takes a quoted value", key: "listen", value: "'127.0.0.1:8102'", want: "127.0.0.1:8102"},
		{name: "listen takes a host name without resolving it", key: "listen", value: "dynomite-1.svc.cluster.local:8102", want: "dynomite-1.svc.cluster.local:8102"},
		{name: "listen takes a bracketed IPv6 literal", key: "listen", value: "'[::1]:8102'", want: "[::1]:8102",
			check: func(t *testing.T, c *Config) { require.Equal(t, Endpoint{Host: "::1", Port: 8102}, c.Listen) }},
		{name: "listen takes a bare IPv6 literal as upstream does", key: "listen", value: "::1:8102", want: "[::1]:8102"},
		{name: "listen takes a unix socket path", key: "listen", value: "/var/run/dynomite.sock", want: "/var/run/dynomite.sock",
			check: func(t *testing.T, c *Config) {
				require.Equal(t, "unix", c.Listen.Network())
				require.Equal(t, "/var/run/dynomite.sock", c.Listen.Path)
			}},
		{name: "listen rejects a port alone", key: "listen", value: "8102", err: `"8102" is not "host:port" or a unix socket path`},
		{name: "listen rejects port 0", key: "listen", value: "127.0.0.1:0", err: "invalid port 0"},
		{name: "listen rejects a port above 65535", key: "listen", value: "127.0.0.1:65536", err: "invalid port 65536"},
		{name: "listen rejects a service name as port", key: "listen", value: "127.0.0.1:http", err: `invalid port "http"`},
		{name: "listen rejects an empty host", key: "listen", value: "':8102'", err: "empty host (use 0.0.0.0"},
		{name: "listen rejects a bad IPv4 literal", key: "listen", value: "256.1.1.1:8102", err: `invalid IPv4 address "256.1.1.1"`},
		{name: "listen rejects a host name with a space", key: "listen", value: "'bad host:8102'", err: `invalid host name "bad host"`},
		{name: "listen rejects IPv4 in brackets", key: "listen", value: "'[127.0.0.1]:8102'", err: "invalid IPv6 address"},
		{name: "listen rejects an unclosed bracket", key: "listen", value: "'[::1:8102'", err: "invalid bracketed host"},

		{name: "verbosity takes upstream's -v scale", key: "verbosity", value: "7", want: "7",
			check: func(t *testing.T, c *Config) { require.Equal(t, 7, c.Verbosity) }},
		{name: "verbosity stops at 11", key: "verbosity", value: "12", err: "out of range 0..11"},
		{name: "verbosity is a number", key: "verbosity", value: "debug", err: "debug"},

		{name: "dyn_listen takes host and port", key: "dyn_listen", value: "127.0.0.1:8101", want: "127.0.0.1:8101"},
		{name: "dyn_listen rejects a unix socket", key: "dyn_listen", value: "/tmp/peer.sock", err: "only allowed for listen"},
		{name: "dyn_listen rejects a host alone", key: "dyn_listen", value: "127.0.0.1", err: `is not "host:port"`},
		{name: "dyn_listen may not share listen's address", key: "dyn_listen", value: "127.0.0.1:8102", err: "is the same address as listen"},

		{name: "stats_listen takes host and port", key: "stats_listen", value: "127.0.0.1:22223", want: "127.0.0.1:22223"},
		{name: "stats_listen rejects a unix socket", key: "stats_listen", value: "/tmp/stats.sock", err: "only allowed for listen"},
		{name: "stats_listen may not share listen's address", key: "stats_listen", value: "127.0.0.1:8102", err: "is the same address as listen"},

		{name: "servers takes one entry", key: "servers", value: "\n  - 127.0.0.1:22122:1",
			check: func(t *testing.T, c *Config) {
				require.Equal(t, []Server{{Endpoint: Endpoint{Host: "127.0.0.1", Port: 22122}, Weight: 1}}, c.Servers)
				require.Equal(t, "127.0.0.1:22122", c.Servers[0].StatsName())
			}},
		{name: "servers takes a single value as upstream does", key: "servers", value: "127.0.0.1:22122:1",
			check: func(t *testing.T, c *Config) { require.Len(t, c.Servers, 1) }},
		{name: "servers takes a unix socket with a name", key: "servers", value: "\n  - /var/run/redis.sock:1 local",
			check: func(t *testing.T, c *Config) {
				require.Equal(t, Server{Endpoint: Endpoint{Path: "/var/run/redis.sock"}, Weight: 1, Name: "local"}, c.Servers[0])
				require.Equal(t, "local", c.Servers[0].StatsName())
				require.Equal(t, "/var/run/redis.sock:1 local", c.Servers[0].String())
			}},
		{name: "servers names a memcached on 11211 by its host, as upstream", key: "servers", value: "\n  - 127.0.0.1:11211:1",
			check: func(t *testing.T, c *Config) { require.Equal(t, "127.0.0.1", c.Servers[0].StatsName()) }},
		{name: "servers takes a bracketed IPv6 datastore", key: "servers", value: "\n  - '[::1]:6379:0'",
			check: func(t *testing.T, c *Config) { require.Equal(t, "[::1]:6379:0", c.Servers[0].String()) }},
		{name: "servers rejects an entry without weight", key: "servers", value: "\n  - 127.0.0.1:6379", err: `"127.0.0.1:6379" must be "host:port:weight [name]"`},
		{name: "servers rejects an entry without port", key: "servers", value: "\n  - localhost:1", err: `must be "host:port:weight [name]"`},
		{name: "servers rejects a non-numeric weight", key: "servers", value: "\n  - 127.0.0.1:6379:x", err: `invalid weight "x"`},
		{name: "servers rejects port 0", key: "servers", value: "\n  - 127.0.0.1:0:1", err: "invalid port 0"},
		{name: "servers rejects a name with a space", key: "servers", value: "\n  - 127.0.0.1:6379:1 two names", err: "must be"},
		{name: "servers rejects a second datastore", key: "servers", value: "\n  - 127.0.0.1:6379:1\n  - 127.0.0.1:6380:1", err: "servers: has 2 entries: exactly one datastore is supported"},
		{name: "servers rejects an empty list entry", key: "servers", value: "\n  -", err: "has an empty value"},

		{name: "data_store 0 is redis", key: "data_store", value: "0", want: "0 (redis)",
			check: func(t *testing.T, c *Config) { require.Equal(t, msg.Redis, c.DataStore) }},
		{name: "data_store 1 is memcache", key: "data_store", value: "1", want: "1 (memcache)",
			check: func(t *testing.T, c *Config) { require.Equal(t, msg.Memcache, c.DataStore) }},
		{name: "data_store rejects 2", key: "data_store", value: "2", err: `data_store: "2" must be 0 (redis) or 1 (memcache)`},
		{name: "data_store rejects a name", key: "data_store", value: "redis", err: `"redis" is not a number`},
		{name: "data_store rejects a negative number", key: "data_store", value: "-1", err: `"-1" is not a number`},

		{name: "tokens takes a quoted token", key: "tokens", value: "'101134286'", want: "101134286"},
		{name: "tokens takes a bare token", key: "tokens", value: "101134286", want: "101134286"},
		{name: "tokens takes a comma-separated list", key: "tokens", value: "1,1001",
			check: func(t *testing.T, c *Config) { require.Equal(t, []uint32{1, 1001}, c.Tokens) }},
		{name: "tokens tolerates whitespace and takes the uint32 maximum", key: "tokens", value: "' 1 , 4294967295 '",
			check: func(t *testing.T, c *Config) { require.Equal(t, []uint32{1, 4294967295}, c.Tokens) }},
		{name: "tokens takes 0", key: "tokens", value: "'0'", check: func(t *testing.T, c *Config) { require.Equal(t, []uint32{0}, c.Tokens) }},
		{name: "tokens rejects a value above uint32", key: "tokens", value: "4294967296", err: "out of range 0..4294967295"},
		{name: "tokens rejects a negative token", key: "tokens", value: "-1", err: `token "-1" that is not a decimal number`},
		{name: "tokens rejects an empty entry", key: "tokens", value: "1,,2", err: "has an empty token"},
		{name: "tokens rejects hexadecimal", key: "tokens", value: "0x10", err: "not a decimal number"},

		{name: "rack takes a name", key: "rack", value: "us-east-1a", want: "us-east-1a"},
		{name: "rack rejects a list", key: "rack", value: "\n  - rack1", err: "rack: expects a single value, not a list"},
		{name: "datacenter takes a name", key: "datacenter", value: "'us-east-1'", want: "us-east-1"},
		{name: "datacenter rejects an empty string", key: "datacenter", value: "''", err: "datacenter: has an empty value"},

		{name: "dyn_seeds takes a seed", key: "dyn_seeds", value: "\n  - 127.0.0.2:8101:rack2:dc:1383429731",
			check: func(t *testing.T, c *Config) {
				require.Equal(t, []Seed{{Host: "127.0.0.2", Port: 8101, Rack: "rack2", DC: "dc", Tokens: []uint32{1383429731}}}, c.DynSeeds)
				require.Equal(t, "127.0.0.2:8101", c.DynSeeds[0].Addr())
			}},
		{name: "dyn_seeds takes several tokens and a name", key: "dyn_seeds", value: "\n  - 127.0.0.2:8101:rack2:dc:1,2 seed-b",
			check: func(t *testing.T, c *Config) {
				require.Equal(t, []uint32{1, 2}, c.DynSeeds[0].Tokens)
				require.Equal(t, "seed-b", c.DynSeeds[0].Name)
				require.Equal(t, "127.0.0.2:8101:rack2:dc:1,2 seed-b", c.DynSeeds[0].String())
			}},
		{name: "dyn_seeds takes a bracketed IPv6 host", key: "dyn_seeds", value: "\n  - '[::1]:8101:rack2:dc:7'",
			check: func(t *testing.T, c *Config) { require.Equal(t, "::1", c.DynSeeds[0].Host) }},
		{name: "dyn_seeds takes a bare IPv6 host as upstream does", key: "dyn_seeds", value: "\n  - ::1:8101:rack2:dc:7",
			check: func(t *testing.T, c *Config) { require.Equal(t, "[::1]:8101", c.DynSeeds[0].Addr()) }},
		{name: "dyn_seeds takes a host name", key: "dyn_seeds", value: "\n  - peer-2.example.com:8101:rack2:dc:7",
			check: func(t *testing.T, c *Config) { require.Equal(t, "peer-2.example.com", c.DynSeeds[0].Host) }},
		{name: "dyn_seeds takes a single value as upstream does", key: "dyn_seeds", value: "127.0.0.2:8101:rack2:dc:1",
			check: func(t *testing.T, c *Config) { require.Len(t, c.DynSeeds, 1) }},
		{name: "dyn_seeds rejects a seed without datacenter", key: "dyn_seeds", value: "\n  - 127.0.0.2:8101:rack2:1", err: `must be "host:port:rack:dc:tokens [name]"`},
		{name: "dyn_seeds rejects port 0", key: "dyn_seeds", value: "\n  - 127.0.0.2:0:rack2:dc:1", err: "invalid port 0"},
		{name: "dyn_seeds rejects an empty rack", key: "dyn_seeds", value: "\n  - 127.0.0.2:8101::dc:1", err: "has an empty rack"},
		{name: "dyn_seeds rejects an empty datacenter", key: "dyn_seeds", value: "\n  - 127.0.0.2:8101:rack2::1", err: "has an empty datacenter"},
		{name: "dyn_seeds rejects a bad token", key: "dyn_seeds", value: "\n  - 127.0.0.2:8101:rack2:dc:x", err: `token "x" that is not a decimal number`},
		{name: "dyn_seeds rejects a missing token", key: "dyn_seeds", value: "\n  - '127.0.0.2:8101:rack2:dc:'", err: "has an empty token"},
		{name: "dyn_seeds rejects a nested list", key: "dyn_seeds", value: "\n  - - 127.0.0.2:8101:rack2:dc:1", err: "not a nested list or mapping"},

		{name: "dyn_seed_provider takes florida_provider", key: "dyn_seed_provider", value: "florida_provider", want: "florida_provider"},
		{name: "dyn_seed_provider takes dns_provider", key: "dyn_seed_provider", value: "dns_provider", want: "dns_provider"},
		{name: "dyn_seed_provider takes simple_provider", key: "dyn_seed_provider", value: "simple_provider", want: "simple_provider"},
		{name: "dyn_seed_provider takes ec2_provider", key: "dyn_seed_provider", value: "ec2_provider", want: "ec2_provider"},
		{name: "dyn_seed_provider rejects an unknown provider", key: "dyn_seed_provider", value: "consul_provider", err: `"consul_provider" is not a known seed provider`},
		{name: "dyn_seed_provider is case-sensitive", key: "dyn_seed_provider", value: "Simple_Provider", err: "is not a known seed provider"},

		{name: "hash rejects an upper-case name", key: "hash", value: "MURMUR", err: `"MURMUR" is not a valid hash`},
		{name: "hash rejects ketama, which upstream cannot select", key: "hash", value: "ketama", err: "is not a valid hash"},

		{name: "hash_tag takes two characters", key: "hash_tag", value: `"{}"`, want: `"{}"`},
		{name: "hash_tag takes two identical characters", key: "hash_tag", value: `"$$"`, want: `"$$"`},
		{name: "hash_tag rejects one character", key: "hash_tag", value: `"{"`, err: "is not a valid hash tag string with two characters"},
		{name: "hash_tag rejects three characters", key: "hash_tag", value: `"{}}"`, err: "with two characters"},

		{name: "secure_server_option takes none", key: "secure_server_option", value: "none", want: "none"},
		{name: "secure_server_option takes datacenter", key: "secure_server_option", value: "datacenter", want: "datacenter",
			check: func(t *testing.T, c *Config) { require.Equal(t, SecureDatacenter, c.SecureServerOption) }},
		{name: "secure_server_option takes rack", key: "secure_server_option", value: "rack", want: "rack"},
		{name: "secure_server_option takes all", key: "secure_server_option", value: "all", want: "all"},
		{name: "secure_server_option rejects dc where upstream falls back to none", key: "secure_server_option", value: "dc", err: `"dc" must be one of none, datacenter, rack, all`},
		{name: "secure_server_option is case-sensitive", key: "secure_server_option", value: "NONE", err: "must be one of"},

		{name: "env takes network", key: "env", value: "network", want: "network"},
		{name: "env takes any name literally", key: "env", value: "gcp", want: "gcp"},
		{name: "env rejects an empty value", key: "env", value: `""`, err: "env: has an empty value"},

		{name: "client_connections is accepted and ignored", key: "client_connections", value: "100", want: "100 (ignored)", warn: "client_connections: is parsed and ignored"},
		{name: "client_connections rejects a non-number", key: "client_connections", value: "many", err: "is not a number"},

		{name: "mbuf_size takes the minimum", key: "mbuf_size", value: "512", want: "512"},
		{name: "mbuf_size takes the maximum", key: "mbuf_size", value: "512000", want: "512000"},
		{name: "mbuf_size takes a multiple of 16", key: "mbuf_size", value: "16400", want: "16400"},
		{name: "mbuf_size rejects less than 512", key: "mbuf_size", value: "511", err: `"511" is out of range 512..512000`},
		{name: "mbuf_size rejects more than 512000", key: "mbuf_size", value: "512016", err: "is out of range 512..512000"},
		{name: "mbuf_size rejects a size that is not a multiple of 16", key: "mbuf_size", value: "520", err: `"520" is not a multiple of 16`},
		{name: "max_msgs takes the minimum", key: "max_msgs", value: "100000", want: "100000"},
		{name: "max_msgs takes the maximum", key: "max_msgs", value: "1000000", want: "1000000"},
		{name: "max_msgs rejects less than 100000", key: "max_msgs", value: "99999", err: "is out of range 100000..1000000"},
		{name: "max_msgs rejects more than 1000000", key: "max_msgs", value: "1000001", err: "is out of range 100000..1000000"},

		{name: "dyn_port is accepted and ignored", key: "dyn_port", value: "8101", want: "8101 (ignored)", warn: "dyn_port: is ignored"},
		{name: "dyn_port rejects a port above 65535", key: "dyn_port", value: "65536", err: "is out of range 0..65535"},

		{name: "distribution is accepted with a deprecation warning", key: "distribution", value: "vnode", want: "(deprecated, ignored)", warn: "distribution: is deprecated and ignored"},
		{name: "distribution accepts any former value", key: "distribution", value: "ketama", warn: "is deprecated"},
		{name: "distribution rejects a mapping", key: "distribution", value: "\n    a: b", err: "expects a value, not a mapping"},
		{name: "server_connections is accepted with a deprecation warning", key: "server_connections", value: "10", warn: "server_connections: is deprecated and ignored: use datastore_connections"},
		{name: "server_connections rejects an empty value", key: "server_connections", value: "''", err: "has an empty value"},
	}

	for _, h := range hashNames {
		cs = append(cs, keyCase{name: "hash takes " + h.name, key: "hash", value: h.name, want: h.name})
	}

	for _, key := range []string{"read_consistency", "write_consistency"} {
		field := func(c *Config) consistency.Level {
			if key == "read_consistency" {
				return c.ReadConsistency
			}
			return c.WriteConsistency
		}
		for _, v := range []struct {
			in   string
			want consistency.Level
		}{{"DC_ONE", consistency.DCOne}, {"dc_one", consistency.DCOne}, {"DC_QUORUM", consistency.DCQuorum}, {"Dc_Quorum", consistency.DCQuorum}, {"dc_safe_quorum", consistency.DCSafeQuorum}, {"DC_EACH_SAFE_QUORUM", consistency.DCEachSafeQuorum}} {
			cs = append(cs, keyCase{name: key + " takes " + v.in, key: key, value: v.in, want: v.want.String(),
				check: func(t *testing.T, c *Config) { require.Equal(t, v.want, field(c)) }})
		}
		cs = append(cs,
			keyCase{name: key + " matches by prefix as upstream, with a warning", key: key, value: "DC_QUORUM_PLEASE", want: "DC_QUORUM", warn: `"DC_QUORUM_PLEASE" is read as DC_QUORUM`},
			keyCase{name: key + " rejects an unknown level", key: key, value: "DC_TWO", err: `"DC_TWO" must be one of DC_ONE, DC_QUORUM, DC_SAFE_QUORUM, DC_EACH_SAFE_QUORUM`},
			keyCase{name: key + " rejects a truncated level", key: key, value: "dc_on", err: "must be one of"},
			keyCase{name: key + " rejects a level without DC_", key: key, value: "quorum", err: "must be one of"},
		)
	}

	for _, key := range []string{"read_repairs_enabled", "preconnect", "auto_eject_hosts", "enable_gossip", "allow_flush", "warm_up"} {
		warn := ""
		if key == "read_repairs_enabled" {
			warn = "has no effect unless read_consistency and write_consistency are both above DC_ONE"
		}
		cs = append(cs,
			keyCase{name: key + " takes true", key: key, value: "true", want: "true", warn: warn},
			keyCase{name: key + " takes false literally", key: key, value: "false", want: "false"},
			keyCase{name: key + " rejects True", key: key, value: "True", err: `"True" is not "true" or "false"`},
			keyCase{name: key + " rejects yes", key: key, value: "yes", err: `is not "true" or "false"`},
			keyCase{name: key + " rejects 1", key: key, value: "1", err: `is not "true" or "false"`},
		)
	}

	for _, key := range []string{"pem_key_file", "recon_key_file", "recon_iv_file"} {
		cs = append(cs,
			keyCase{name: key + " takes a path", key: key, value: "/etc/dynomite/key.pem", want: "/etc/dynomite/key.pem"},
			keyCase{name: key + " rejects an empty value", key: key, value: "''", err: key + ": has an empty value"},
			keyCase{name: key + " rejects a multi-line value", key: key, value: "|\n    a\n    b", err: "contains a line break"},
		)
	}

	for _, key := range []string{"timeout", "server_retry_timeout", "gos_interval", "stats_interval", "dyn_read_timeout", "dyn_write_timeout"} {
		def := keyIndex[key].def
		cs = append(cs,
			keyCase{name: key + " is in milliseconds", key: key, value: "1234", want: "1234",
				check: func(t *testing.T, c *Config) { require.Equal(t, 1234*time.Millisecond, durationOf(t, c, key)) }},
			keyCase{name: key + " 0 keeps the default as upstream", key: key, value: "0", want: def,
				check: func(t *testing.T, c *Config) { require.False(t, c.IsSet(key)) }},
			keyCase{name: key + " rejects a non-number", key: key, value: "abc", err: key + `: "abc" is not a number`},
			keyCase{name: key + " rejects a negative number", key: key, value: "-1", err: `"-1" is not a number`},
			keyCase{name: key + " rejects a fraction", key: key, value: "1.5", err: `"1.5" is not a number`},
			keyCase{name: key + " rejects a Go duration", key: key, value: "5s", err: `"5s" is not a number`},
			keyCase{name: key + " rejects more than an int32", key: key, value: "2147483648", err: "is too large (at most 2147483647)"},
		)
	}

	for _, key := range []string{"server_failure_limit", "backlog", "conn_msg_rate", "dyn_connections"} {
		def := keyIndex[key].def
		cs = append(cs,
			keyCase{name: key + " takes a number", key: key, value: "7", want: "7"},
			keyCase{name: key + " 0 keeps the default as upstream", key: key, value: "0", want: def},
			keyCase{name: key + " rejects a negative number", key: key, value: "-1", err: `"-1" is not a number`},
			keyCase{name: key + " rejects more than an int32", key: key, value: "99999999999", err: "is too large"},
		)
	}

	for _, key := range []string{"datastore_connections", "local_peer_connections", "remote_peer_connections"} {
		cs = append(cs,
			keyCase{name: key + " takes 255", key: key, value: "255", want: "255"},
			keyCase{name: key + " takes 1", key: key, value: "1", want: "1"},
			keyCase{name: key + " 0 keeps the default as upstream", key: key, value: "0", want: "1"},
			keyCase{name: key + " rejects 256 where upstream truncates to 8 bits", key: key, value: "256", err: key + `: "256" is out of range 1..255`},
			keyCase{name: key + " rejects a negative number", key: key, value: "-3", err: "is not a number"},
		)
	}
	return append(cs, ourKeyCases()...)
}

// ourKeyCases covers the keys upstream does not have (keys_ours.go).
func ourKeyCases() []keyCase {
	var cs []keyCase
	pwDigest := sha256.Sum256([]byte("pw-b"))
	cs = append(cs,
		keyCase{name: "client_users takes name:password and name:#sha256, shows no password", key: "client_users",
			value: "\n  - alice:pw-a\n  - bob:#" + hex.EncodeToString(pwDigest[:]),
			want:  "alice:(password not shown), bob:(password not shown)",
			check: func(t *testing.T, c *Config) {
				require.Len(t, c.ClientUsers, 2)
				require.Equal(t, "alice", c.ClientUsers[0].Name)
				require.Equal(t, sha256.Sum256([]byte("pw-a")), c.ClientUsers[0].Digest)
				require.Equal(t, pwDigest, c.ClientUsers[1].Digest, "a hashed password is kept as given")
			}},
		keyCase{name: "client_users takes a single entry as a one-entry list", key: "client_users", value: "carol:pw", want: "carol:(password not shown)"},
		keyCase{name: "client_users rejects an entry without a password, without showing it", key: "client_users", value: "alice", err: `client_users: "(not shown)" is not "name:password"`},
		keyCase{name: "client_users rejects an empty name", key: "client_users", value: "':pw'", err: "has an empty user name"},
		keyCase{name: "client_users rejects a bad digest and does not show it", key: "client_users", value: "'dave:#abc'", err: `client_users: "dave:(not shown)" user "dave": a hashed password is # and 64 hex digits`},
		keyCase{name: "client_users leaves default to requirepass", key: "client_users", value: "default:pw", err: "set requirepass instead"},
		keyCase{name: "client_users rejects a user listed twice", key: "client_users", value: "\n  - eve:a\n  - eve:b", err: `user "eve" is listed twice`},
	)
	for _, key := range []string{"requirepass", "datastore_password", "stats_admin_token"} {
		cs = append(cs,
			keyCase{name: key + " takes a secret and does not print it", key: key, value: "s3cret", want: "(set, not shown)"},
			keyCase{name: key + " rejects an empty value", key: key, value: "''", err: key + ": has an empty value"},
		)
	}
	for _, key := range []string{"client_tls_cert_file", "client_tls_key_file", "client_tls_ca_file", "peer_tls_cert_file", "peer_tls_key_file", "peer_tls_ca_file"} {
		cs = append(cs,
			keyCase{name: key + " takes a path", key: key, value: "/etc/dynomite/x.pem", want: "/etc/dynomite/x.pem"},
			keyCase{name: key + " rejects an empty value", key: key, value: "''", err: key + ": has an empty value"},
		)
	}
	cs = append(cs,
		keyCase{name: "client_tls_listen takes host:port", key: "client_tls_listen", value: "127.0.0.1:8103", want: "127.0.0.1:8103"},
		keyCase{name: "client_tls_listen rejects a bad port", key: "client_tls_listen", value: "127.0.0.1:0", err: "invalid port"},
		keyCase{name: "max_client_connections takes a number", key: "max_client_connections", value: "10000", want: "10000"},
		keyCase{name: "max_client_connections 0 means unlimited", key: "max_client_connections", value: "0", want: "0 (unlimited)"},
		keyCase{name: "max_client_connections rejects a negative number", key: "max_client_connections", value: "-1", err: "is not a number"},
		keyCase{name: "max_request_bytes takes a number", key: "max_request_bytes", value: "1048576", want: "1048576"},
		keyCase{name: "max_request_bytes rejects a tiny limit", key: "max_request_bytes", value: "10", err: "is out of range 1024..1073741824"},
		keyCase{name: "max_inflight_requests takes a number", key: "max_inflight_requests", value: "16", want: "16"},
		keyCase{name: "max_inflight_requests rejects too many", key: "max_inflight_requests", value: "1000000", err: "is out of range 1..65536"},
		keyCase{name: "max_buffered_bytes takes a number", key: "max_buffered_bytes", value: "2000000000", want: "2000000000"},
		keyCase{name: "max_buffered_bytes rejects a tiny limit", key: "max_buffered_bytes", value: "1000", err: "is out of range"},
		keyCase{name: "client_idle_timeout takes ms", key: "client_idle_timeout", value: "300000", want: "300000"},
		keyCase{name: "client_idle_timeout rejects words", key: "client_idle_timeout", value: "forever", err: "is not a number"},
		keyCase{name: "client_read_timeout 0 means none", key: "client_read_timeout", value: "0", want: "0 (none)"},
		keyCase{name: "client_read_timeout rejects a negative number", key: "client_read_timeout", value: "-5", err: "is not a number"},
		keyCase{name: "pubsub_output_buffer_hard_limit takes bytes", key: "pubsub_output_buffer_hard_limit", value: "1048576", want: "1048576"},
		keyCase{name: "pubsub_output_buffer_hard_limit 0 is off", key: "pubsub_output_buffer_hard_limit", value: "0", want: "0 (off)"},
		keyCase{name: "pubsub_output_buffer_hard_limit rejects a word", key: "pubsub_output_buffer_hard_limit", value: "32mb", err: "is not a number"},
		keyCase{name: "pubsub_output_buffer_soft_limit 0 is off", key: "pubsub_output_buffer_soft_limit", value: "0", want: "0 (off)"},
		keyCase{name: "pubsub_output_buffer_soft_limit rejects more than 2 GiB", key: "pubsub_output_buffer_soft_limit", value: "2199023255552", err: "is too large"},
		keyCase{name: "pubsub_output_buffer_soft_seconds takes seconds", key: "pubsub_output_buffer_soft_seconds", value: "30", want: "30"},
		keyCase{name: "pubsub_output_buffer_soft_seconds rejects a negative number", key: "pubsub_output_buffer_soft_seconds", value: "-1", err: "is not a number"},
		keyCase{name: "dns_srv_timeout takes ms", key: "dns_srv_timeout", value: "500", want: "500"},
		keyCase{name: "dns_srv_timeout rejects words", key: "dns_srv_timeout", value: "soon", err: "is not a number"},
		keyCase{name: "ec2_peer_address takes public", key: "ec2_peer_address", value: "public", want: "public"},
		keyCase{name: "ec2_peer_address rejects others", key: "ec2_peer_address", value: "elastic", err: "is not one of [private public]"},
		keyCase{name: "ec2_peer_port takes a port", key: "ec2_peer_port", value: "8201", want: "8201"},
		keyCase{name: "ec2_peer_port rejects a port over 65535", key: "ec2_peer_port", value: "70000", err: "is out of range 1..65535"},
		keyCase{name: "gossip_listen takes host:port", key: "gossip_listen", value: "0.0.0.0:8103", want: "0.0.0.0:8103"},
		keyCase{name: "gossip_listen rejects a unix socket", key: "gossip_listen", value: "/tmp/gossip.sock", err: "unix socket path is only allowed for listen"},
		keyCase{name: "gossip_listen rejects a bad port", key: "gossip_listen", value: "127.0.0.1:0", err: "invalid port"},
		keyCase{name: "gossip_seeds takes one host:port", key: "gossip_seeds", value: "10.0.0.2:8103", want: "10.0.0.2:8103"},
		keyCase{name: "gossip_seeds takes a comma-separated list", key: "gossip_seeds", value: "'10.0.0.2:8103, node3.internal:8103,[::1]:9000'", want: "10.0.0.2:8103,node3.internal:8103,[::1]:9000"},
		keyCase{name: "gossip_seeds rejects an empty entry", key: "gossip_seeds", value: "'10.0.0.2:8103,,10.0.0.3:8103'", err: "has an empty entry"},
		keyCase{name: "gossip_seeds rejects an entry without a port", key: "gossip_seeds", value: "'10.0.0.2:8103,10.0.0.3'", err: `entry "10.0.0.3" is not "host:port"`},
		keyCase{name: "gossip_advertise takes host:port", key: "gossip_advertise", value: "203.0.113.7:8103", want: "203.0.113.7:8103"},
		keyCase{name: "gossip_advertise rejects a wildcard address", key: "gossip_advertise", value: "0.0.0.0:8103", err: "wildcard address"},
		keyCase{name: "gossip_advertise rejects a missing port", key: "gossip_advertise", value: "203.0.113.7", err: `is not "host:port"`},
		keyCase{name: "hints_dir takes a path", key: "hints_dir", value: "/var/lib/dynomite/hints", want: "/var/lib/dynomite/hints"},
		keyCase{name: "hints_dir rejects a list", key: "hints_dir", value: "[a, b]", err: "hints_dir"},
		keyCase{name: "hints_fsync takes always", key: "hints_fsync", value: "always", want: "always"},
		keyCase{name: "hints_fsync rejects others", key: "hints_fsync", value: "sometimes", err: "is not one of [always interval never]"},
		keyCase{name: "max_hint_window takes ms", key: "max_hint_window", value: "600000", want: "600000"},
		keyCase{name: "max_hint_window 0 means no limit", key: "max_hint_window", value: "0", want: "0 (no limit)"},
		keyCase{name: "max_hint_window rejects words", key: "max_hint_window", value: "3h", err: "is not a number"},
		keyCase{name: "max_hints_bytes takes a number", key: "max_hints_bytes", value: "104857600", want: "104857600"},
		keyCase{name: "max_hints_bytes rejects a tiny cap", key: "max_hints_bytes", value: "1000", err: "is out of range"},
		keyCase{name: "hint_replay_rate takes bytes a second", key: "hint_replay_rate", value: "1048576", want: "1048576"},
		keyCase{name: "hint_replay_rate rejects a tiny rate", key: "hint_replay_rate", value: "10", err: "is out of range"},
		keyCase{name: "repair_interval takes ms", key: "repair_interval", value: "86400000", want: "86400000"},
		keyCase{name: "repair_interval 0 means off", key: "repair_interval", value: "0", want: "0 (off)"},
		keyCase{name: "repair_interval rejects words", key: "repair_interval", value: "1d", err: "is not a number"},
		keyCase{name: "repair_preferred_dc takes a datacenter", key: "repair_preferred_dc", value: "us-east-1", want: "us-east-1"},
		keyCase{name: "repair_preferred_dc rejects a list", key: "repair_preferred_dc", value: "[a, b]", err: "repair_preferred_dc"},
		keyCase{name: "stream_keys_per_sec takes a rate", key: "stream_keys_per_sec", value: "5000", want: "5000"},
		keyCase{name: "stream_keys_per_sec 0 means no limit", key: "stream_keys_per_sec", value: "0", want: "0 (no limit)"},
		keyCase{name: "stream_keys_per_sec rejects a negative rate", key: "stream_keys_per_sec", value: "-1", err: "is not a number"},
		keyCase{name: "stream_bytes_per_sec takes a rate", key: "stream_bytes_per_sec", value: "10485760", want: "10485760"},
		keyCase{name: "stream_bytes_per_sec rejects a tiny rate", key: "stream_bytes_per_sec", value: "100", err: "is out of range"},
		keyCase{name: "peer_stats_port takes a port", key: "peer_stats_port", value: "22222", want: "22222"},
		keyCase{name: "peer_stats_port rejects a port out of range", key: "peer_stats_port", value: "70000", err: "is out of range"},
	)
	for _, key := range []string{"dns_srv_name", "dns_srv_resolver", "ec2_cluster_tag_value", "ec2_cluster_tag_key", "ec2_regions", "ec2_endpoint"} {
		cs = append(cs,
			keyCase{name: key + " takes a value", key: key, value: "x.example", want: "x.example"},
			keyCase{name: key + " rejects an empty value", key: key, value: "''", err: key + ": has an empty value"},
		)
	}
	return cs
}

func durationOf(t *testing.T, c *Config, key string) time.Duration {
	t.Helper()
	v, ok := keyIndex[key].val(c).(msVal)
	require.True(t, ok, "%s is not a duration", key)
	return *v.p
}

func TestEveryKeyAcceptsGoodValuesAndRejectsBadOnes(t *testing.T) {
	for _, tc := range keyCases() {
		t.Run(tc.name, func(t *testing.T) {
			src := fileWith(tc.key, tc.value)
			c, err := Parse([]byte(src), "node.yml")
			if tc.err != "" {
				require.Error(t, err, src)
				require.Contains(t, err.Error(), tc.err)
				var errs *Errors
				require.True(t, errors.As(err, &errs))
				found := false
				for _, p := range errs.Problems {
					if p.Key == tc.key {
						found = true
						require.GreaterOrEqual(t, p.Line, keyLine, "problem %q must point into the key's value", p)
					}
				}
				require.True(t, found, "no problem names %s: %v", tc.key, err)
				return
			}
			require.NoError(t, err, src)
			require.NoError(t, c.Validate())
			if tc.want != "" {
				require.Equal(t, tc.want, keyIndex[tc.key].val(c).String())
			}
			if tc.check != nil {
				tc.check(t, c)
			}
			if tc.warn != "" {
				require.Contains(t, strings.Join(c.Warnings, "\n"), fmt.Sprintf("node.yml:%d: ", keyLine))
				require.Contains(t, strings.Join(c.Warnings, "\n"), tc.warn)
			} else {
				require.Empty(t, c.Warnings)
			}
		})
	}
}

func TestEveryKeyHasPositiveAndNegativeCases(t *testing.T) {
	pos, neg := map[string]bool{}, map[string]bool{}
	for _, tc := range keyCases() {
		_, ok := keyIndex[tc.key]
		require.True(t, ok, "case %q tests an unknown key", tc.name)
		if tc.err != "" {
			neg[tc.key] = true
		} else {
			pos[tc.key] = true
		}
	}
	for _, k := range keys {
		require.True(t, pos[k.name], "no positive case for %s", k.name)
		require.True(t, neg[k.name], "no negative case for %s", k.name)
	}
}

func TestEveryKeyRejectsTheWrongShapes(t *testing.T) {
	for _, k := range keys {
		shapes := []struct{ what, value, err string }{
			{"an empty value", "", "has an empty value"},
			{"a quoted empty value", `""`, "has an empty value"},
			{"a mapping", "\n    a: b", "expects a value, not a mapping"},
			{"a flow list", "[a, b]", "uses flow style"},
			{"an anchor", "&x a", "uses an anchor (&x)"},
			{"a tag", "!!str a", "uses a tag (!!str)"},
		}
		if !k.seq {
			shapes = append(shapes, struct{ what, value, err string }{"a list", "\n  - a", "expects a single value, not a list"})
		}
		for _, s := range shapes {
			t.Run(k.name+" rejects "+s.what, func(t *testing.T) {
				_, err := Parse([]byte(fileWith(k.name, s.value)), "node.yml")
				require.Error(t, err)
				require.Contains(t, err.Error(), s.err)
				var errs *Errors
				require.True(t, errors.As(err, &errs))
				require.Len(t, errs.Problems, 1, err.Error())
				p := errs.Problems[0]
				require.Equal(t, k.name, p.Key)
				require.Contains(t, []int{keyLine, keyLine + 1}, p.Line, "the problem is on the key's line or its value's")
			})
		}
		t.Run(k.name+" rejects a duplicate", func(t *testing.T) {
			src := fileWith(k.name, "x") + "  " + k.name + ": y\n"
			last := strings.Count(src, "\n")
			_, err := Parse([]byte(src), "node.yml")
			require.Error(t, err)
			require.Contains(t, err.Error(), fmt.Sprintf("node.yml:%d: %s: is a duplicate (first set on line %d)", last, k.name, keyLine))
		})
	}
}

func TestDefaultsParse(t *testing.T) {
	for _, k := range keys {
		if k.def == "" {
			continue
		}
		c := &Config{}
		require.NoError(t, k.val(c).set(k.def), "default of %s", k.name)
		require.NoError(t, k.val(c).check(), "default of %s", k.name)
	}
}

func TestDefaultHoldsUpstreamsDefaults(t *testing.T) {
	c := Default()
	require.Equal(t, "dyn_o_mite", c.Pool)
	require.True(t, c.Listen.IsZero())
	require.True(t, c.DynListen.IsZero())
	require.Equal(t, Endpoint{Host: "0.0.0.0", Port: 22222}, c.StatsListen)
	require.Empty(t, c.Servers)
	require.Equal(t, msg.Redis, c.DataStore)
	require.Empty(t, c.Tokens)
	require.Equal(t, "localrack", c.Rack)
	require.Equal(t, "localdc", c.Datacenter)
	require.Empty(t, c.DynSeeds)
	require.Equal(t, "simple_provider", c.DynSeedProvider)
	require.Equal(t, HashMurmur, c.Hash)
	require.Equal(t, "", c.HashTag)
	require.Equal(t, consistency.DCOne, c.ReadConsistency)
	require.Equal(t, consistency.DCOne, c.WriteConsistency)
	require.False(t, c.ReadRepairsEnabled)
	require.Equal(t, SecureNone, c.SecureServerOption)
	require.Equal(t, "conf/dynomite.pem", c.PemKeyFile)
	require.Equal(t, "conf/recon_key.pem", c.ReconKeyFile)
	require.Equal(t, "conf/recon_iv.pem", c.ReconIVFile)
	require.Equal(t, 5*time.Second, c.Timeout)
	require.True(t, c.Preconnect)
	require.True(t, c.AutoEjectHosts)
	require.Equal(t, 10*time.Second, c.ServerRetryTimeout)
	require.Equal(t, 3, c.ServerFailureLimit)
	require.Equal(t, 512, c.Backlog)
	require.Equal(t, 0, c.ClientConnections)
	require.Equal(t, 1, c.DatastoreConnections)
	require.Equal(t, 1, c.LocalPeerConnections)
	require.Equal(t, 1, c.RemotePeerConnections)
	require.False(t, c.EnableGossip)
	require.Equal(t, 30*time.Second, c.GosInterval)
	require.Equal(t, 50000, c.ConnMsgRate)
	require.Equal(t, 30*time.Second, c.StatsInterval)
	require.Equal(t, 16384, c.MbufSize)
	require.Equal(t, 200000, c.MaxMsgs)
	require.Equal(t, "aws", c.Env)
	require.Equal(t, 10*time.Second, c.DynReadTimeout)
	require.Equal(t, 10*time.Second, c.DynWriteTimeout)
	require.Equal(t, 0, c.DynPort)
	require.Equal(t, 100, c.DynConnections)
	for _, k := range keys {
		require.False(t, c.IsSet(k.name), k.name)
	}
}
