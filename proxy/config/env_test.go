package config

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

// fakeEnv is an environment for loadOrEnv.
type fakeEnv map[string]string

func (e fakeEnv) lookup(k string) (string, bool) { v, ok := e[k]; return v, ok }

func (e fakeEnv) environ() []string {
	out := make([]string, 0, len(e))
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

// missing is a configuration path that does not exist.
func missing(t testing.TB) string { return filepath.Join(t.TempDir(), "dynomite.yml") }

func loadEnv(t testing.TB, env fakeEnv) (*Config, error) {
	return loadOrEnv(missing(t), env.lookup, env.environ)
}

func describe(c *Config) string {
	var b bytes.Buffer
	c.Describe(&b)
	return b.String()
}

func TestEveryConfigKeyHasAVariable(t *testing.T) {
	keys, lists := configKeys()
	for _, k := range []string{"listen", "dyn_listen", "stats_listen", "servers", "data_store", "tokens", "rack",
		"datacenter", "dyn_seeds", "dyn_seed_provider", "read_consistency", "write_consistency", "timeout",
		"mbuf_size", "distribution", "server_connections"} {
		require.Contains(t, keys, k)
	}
	require.Equal(t, "listen", keys[0], "in the key table's order")
	require.True(t, lists["servers"])
	require.True(t, lists["dyn_seeds"])
	require.False(t, lists["tokens"], "tokens is one comma-separated value")
	require.False(t, lists["hash_tag"])

	// Every key set through its variable reaches Parse: its value comes back
	// in Describe, or Parse complains about that very key.
	for _, k := range keys {
		env := fakeEnv{"DYNOMITE_LISTEN": "127.0.0.1:8102", "DYNOMITE_SERVERS": "r:6379:1", envVar(k): "-x-"}
		if k == "listen" || k == "servers" {
			continue
		}
		c, err := loadEnv(t, env)
		if err != nil {
			require.Contains(t, err.Error(), "environment: "+envVar(k)+": ", k)
			continue
		}
		require.True(t, c.IsSet(k) || strings.Contains(strings.Join(c.Warnings, "\n"), envVar(k)), k)
	}
}

func TestLoadConfigFromEnvironment(t *testing.T) {
	tests := map[string]struct {
		env   fakeEnv
		check func(t *testing.T, c *Config)
	}{
		"a single node needs only the listener and the datastore": {
			env: fakeEnv{"DYNOMITE_LISTEN": "0.0.0.0:8102", "DYNOMITE_SERVERS": "redis:6379:1"},
			check: func(t *testing.T, c *Config) {
				require.Equal(t, "dyn_o_mite", c.Pool)
				require.Equal(t, "0.0.0.0:8102", c.Listen.String())
				require.Len(t, c.Servers, 1)
				require.Equal(t, "redis:6379:1", c.Servers[0].String())
				require.Equal(t, msg.Redis, c.DataStore)
				require.Equal(t, 5*time.Second, c.Timeout, "defaults apply as for a file")
			},
		},
		"a cluster node with comma-separated seeds": {
			env: fakeEnv{
				"DYNOMITE_POOL": "cache", "DYNOMITE_LISTEN": "0.0.0.0:8102", "DYNOMITE_DYN_LISTEN": "0.0.0.0:8101",
				"DYNOMITE_SERVERS": "127.0.0.1:11211:1", "DYNOMITE_DATA_STORE": "1", "DYNOMITE_TOKENS": "101",
				"DYNOMITE_RACK": "rack1", "DYNOMITE_DATACENTER": "dc1",
				"DYNOMITE_DYN_SEEDS":        "node2:8101:rack2:dc1:101, node3:8101:rack3:dc1:101",
				"DYNOMITE_READ_CONSISTENCY": "DC_QUORUM",
			},
			check: func(t *testing.T, c *Config) {
				require.Equal(t, "cache", c.Pool)
				require.Equal(t, msg.Memcache, c.DataStore)
				require.Equal(t, []uint32{101}, c.Tokens)
				require.Equal(t, "rack1", c.Rack)
				require.Len(t, c.DynSeeds, 2)
				require.Equal(t, "node2:8101:rack2:dc1:101", c.DynSeeds[0].String())
				require.Equal(t, "node3:8101:rack3:dc1:101", c.DynSeeds[1].String())
				require.Equal(t, "DC_QUORUM", c.ReadConsistency.String())
			},
		},
		"a bar separates seeds whose tokens hold commas": {
			env: fakeEnv{
				"DYNOMITE_LISTEN": "0.0.0.0:8102", "DYNOMITE_DYN_LISTEN": "0.0.0.0:8101", "DYNOMITE_SERVERS": "redis:6379:1",
				"DYNOMITE_TOKENS":    "1,2147483648",
				"DYNOMITE_DYN_SEEDS": "node2:8101:rack2:dc1:1,2147483648|node3:8101:rack3:dc1:1,2147483648 third",
			},
			check: func(t *testing.T, c *Config) {
				require.Equal(t, []uint32{1, 2147483648}, c.Tokens, "tokens stay one value")
				require.Len(t, c.DynSeeds, 2)
				require.Equal(t, []uint32{1, 2147483648}, c.DynSeeds[1].Tokens)
				require.Equal(t, "third", c.DynSeeds[1].Name)
			},
		},
		"an empty variable counts as unset": {
			env: fakeEnv{"DYNOMITE_LISTEN": "127.0.0.1:8102", "DYNOMITE_SERVERS": "r:6379:1", "DYNOMITE_DYN_SEEDS": "", "DYNOMITE_TIMEOUT": ""},
			check: func(t *testing.T, c *Config) {
				require.Empty(t, c.DynSeeds)
				require.Equal(t, 5*time.Second, c.Timeout)
			},
		},
		"values that YAML would read otherwise arrive as written": {
			env: fakeEnv{
				"DYNOMITE_LISTEN": "127.0.0.1:8102", "DYNOMITE_SERVERS": "r:6379:1",
				"DYNOMITE_HASH_TAG": "{}", "DYNOMITE_ENV": "it's: #not a comment", "DYNOMITE_RACK": "yes",
				"DYNOMITE_DATACENTER": "0x10",
			},
			check: func(t *testing.T, c *Config) {
				require.Equal(t, "{}", c.HashTag)
				require.Equal(t, "it's: #not a comment", c.Env)
				require.Equal(t, "yes", c.Rack)
				require.Equal(t, "0x10", c.Datacenter)
			},
		},
		"the first warning says where the configuration came from": {
			env: fakeEnv{"DYNOMITE_LISTEN": "127.0.0.1:8102", "DYNOMITE_SERVERS": "r:6379:1"},
			check: func(t *testing.T, c *Config) {
				require.NotEmpty(t, c.Warnings)
				require.Contains(t, c.Warnings[0], "environment: the configuration comes from DYNOMITE_LISTEN, DYNOMITE_SERVERS (")
				require.Contains(t, c.Warnings[0], "does not exist)")
			},
		},
		"warnings name the variable, not a line of the generated file": {
			env: fakeEnv{"DYNOMITE_LISTEN": "127.0.0.1:8102", "DYNOMITE_SERVERS": "r:6379:1", "DYNOMITE_DISTRIBUTION": "ketama"},
			check: func(t *testing.T, c *Config) {
				require.Contains(t, c.Warnings, "environment: DYNOMITE_DISTRIBUTION: is deprecated and ignored")
			},
		},
		"a misspelt variable is ignored with a suggestion": {
			env: fakeEnv{
				"DYNOMITE_LISTEN": "127.0.0.1:8102", "DYNOMITE_SERVERS": "r:6379:1",
				"DYNOMITE_DYN_LISTN": "0.0.0.0:8101", "DYNOMITE_IMAGE": "x", "DYNOMITE_DAEMONIZED": "1", "OTHER": "1",
			},
			check: func(t *testing.T, c *Config) {
				require.Contains(t, c.Warnings, "environment: DYNOMITE_DYN_LISTN is not a configuration variable and is ignored (did you mean DYNOMITE_DYN_LISTEN?)")
				require.Contains(t, c.Warnings, "environment: DYNOMITE_IMAGE is not a configuration variable and is ignored")
				require.True(t, c.DynListen.IsZero())
				for _, w := range c.Warnings {
					require.NotContains(t, w, "DAEMONIZED")
					require.NotContains(t, w, "OTHER")
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := loadEnv(t, tc.env)
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestLoadConfigFromEnvironmentReportsProblemsAsParseDoes(t *testing.T) {
	tests := map[string]struct {
		env  fakeEnv
		want []string // the error's lines
	}{
		"a missing required key": {
			env:  fakeEnv{"DYNOMITE_SERVERS": "r:6379:1"},
			want: []string{"environment: DYNOMITE_LISTEN: is missing (required)"},
		},
		"a bad value, and the datastore missing": {
			env: fakeEnv{"DYNOMITE_LISTEN": "127.0.0.1:8102", "DYNOMITE_TIMEOUT": "abc"},
			want: []string{
				`environment: DYNOMITE_TIMEOUT: "abc" is not a number`,
				`environment: DYNOMITE_SERVERS: is missing: pool "dyn_o_mite" has no datastore (required)`,
			},
		},
		"two datastores": {
			env:  fakeEnv{"DYNOMITE_LISTEN": "127.0.0.1:8102", "DYNOMITE_SERVERS": "a:1:1|b:1:1"},
			want: []string{"environment: DYNOMITE_SERVERS: has 2 entries: exactly one datastore is supported"},
		},
		"an empty list entry": {
			env:  fakeEnv{"DYNOMITE_LISTEN": "127.0.0.1:8102", "DYNOMITE_SERVERS": "a:1:1", "DYNOMITE_DYN_LISTEN": "0.0.0.0:8101", "DYNOMITE_TOKENS": "1", "DYNOMITE_DYN_SEEDS": "b:8101:r:d:1,,"},
			want: []string{"environment: DYNOMITE_DYN_SEEDS: has an empty value", "environment: DYNOMITE_DYN_SEEDS: has an empty value"},
		},
		"a line break in a value": {
			env:  fakeEnv{"DYNOMITE_LISTEN": "127.0.0.1:8102", "DYNOMITE_SERVERS": "a:1:1", "DYNOMITE_RACK": "r\n1"},
			want: []string{`environment: DYNOMITE_RACK: "r\n1" contains a line break or another control character`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := loadEnv(t, tc.env)
			require.Error(t, err)
			var perr *Errors
			require.ErrorAs(t, err, &perr)
			require.Equal(t, strings.Join(tc.want, "\n"), err.Error())
		})
	}
}

// A file and the variables that spell it out give the same configuration,
// and the same messages apart from the key's name and the line.
func TestEnvironmentMatchesTheEquivalentFile(t *testing.T) {
	file := `cache:
  listen: 0.0.0.0:8102
  dyn_listen: 0.0.0.0:8101
  stats_listen: 0.0.0.0:22222
  servers:
  - 127.0.0.1:22122:1
  data_store: 0
  tokens: '437425602'
  rack: rack1
  datacenter: dc1
  dyn_seeds:
  - node2:8101:rack2:dc1:437425602
  - node3:8101:rack3:dc1:437425602
  read_consistency: DC_QUORUM
  timeout: 2000
  server_failure_limit: 0
`
	env := fakeEnv{
		"DYNOMITE_POOL": "cache", "DYNOMITE_LISTEN": "0.0.0.0:8102", "DYNOMITE_DYN_LISTEN": "0.0.0.0:8101",
		"DYNOMITE_STATS_LISTEN": "0.0.0.0:22222", "DYNOMITE_SERVERS": "127.0.0.1:22122:1",
		"DYNOMITE_DATA_STORE": "0", "DYNOMITE_TOKENS": "437425602", "DYNOMITE_RACK": "rack1",
		"DYNOMITE_DATACENTER": "dc1", "DYNOMITE_DYN_SEEDS": "node2:8101:rack2:dc1:437425602,node3:8101:rack3:dc1:437425602",
		"DYNOMITE_READ_CONSISTENCY": "DC_QUORUM", "DYNOMITE_TIMEOUT": "2000", "DYNOMITE_SERVER_FAILURE_LIMIT": "0",
	}
	want, err := Parse([]byte(file), "node.yml")
	require.NoError(t, err)
	got, err := loadEnv(t, env)
	require.NoError(t, err)
	require.Equal(t, describe(want), describe(got))
	keys, _ := configKeys()
	for _, k := range keys {
		require.Equal(t, want.IsSet(k), got.IsSet(k), k)
	}

	bad := strings.Replace(file, "timeout: 2000", "timeout: 2s", 1)
	env["DYNOMITE_TIMEOUT"] = "2s"
	_, ferr := Parse([]byte(bad), "node.yml")
	_, eerr := loadEnv(t, env)
	var fp, ep *Errors
	require.ErrorAs(t, ferr, &fp)
	require.ErrorAs(t, eerr, &ep)
	require.Len(t, ep.Problems, len(fp.Problems))
	for i := range fp.Problems {
		require.Equal(t, fp.Problems[i].Msg, ep.Problems[i].Msg)
		require.Equal(t, fp.Problems[i].Value, ep.Problems[i].Value)
		require.Equal(t, envVar(fp.Problems[i].Key), ep.Problems[i].Key)
	}
}

func TestAnExistingFileWinsOverTheEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.yml")
	require.NoError(t, os.WriteFile(path, []byte("dyn_o_mite:\n  listen: 127.0.0.1:8102\n  servers:\n  - 127.0.0.1:22122:1\n"), 0o644))
	env := fakeEnv{"DYNOMITE_LISTEN": "0.0.0.0:9999", "DYNOMITE_RACK": "elsewhere"}
	c, err := loadOrEnv(path, env.lookup, env.environ)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8102", c.Listen.String())
	require.Equal(t, "localrack", c.Rack)
	require.Equal(t, []string{"environment: DYNOMITE_LISTEN, DYNOMITE_RACK set but ignored: the file " + path + " exists and wins"}, c.Warnings)
}

func TestWithoutFileOrEnvironmentLoadFailsAsConfigLoad(t *testing.T) {
	path := missing(t)
	_, want := Load(path)
	_, got := loadOrEnv(path, fakeEnv{"DYNOMITE_DAEMONIZED": "1", "DYNOMITE_LISTEN": ""}.lookup, fakeEnv{}.environ)
	require.Error(t, got)
	require.True(t, errors.Is(got, fs.ErrNotExist))
	require.Equal(t, want.Error(), got.Error())
}

func TestABadFileIsReportedEvenWithTheEnvironmentSet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.yml")
	require.NoError(t, os.WriteFile(path, []byte("dyn_o_mite:\n  listen: nowhere\n"), 0o644))
	env := fakeEnv{"DYNOMITE_LISTEN": "0.0.0.0:8102", "DYNOMITE_SERVERS": "r:6379:1"}
	_, want := Load(path)
	_, got := loadOrEnv(path, env.lookup, env.environ)
	require.Error(t, got)
	require.Equal(t, want.Error(), got.Error())
}

func TestLoadConfigReadsTheProcessEnvironment(t *testing.T) {
	t.Setenv("DYNOMITE_LISTEN", "127.0.0.1:8102")
	t.Setenv("DYNOMITE_SERVERS", "127.0.0.1:22122:1")
	c, err := LoadOrEnv(missing(t))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8102", c.Listen.String())
}
