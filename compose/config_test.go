// Package compose_test checks the node configurations of the local clusters:
// every compose/config/*.yml loads with proxy/config, and each compose file's
// nodes point at datastores and peers that exist in that file.
package compose_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/dynomite-go/dynomite/proxy/config"
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
			require.NotEmpty(t, c.DynSeeds, "a cluster node has peers")
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
				var peers []string
				for _, s := range c.DynSeeds {
					peer, ok := nodes[s.Host]
					require.True(t, ok, "%s: seed %s is a node of the file", name, s)
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
