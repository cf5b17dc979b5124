package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

const minimal = `dyn_o_mite:
  listen: 127.0.0.1:8102
  servers:
  - 127.0.0.1:6379:1
`

// problemsOf parses src and returns its problems, failing if it is valid.
func problemsOf(t *testing.T, src string) []Problem {
	t.Helper()
	c, err := Parse([]byte(src), "node.yml")
	require.Error(t, err)
	require.Nil(t, c)
	var errs *Errors
	require.True(t, errors.As(err, &errs), "got %T", err)
	require.Equal(t, "node.yml", errs.File)
	require.NotEmpty(t, errs.Problems)
	return errs.Problems
}

func TestParseMinimalFileGivesUpstreamDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal), "min.yml")
	require.NoError(t, err)
	require.Equal(t, "dyn_o_mite", c.Pool)
	require.Equal(t, Endpoint{Host: "127.0.0.1", Port: 8102}, c.Listen)
	require.Equal(t, []Server{{Endpoint: Endpoint{Host: "127.0.0.1", Port: 6379}, Weight: 1}}, c.Servers)
	require.True(t, c.IsSet("listen"))
	require.True(t, c.IsSet("servers"))
	require.False(t, c.IsSet("timeout"))
	require.False(t, c.IsSet("no_such_key"))
	require.Empty(t, c.Warnings)
	require.NoError(t, c.Validate())

	d := Default()
	d.Listen, d.Servers, d.set = c.Listen, c.Servers, c.set
	require.Equal(t, d, c, "a minimal file is Default plus listen and servers")
}

func TestFileStructure(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
		msg  string
	}{
		{"an empty file is rejected", "", 0, "is empty: expected one root key"},
		{"a file of comments is rejected", "# nothing\n# here\n", 0, "is empty"},
		{"a list at the root is rejected", "- a\n- b\n", 1, "must be a mapping with one root key"},
		{"a scalar at the root is rejected", "dyn_o_mite\n", 1, "must be a mapping with one root key"},
		{"a pool without settings is rejected", "dyn_o_mite:\n", 1, `pool "dyn_o_mite" has no settings`},
		{"a pool holding a value is rejected", "dyn_o_mite: 1\n", 1, `pool "dyn_o_mite" must hold a mapping of settings`},
		{"a pool holding a list is rejected", "dyn_o_mite:\n  - listen\n", 2, "must hold a mapping of settings"},
		{"a second root key is rejected", minimal + "other:\n  listen: 127.0.0.1:1\n", 5, `a second root key "other": the file must hold exactly one pool, "dyn_o_mite"`},
		{"a second document is rejected", minimal + "---\nx: 1\n", 6, "a second YAML document"},
		{"a flow mapping at the root is rejected", "{dyn_o_mite: {listen: 127.0.0.1:1}}\n", 1, "uses flow style"},
		{"an anchored pool is rejected", "dyn_o_mite: &p\n  listen: 127.0.0.1:1\n", 1, "uses an anchor (&p)"},
		{"a tagged root is rejected", "!!map\ndyn_o_mite:\n  listen: 127.0.0.1:1\n", 1, "uses a tag (!!map)"},
		{"a list as pool name is rejected", "? - a\n: b\n", 1, "the root key must be the pool name"},
		{"an empty pool name is rejected", "'':\n  listen: 127.0.0.1:1\n", 1, "the root key must be the pool name"},
		{"an empty key is rejected", "dyn_o_mite:\n  '': x\n", 2, "a key is empty"},
		{"a complex key is rejected", "dyn_o_mite:\n  ? - a\n  : b\n", 2, "a key must be a plain name"},
		{"an unknown key is rejected with a suggestion", "dyn_o_mite:\n  listn: 127.0.0.1:1\n", 2, `listn: is an unknown key (did you mean "listen"?)`},
		{"an unknown key far from any known one gets no suggestion", "dyn_o_mite:\n  zzzqqq: secret\n", 2, "zzzqqq: is an unknown key"},
		{"a merge key is an unknown key", "dyn_o_mite:\n  <<: x\n", 2, "<<: is an unknown key"},
		{"a tab in the indentation is reported on its line", "dyn_o_mite:\n  listen: 127.0.0.1:1\n  servers:\n  - a\n\ttimeout: 5\n", 5, "invalid YAML: found a tab character"},
		{"an unterminated quote is a YAML error", "dyn_o_mite:\n  listen: \"abc\n", 2, "invalid YAML"},
		{"bad indentation is a YAML error", "dyn_o_mite:\n  listen: a\n   timeout: 5\n", 3, "invalid YAML: mapping values are not allowed"},
		{"a control character is a YAML error", "dyn_o_mite:\n  listen: \x01\n", 0, "invalid YAML: control characters are not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := problemsOf(t, tc.src)
			require.Equal(t, tc.line, ps[0].Line, "%v", ps)
			require.Contains(t, ps[0].String(), tc.msg)
		})
	}
}

func TestUpstreamYAMLQuirksStillLoad(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, c *Config)
	}{
		{"a space before the colon is allowed", "dyn_o_mite:\n  listen : 127.0.0.1:8102\n  servers :\n  - 127.0.0.1:6379:1\n  read_consistency : DC_QUORUM\n",
			func(t *testing.T, c *Config) { require.Equal(t, consistency.DCQuorum, c.ReadConsistency) }},
		{"trailing spaces after a seed are ignored", minimal + "  dyn_listen: 127.0.0.1:8101\n  tokens: 1\n  dyn_seeds:\n  - 127.0.0.3:8101:rack1:dc2:12345678 \n",
			func(t *testing.T, c *Config) { require.Equal(t, "dc2", c.DynSeeds[0].DC) }},
		{"an indented list is allowed", "dyn_o_mite:\n  listen: 127.0.0.1:8102\n  servers:\n    - 127.0.0.1:6379:1\n",
			func(t *testing.T, c *Config) { require.Len(t, c.Servers, 1) }},
		{"any pool name is allowed", "my pool:\n  listen: 127.0.0.1:8102\n  servers:\n  - 127.0.0.1:6379:1\n",
			func(t *testing.T, c *Config) { require.Equal(t, "my pool", c.Pool) }},
		{"a quoted key is allowed", "dyn_o_mite:\n  \"listen\": 127.0.0.1:8102\n  'servers':\n  - 127.0.0.1:6379:1\n",
			func(t *testing.T, c *Config) { require.True(t, c.IsSet("listen")) }},
		{"CRLF line ends are allowed", strings.ReplaceAll(minimal, "\n", "\r\n"),
			func(t *testing.T, c *Config) { require.Equal(t, 8102, c.Listen.Port) }},
		{"a byte order mark is allowed", "\ufeff" + minimal,
			func(t *testing.T, c *Config) { require.Equal(t, "dyn_o_mite", c.Pool) }},
		{"one document with explicit markers is allowed", "---\n" + minimal + "...\n",
			func(t *testing.T, c *Config) { require.Equal(t, "dyn_o_mite", c.Pool) }},
		{"an empty second document is allowed", minimal + "---\n",
			func(t *testing.T, c *Config) { require.Equal(t, "dyn_o_mite", c.Pool) }},
		{"0 keeps mbuf_size and max_msgs unset, so the flags apply", minimal + "  mbuf_size: 0\n  max_msgs: 0\n",
			func(t *testing.T, c *Config) {
				require.False(t, c.IsSet("mbuf_size"))
				require.False(t, c.IsSet("max_msgs"))
				require.Equal(t, 16384, c.MbufSize)
			}},
		{"a set mbuf_size wins over the flag", minimal + "  mbuf_size: 32768\n",
			func(t *testing.T, c *Config) { require.True(t, c.IsSet("mbuf_size")) }},
		{"preconnect false is honoured, not replaced by the default", minimal + "  preconnect: false\n  auto_eject_hosts: false\n",
			func(t *testing.T, c *Config) {
				require.False(t, c.Preconnect)
				require.False(t, c.AutoEjectHosts)
				require.True(t, c.IsSet("preconnect"))
			}},
		{"read repair with both levels above DC_ONE gives no warning", minimal + "  read_repairs_enabled: true\n  read_consistency: DC_QUORUM\n  write_consistency: DC_SAFE_QUORUM\n",
			func(t *testing.T, c *Config) { require.Empty(t, c.Warnings) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.src), "node.yml")
			require.NoError(t, err)
			require.NoError(t, c.Validate())
			tc.check(t, c)
		})
	}
}

func TestParseReportsEveryProblemInOrder(t *testing.T) {
	src := `dyn_o_mite:
  listen: 127.0.0.1:99999
  timeout: abc
  timeout: 6000
  preconnect: yes
  servers:
  - 127.0.0.1:6379:1
  - 127.0.0.1:6380:1
  dyn_seeds:
  - 127.0.0.2:8101:rack2:dc:1
  - bad
  frobnicate: 1
`
	ps := problemsOf(t, src)
	got := make([]string, len(ps))
	for i, p := range ps {
		got[i] = p.format("node.yml")
	}
	require.Equal(t, []string{
		`node.yml:2: listen: "127.0.0.1:99999" has an invalid port 99999 (want 1..65535)`,
		`node.yml:3: timeout: "abc" is not a number`,
		`node.yml:4: timeout: is a duplicate (first set on line 3)`,
		`node.yml:5: preconnect: "yes" is not "true" or "false"`,
		`node.yml:6: servers: has 2 entries: exactly one datastore is supported`,
		`node.yml:11: dyn_seeds: "bad" must be "host:port:rack:dc:tokens [name]"`,
		`node.yml:12: frobnicate: is an unknown key`,
		`node.yml: dyn_listen: is missing: it is required when dyn_seeds or a seed provider is configured`,
		`node.yml: tokens: is missing: it is required when dyn_seeds or a seed provider is configured`,
	}, got)
}

func TestValidate(t *testing.T) {
	valid := func() *Config {
		c := Default()
		c.Listen = Endpoint{Host: "0.0.0.0", Port: 8102}
		c.Servers = []Server{{Endpoint: Endpoint{Host: "127.0.0.1", Port: 6379}, Weight: 1}}
		return c
	}
	tests := []struct {
		name   string
		change func(c *Config)
		key    string
		msg    string
	}{
		{"a config with listen and servers is valid", func(*Config) {}, "", ""},
		{"a peer node with dyn_listen and tokens is valid", func(c *Config) {
			c.DynListen = Endpoint{Host: "10.0.0.1", Port: 8101}
			c.Tokens = []uint32{1}
			c.DynSeeds = []Seed{{Host: "10.0.0.2", Port: 8101, Rack: "r2", DC: "dc", Tokens: []uint32{1}}}
		}, "", ""},
		{"Default alone lacks listen", func(c *Config) { c.Listen = Endpoint{} }, "listen", "is missing (required)"},
		{"Default alone lacks servers", func(c *Config) { c.Servers = nil }, "servers", `pool "dyn_o_mite" has no datastore`},
		{"two servers are rejected", func(c *Config) { c.Servers = append(c.Servers, c.Servers[0]) }, "servers", "exactly one datastore"},
		{"a bad server is rejected", func(c *Config) { c.Servers[0].Port = 0 }, "servers", `"127.0.0.1:0:1" has an invalid port 0`},
		{"a server with a negative weight is rejected", func(c *Config) { c.Servers[0].Weight = -1 }, "servers", "negative weight"},
		{"an empty pool name is rejected", func(c *Config) { c.Pool = "" }, "", "the pool name (the root key) is empty"},
		{"a relative unix path is rejected", func(c *Config) { c.Listen = Endpoint{Path: "dyn.sock"} }, "listen", "is not a valid unix socket path"},
		{"a unix stats listener is rejected", func(c *Config) { c.StatsListen = Endpoint{Path: "/s.sock"} }, "stats_listen", "only allowed for listen"},
		{"a missing stats listener is rejected", func(c *Config) { c.StatsListen = Endpoint{} }, "stats_listen", "is missing"},
		{"a bad listen host is rejected", func(c *Config) { c.Listen.Host = "a b" }, "listen", "invalid host name"},
		{"seeds without dyn_listen are rejected", func(c *Config) {
			c.Tokens = []uint32{1}
			c.DynSeeds = []Seed{{Host: "10.0.0.2", Port: 8101, Rack: "r", DC: "d", Tokens: []uint32{1}}}
		}, "dyn_listen", "required when dyn_seeds or a seed provider is configured"},
		{"a seed provider without tokens is rejected", func(c *Config) {
			c.DynListen = Endpoint{Host: "10.0.0.1", Port: 8101}
			c.DynSeedProvider = "florida_provider"
		}, "tokens", "required when dyn_seeds or a seed provider is configured"},
		{"a seed without token is rejected", func(c *Config) {
			c.DynListen, c.Tokens = Endpoint{Host: "10.0.0.1", Port: 8101}, []uint32{1}
			c.DynSeeds = []Seed{{Host: "10.0.0.2", Port: 8101, Rack: "r", DC: "d"}}
		}, "dyn_seeds", "has no token"},
		{"a seed rack with a colon is rejected", func(c *Config) {
			c.DynListen, c.Tokens = Endpoint{Host: "10.0.0.1", Port: 8101}, []uint32{1}
			c.DynSeeds = []Seed{{Host: "10.0.0.2", Port: 8101, Rack: "r:1", DC: "d", Tokens: []uint32{1}}}
		}, "dyn_seeds", `invalid rack "r:1"`},
		{"the same address for two listeners is rejected", func(c *Config) { c.StatsListen = c.Listen }, "stats_listen", "is the same address as listen"},
		{"an unknown data store is rejected", func(c *Config) { c.DataStore = 7 }, "data_store", "must be 0 (redis) or 1 (memcache)"},
		{"an unknown hash is rejected", func(c *Config) { c.Hash = 99 }, "hash", "is not a valid hash"},
		{"a one-character hash tag is rejected", func(c *Config) { c.HashTag = "{" }, "hash_tag", "two characters"},
		{"an unknown consistency is rejected", func(c *Config) { c.WriteConsistency = 9 }, "write_consistency", "must be one of"},
		{"an unknown secure option is rejected", func(c *Config) { c.SecureServerOption = 9 }, "secure_server_option", "must be one of"},
		{"an unknown seed provider is rejected", func(c *Config) {
			c.DynListen, c.Tokens = Endpoint{Host: "10.0.0.1", Port: 8101}, []uint32{1}
			c.DynSeedProvider = "x"
		}, "dyn_seed_provider", "is not a known seed provider"},
		{"an empty rack is rejected", func(c *Config) { c.Rack = "" }, "rack", "is empty"},
		{"an empty env is rejected", func(c *Config) { c.Env = "" }, "env", "is empty"},
		{"a zero timeout is rejected", func(c *Config) { c.Timeout = 0 }, "timeout", "is out of range 1..2147483647"},
		{"a sub-millisecond timeout is rejected", func(c *Config) { c.Timeout = time.Microsecond }, "timeout", "a whole number of ms"},
		{"a zero backlog is rejected", func(c *Config) { c.Backlog = 0 }, "backlog", "is out of range 1..2147483647"},
		{"256 datastore connections are rejected", func(c *Config) { c.DatastoreConnections = 256 }, "datastore_connections", "is out of range 1..255"},
		{"an odd mbuf size is rejected", func(c *Config) { c.MbufSize = 1001 }, "mbuf_size", "is not a multiple of 16"},
		{"too few messages are rejected", func(c *Config) { c.MaxMsgs = 10 }, "max_msgs", "is out of range 100000..1000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.change(c)
			err := c.Validate()
			if tc.msg == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			var errs *Errors
			require.True(t, errors.As(err, &errs))
			require.Empty(t, errs.File)
			require.Len(t, errs.Problems, 1, err.Error())
			require.Equal(t, tc.key, errs.Problems[0].Key)
			require.Zero(t, errs.Problems[0].Line)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestProblemFormatting(t *testing.T) {
	p := Problem{Line: 7, Key: "timeout", Value: "abc", Msg: "is not a number"}
	require.Equal(t, `line 7: timeout: "abc" is not a number`, p.String())
	require.Equal(t, `node.yml:7: timeout: "abc" is not a number`, p.format("node.yml"))
	require.Equal(t, `node.yml: listen: is missing (required)`, Problem{Key: "listen", Msg: "is missing (required)"}.format("node.yml"))
	require.Equal(t, `is empty`, Problem{Msg: "is empty"}.String())

	e := &Errors{File: "node.yml", Problems: []Problem{p, {Key: "listen", Msg: "is missing (required)"}}}
	require.Equal(t, "node.yml:7: timeout: \"abc\" is not a number\nnode.yml: listen: is missing (required)", e.Error())
}

func TestLoad(t *testing.T) {
	t.Run("a missing file gives the wrapped os error", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "nope.yml"))
		require.ErrorIs(t, err, fs.ErrNotExist)
	})
	t.Run("a file's problems carry its path", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "node.yml")
		require.NoError(t, os.WriteFile(path, []byte("dyn_o_mite:\n  timeout: x\n"), 0o600))
		_, err := Load(path)
		require.ErrorContains(t, err, path+`:2: timeout: "x" is not a number`)
	})
	t.Run("a good file loads", func(t *testing.T) {
		c, err := Load("testdata/cluster_rack1.yml")
		require.NoError(t, err)
		require.Equal(t, "rack1", c.Rack)
		require.Len(t, c.DynSeeds, 2)
		require.Equal(t, consistency.DCQuorum, c.WriteConsistency)
	})
}

func TestEveryKeyFileSetsEveryKey(t *testing.T) {
	c, err := Load("testdata/every_key.yml")
	require.NoError(t, err)
	for _, k := range keys {
		if k.name == "data_store" || k.val(c).String() == "(deprecated, ignored)" {
			continue // data_store: 0 and the deprecated keys are asserted below
		}
		require.True(t, c.IsSet(k.name), "every_key.yml does not set %s", k.name)
		def := Default()
		if k.def != "" {
			require.NotEqual(t, k.val(def).String(), k.val(c).String(), "every_key.yml sets %s to its default", k.name)
		}
	}
	require.True(t, c.IsSet("data_store"))
	require.True(t, c.IsSet("distribution"))
	require.True(t, c.IsSet("server_connections"))
	require.Equal(t, HashFNV1a64, c.Hash)
	require.Equal(t, 20*time.Second, c.Timeout)
	require.Equal(t, 25*time.Second, c.DynWriteTimeout)
	require.Equal(t, []uint32{12345678, 4000000000}, c.DynSeeds[1].Tokens)
	require.Equal(t, "node3", c.DynSeeds[1].Name)
	require.Equal(t, "redis-local", c.Servers[0].StatsName())
}

func TestExportedParsers(t *testing.T) {
	t.Run("ParseSeed reads a florida answer entry", func(t *testing.T) {
		s, err := ParseSeed("10.0.0.2:8101:rack2:us-east-1:1383429731")
		require.NoError(t, err)
		require.Equal(t, Seed{Host: "10.0.0.2", Port: 8101, Rack: "rack2", DC: "us-east-1", Tokens: []uint32{1383429731}}, s)
	})
	t.Run("ParseSeed rejects a bad entry", func(t *testing.T) {
		_, err := ParseSeed("10.0.0.2:8101")
		require.ErrorContains(t, err, `must be "host:port:rack:dc:tokens [name]"`)
	})
	t.Run("ParseTokens reads several tokens", func(t *testing.T) {
		tok, err := ParseTokens("0, 4294967295")
		require.NoError(t, err)
		require.Equal(t, []uint32{0, 4294967295}, tok)
	})
	t.Run("ParseHash is case-sensitive", func(t *testing.T) {
		h, err := ParseHash("crc32a")
		require.NoError(t, err)
		require.Equal(t, HashCRC32a, h)
		_, err = ParseHash("CRC32A")
		require.Error(t, err)
	})
	t.Run("enum names round-trip", func(t *testing.T) {
		for _, n := range hashNames {
			h, err := ParseHash(n.h.String())
			require.NoError(t, err)
			require.Equal(t, n.h, h)
		}
		for o := SecureNone; o <= SecureAll; o++ {
			got, err := parseSecureOption(o.String())
			require.NoError(t, err)
			require.Equal(t, o, got)
		}
		require.Equal(t, "Hash(99)", Hash(99).String())
		require.Equal(t, "SecureOption(9)", SecureOption(9).String())
		require.Equal(t, "Proto(9)", msg.Proto(9).String())
	})
	t.Run("Endpoint renders for net.Listen", func(t *testing.T) {
		require.Equal(t, "[fe80::1%eth0]:8101", Endpoint{Host: "fe80::1%eth0", Port: 8101}.String())
		require.Equal(t, "tcp", Endpoint{Host: "h", Port: 1}.Network())
		require.Equal(t, "", Endpoint{}.String())
	})
}

func TestDescribeListsEveryKeyInTableOrder(t *testing.T) {
	c, err := Parse([]byte(minimal), "node.yml")
	require.NoError(t, err)
	var b strings.Builder
	c.Describe(&b)
	var names []string
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if strings.HasPrefix(line, "  - ") {
			continue
		}
		name, _, ok := strings.Cut(line, ":")
		require.True(t, ok, line)
		names = append(names, name)
	}
	want := make([]string, len(keys))
	for i, k := range keys {
		want[i] = k.name
	}
	require.Equal(t, want, names)
	require.Contains(t, b.String(), "servers:\n  - 127.0.0.1:6379:1\n")
	require.Contains(t, b.String(), "dyn_seeds: []\n")
}
