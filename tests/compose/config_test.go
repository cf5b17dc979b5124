// Package compose_test checks the node configurations of the local clusters:
// every compose/config/*.yml loads with proxy/config, and each compose file's
// nodes point at datastores and peers that exist in that file.
package compose_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/seedprovider"
	"github.com/dynomite-go/dynomite/seedprovider/dnssrv"
)

func TestEveryNodeConfigurationLoads(t *testing.T) {
	files, err := filepath.Glob("config/*.yml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := config.Load(f)
			require.NoError(t, err)
			require.Empty(t, c.Warnings)
			if c.DynSeedProvider == "" || c.DynSeedProvider == "simple_provider" {
				require.NotEmpty(t, c.DynSeeds, "a cluster node has peers")
			} else {
				require.Equal(t, "dns_srv_provider", c.DynSeedProvider, "the compose clusters discover peers through the dns service")
				require.Empty(t, c.DynSeeds, "with a provider, dyn_seeds would be ignored")
			}
			require.Equal(t, "0.0.0.0:22222", c.StatsListen.String(), "Prometheus and the healthcheck use port 22222")
		})
	}
}

// composeFile is the part of a compose file this test reads.
type composeFile struct {
	Services map[string]struct {
		Image   string   `yaml:"image"`
		Volumes []string `yaml:"volumes"`
	} `yaml:"services"`
}

func TestEveryComposeFileWiresItsNodesTogether(t *testing.T) {
	files, err := filepath.Glob("docker-compose*.yml")
	require.NoError(t, err)
	require.Len(t, files, 3)
	used := map[string]bool{}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			var cf composeFile
			require.NoError(t, yaml.Unmarshal(data, &cf))

			nodes := map[string]*config.Config{} // service -> its configuration
			for name, s := range cf.Services {
				for _, v := range s.Volumes {
					src, dst, _ := strings.Cut(v, ":")
					if !strings.HasPrefix(dst, "/etc/dynomite/dynomite.yml") {
						continue
					}
					c, err := config.Load(src)
					require.NoError(t, err, "service %s", name)
					nodes[name] = c
					used[filepath.Clean(src)] = true
				}
			}
			require.NotEmpty(t, nodes)
			for name, c := range nodes {
				ds := c.Servers[0].Endpoint.String()
				host := ds[:strings.LastIndexByte(ds, ':')]
				require.Contains(t, cf.Services, host, "%s: servers names a service of the file", name)
				seeds := c.DynSeeds
				if c.DynSeedProvider == "dns_srv_provider" {
					seeds = dnsSeeds(t, c.DNSSRVName)
				}
				var peers []string
				for _, s := range seeds {
					if s.Host == name && c.DynSeedProvider != "" {
						// a provider's answer includes the node itself; it skips
						// the entry with its own dc, rack and tokens
						require.Equal(t, c.DynListen.Port, s.Port, "%s: its own record's port", name)
						require.Equal(t, c.Rack, s.Rack, "%s: its own record's rack", name)
						require.Equal(t, c.Datacenter, s.DC, "%s: its own record's datacenter", name)
						require.Equal(t, c.Tokens, s.Tokens, "%s: its own record's tokens", name)
						continue
					}
					peer, ok := nodes[s.Host]
					require.True(t, ok, "%s: seed %s is a node of the file", name, s)
					require.Equal(t, peer.DynListen.Port, s.Port, "%s: seed %s has its node's peer port", name, s)
					require.Equal(t, peer.Rack, s.Rack, "%s: seed %s has its node's rack", name, s)
					require.Equal(t, peer.Datacenter, s.DC, "%s: seed %s has its node's datacenter", name, s)
					require.Equal(t, peer.Tokens, s.Tokens, "%s: seed %s has its node's tokens", name, s)
					peers = append(peers, s.Host)
				}
				var others []string
				for n := range nodes {
					if n != name {
						others = append(others, n)
					}
				}
				slices.Sort(peers)
				slices.Sort(others)
				require.Equal(t, others, peers, "%s: every other node is a seed", name)
			}
		})
	}
	all, err := filepath.Glob("config/*.yml")
	require.NoError(t, err)
	for _, f := range all {
		require.True(t, used[filepath.Clean(f)], "%s is used by no compose file", f)
	}
}

func TestPrometheusScrapesEveryNode(t *testing.T) {
	for file, prom := range map[string]string{
		"docker-compose.yml":           "prometheus/prometheus.yml",
		"docker-compose.memcached.yml": "prometheus/prometheus.yml",
		"docker-compose.multidc.yml":   "prometheus/prometheus.multidc.yml",
	} {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		var cf composeFile
		require.NoError(t, yaml.Unmarshal(data, &cf))
		scrape, err := os.ReadFile(prom)
		require.NoError(t, err)
		for name, s := range cf.Services {
			if strings.Contains(s.Image, "DYNOMITE_IMAGE") {
				require.Contains(t, string(scrape), `"`+name+`:22222"`, "%s: %s scrapes node %s", file, prom, name)
			}
		}
	}
}

// dnsSeeds reads the dns service's records (dns/dynomite.conf, dnsmasq's
// srv-host and txt-record lines) and returns what dns_srv_provider makes
// of the SRV record name: a seed per target, its datacenter, rack and
// tokens parsed from the target's TXT record with the provider's parser.
// Upstream's TXT record (dns_provider) must list the same seeds.
func dnsSeeds(t *testing.T, name string) []config.Seed {
	t.Helper()
	data, err := os.ReadFile("dns/dynomite.conf")
	require.NoError(t, err)
	srv := map[string][][2]string{} // name -> (target, port)
	txt := map[string][]string{}    // name -> character-strings
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			f := strings.Split(v, ",")
			switch k {
			case "srv-host":
				require.GreaterOrEqual(t, len(f), 3, "srv-host line %q", line)
				srv[f[0]] = append(srv[f[0]], [2]string{f[1], f[2]})
			case "txt-record":
				for _, q := range f[1:] {
					txt[f[0]] = append(txt[f[0]], strings.Trim(q, `"`))
				}
			}
		}
	}
	require.NotEmpty(t, srv[name], "dns/dynomite.conf has no SRV record %s", name)
	var seeds []config.Seed
	for _, e := range srv[name] {
		n, err := dnssrv.ParseTXT(txt[e[0]])
		require.NoError(t, err, "TXT record of %s", e[0])
		port, err := strconv.Atoi(e[1])
		require.NoError(t, err)
		seeds = append(seeds, config.Seed{Host: e[0], Port: port, DC: n.DC, Rack: n.Rack, Tokens: n.Tokens})
	}
	// upstream's record: one TXT string of "host:port:rack:dc:tokens|..."
	// (its entries hold commas only between tokens, which the split above
	// cut: join them again)
	upstream, err := seedprovider.ParseList(strings.Join(txt["_dynomite.dynomite.local"], ","))
	require.NoError(t, err)
	key := func(s config.Seed) string { return fmt.Sprint(s.Host, s.Port, s.DC, s.Rack, s.Tokens) }
	var a, b []string
	for _, s := range seeds {
		a = append(a, key(s))
	}
	for _, s := range upstream {
		b = append(b, key(s))
	}
	slices.Sort(a)
	slices.Sort(b)
	require.Equal(t, a, b, "the TXT record of dns_provider lists the nodes the SRV record does")
	return seeds
}
