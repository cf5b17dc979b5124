package composefiles_test

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
)

// composeDir is the repository's compose/, relative to this package.
const composeDir = "../../compose"

// localImagePrefix names the images `make images` builds (scripts/images.sh).
const localImagePrefix = "dynomite-local/"

const grafanaProfile = "grafana"

// port is one published port: the host port and the container port.
type port struct {
	published string
	target    uint32
}

// portVar is a variable that moves one published port.
type portVar struct {
	service string
	target  uint32
}

// composeFile is what one file of compose/ must hold, written out from the
// file (and compose/README.md, compose/cluster.sh) rather than derived, so
// that a change to the file has to change this table too.
type composeFile struct {
	name    string // in compose/
	project string // compose/cluster.sh's project(): dynomite, dynomite-<suffix>

	nodes      []string // dynomite services
	datastores []string // datastores[i] is the datastore of nodes[i]
	nodeDeps   []string // what every node waits for besides its datastore
	others     []string // the other services without any profile
	grafana    bool     // a grafana service under the grafana profile

	// images by default, per service (grafana included when it exists).
	images map[string]string
	// published ports by default, per service; a service not listed
	// publishes nothing.
	ports map[string][]port
	// portVars and imageVars: the variables of the file, with the services
	// they affect. otherVars: the file's remaining variables.
	portVars  map[string]portVar
	imageVars map[string][]string
	otherVars []string
}

// clusterProject is compose/cluster.sh's project(): the project name of a
// compose file.
func clusterProject(file string) string {
	b := strings.TrimSuffix(filepath.Base(file), ".yml")
	if b == "docker-compose" {
		return "dynomite"
	}
	if s, ok := strings.CutPrefix(b, "docker-compose."); ok {
		return "dynomite-" + s
	}
	return "dynomite-" + b
}

func oneDC(name, project, datastore, image string) composeFile {
	ds := func(r int) string { return fmt.Sprintf("%s-rack%d", datastore, r) }
	f := composeFile{
		name:       name,
		project:    project,
		nodes:      []string{"dynomite-rack1", "dynomite-rack2", "dynomite-rack3"},
		datastores: []string{ds(1), ds(2), ds(3)},
		others:     []string{"prometheus"},
		images: map[string]string{
			"dynomite-rack1": "dynomite-local/dynomite:latest",
			"dynomite-rack2": "dynomite-local/dynomite:latest",
			"dynomite-rack3": "dynomite-local/dynomite:latest",
			ds(1):            image,
			ds(2):            image,
			ds(3):            image,
			"prometheus":     "dynomite-local/prometheus:latest",
		},
		ports: map[string][]port{
			"dynomite-rack1": {{"8102", 8102}, {"22222", 22222}},
			"dynomite-rack2": {{"8112", 8102}, {"22232", 22222}},
			"dynomite-rack3": {{"8122", 8102}, {"22242", 22222}},
			"prometheus":     {{"9090", 9090}},
		},
		portVars: map[string]portVar{
			"RACK1_PORT":       {service: "dynomite-rack1", target: 8102},
			"RACK2_PORT":       {service: "dynomite-rack2", target: 8102},
			"RACK3_PORT":       {service: "dynomite-rack3", target: 8102},
			"RACK1_STATS_PORT": {service: "dynomite-rack1", target: 22222},
			"RACK2_STATS_PORT": {service: "dynomite-rack2", target: 22222},
			"RACK3_STATS_PORT": {service: "dynomite-rack3", target: 22222},
			"PROMETHEUS_PORT":  {service: "prometheus", target: 9090},
		},
		imageVars: map[string][]string{
			"DYNOMITE_IMAGE":   {"dynomite-rack1", "dynomite-rack2", "dynomite-rack3"},
			"PROMETHEUS_IMAGE": {"prometheus"},
		},
	}
	f.imageVars[strings.ToUpper(datastore)+"_IMAGE"] = f.datastores
	return f
}

func multiDC() composeFile {
	f := composeFile{
		name:     "docker-compose.multidc.yml",
		project:  "dynomite-multidc",
		nodeDeps: []string{"dns"},
		others:   []string{"dns", "prometheus"},
		grafana:  true,
		images: map[string]string{
			"dns":        "dynomite-local/dns:latest",
			"prometheus": "dynomite-local/prometheus:latest",
			"grafana":    "grafana/grafana:10.4.2",
		},
		ports: map[string][]port{
			"prometheus": {{"9090", 9090}},
			"grafana":    {{"3000", 3000}},
		},
		portVars: map[string]portVar{
			"PROMETHEUS_PORT": {service: "prometheus", target: 9090},
			"GRAFANA_PORT":    {service: "grafana", target: 3000},
		},
		imageVars: map[string][]string{
			"DNS_IMAGE":        {"dns"},
			"PROMETHEUS_IMAGE": {"prometheus"},
			"GRAFANA_IMAGE":    {"grafana"},
		},
		otherVars: []string{"MULTIDC_DNS_IP", "MULTIDC_SUBNET", "MULTIDC_IP_RANGE"},
	}
	published := 8102
	for dc := 1; dc <= 2; dc++ {
		for r := 1; r <= 3; r++ {
			node := fmt.Sprintf("dc%d-rack%d", dc, r)
			ds := "redis-" + node
			f.nodes = append(f.nodes, node)
			f.datastores = append(f.datastores, ds)
			f.images[node] = "dynomite-local/dynomite:latest"
			f.images[ds] = "dynomite-local/redis:latest"
			f.ports[node] = []port{{strconv.Itoa(published), 8102}}
			f.portVars[fmt.Sprintf("DC%d_RACK%d_PORT", dc, r)] = portVar{service: node, target: 8102}
			published += 10
		}
	}
	f.imageVars["DYNOMITE_IMAGE"] = f.nodes
	f.imageVars["REDIS_IMAGE"] = f.datastores
	return f
}

var files = []composeFile{
	oneDC("docker-compose.yml", "dynomite", "redis", "dynomite-local/redis:latest"),
	oneDC("docker-compose.memcached.yml", "dynomite-memcached", "memcached", "dynomite-local/memcached:latest"),
	multiDC(),
}

// services: the services of f with the profile on or off.
func (f composeFile) services(grafana bool) []string {
	s := slices.Concat(f.nodes, f.datastores, f.others)
	if grafana && f.grafana {
		s = append(s, "grafana")
	}
	sort.Strings(s)
	return s
}

// deps: what each service of f waits for (service_healthy), by name.
func (f composeFile) deps(grafana bool) map[string][]string {
	d := map[string][]string{}
	for i, n := range f.nodes {
		d[n] = append([]string{f.datastores[i]}, f.nodeDeps...)
		sort.Strings(d[n])
	}
	d["prometheus"] = slices.Sorted(slices.Values(f.nodes))
	if grafana && f.grafana {
		d["grafana"] = []string{"prometheus"}
	}
	return d
}

// variant is one way of loading a file: without profiles (what `make up`
// does) and with the grafana profile (what compose/cluster.sh `down` and
// `check` do on every file, and the README's Grafana command).
type variant struct {
	name     string
	profiles []string
}

var variants = []variant{{"no-profile", nil}, {"profile-grafana", []string{grafanaProfile}}}

func (v variant) grafana() bool { return slices.Contains(v.profiles, grafanaProfile) }

// load loads compose/<f.name> as `docker compose -p <project> -f FILE
// [--profile ...]` would, with exactly env as the environment: not the OS
// environment, not a .env file, so an unset variable takes the file's
// default whatever the shell running the test holds.
func load(t *testing.T, f composeFile, env map[string]string, profiles []string) *types.Project {
	t.Helper()
	var kv []string
	for k, v := range env {
		kv = append(kv, k+"="+v)
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(composeDir, f.name)},
		cli.WithName(f.project),
		cli.WithEnv(kv),
		cli.WithProfiles(profiles),
	)
	require.NoError(t, err)
	p, err := opts.LoadProject(t.Context())
	require.NoError(t, err, "compose-go loading %s (profiles %v, env %v)", f.name, profiles, env)
	return p
}

// forEach runs fn for every file and variant, as subtests FILE/VARIANT.
func forEach(t *testing.T, fn func(t *testing.T, f composeFile, v variant, p *types.Project)) {
	for _, f := range files {
		for _, v := range variants {
			t.Run(f.name+"/"+v.name, func(t *testing.T) {
				fn(t, f, v, load(t, f, nil, v.profiles))
			})
		}
	}
}

func publishedPorts(s types.ServiceConfig) []port {
	var ps []port
	for _, p := range s.Ports {
		ps = append(ps, port{p.Published, p.Target})
	}
	return ps
}

// TestComposeFilesCovered: the table above covers every compose file of
// compose/, so a new file cannot go unchecked.
func TestComposeFilesCovered(t *testing.T) {
	found, err := filepath.Glob(filepath.Join(composeDir, "docker-compose*.yml"))
	require.NoError(t, err)
	var names, want []string
	for _, f := range found {
		names = append(names, filepath.Base(f))
	}
	for _, f := range files {
		want = append(want, f.name)
	}
	sort.Strings(names)
	sort.Strings(want)
	require.Equal(t, want, names, "compose files in compose/ vs. the files this test knows")
}

// TestComposeProjectNames: the project name of each file is the one
// compose/cluster.sh gives it and the one the file's own header tells to use
// by hand (`docker-compose -p PROJECT -f compose/FILE`), and compose accepts it.
func TestComposeProjectNames(t *testing.T) {
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			require.Equal(t, clusterProject(f.name), f.project)
			b, err := os.ReadFile(filepath.Join(composeDir, f.name))
			require.NoError(t, err)
			require.Contains(t, string(b), "docker-compose -p "+f.project+" -f compose/"+f.name)
		})
	}
}

// TestComposeFilesLoad: every file loads with compose-go's schema validation,
// interpolation, normalization and consistency checks, under its project name,
// with exactly the expected services; grafana is defined in the multidc file
// but enabled only with its profile.
func TestComposeFilesLoad(t *testing.T) {
	forEach(t, func(t *testing.T, f composeFile, v variant, p *types.Project) {
		require.Equal(t, f.project, p.Name)
		require.Equal(t, f.services(v.grafana()), slices.Sorted(slices.Values(p.ServiceNames())))
		if f.grafana && !v.grafana() {
			require.Equal(t, []string{"grafana"}, p.DisabledServiceNames())
			require.Equal(t, []string{grafanaProfile}, []string(p.DisabledServices["grafana"].Profiles))
		} else {
			require.Empty(t, p.DisabledServiceNames())
		}
		for name, s := range p.Services {
			require.Nil(t, s.Build, "%s: builds an image; images come from `make images`", name)
			require.Equal(t, f.images[name], s.Image, "%s: default image", name)
		}
	})
}

// TestComposeHealthchecks: every service has its own healthcheck. None is a
// one-shot service: all are long-running (restart: unless-stopped), so
// there is no service_completed_successfully dependency to allow for, and
// every service can be waited for with service_healthy (compose/cluster.sh
// `up` waits until every container is healthy).
func TestComposeHealthchecks(t *testing.T) {
	forEach(t, func(t *testing.T, f composeFile, v variant, p *types.Project) {
		for name, s := range p.Services {
			require.Equal(t, "unless-stopped", s.Restart, "%s: restart policy", name)
			hc := s.HealthCheck
			require.NotNil(t, hc, "%s: no healthcheck", name)
			require.False(t, hc.Disable, "%s: healthcheck disabled", name)
			require.NotEmpty(t, hc.Test, "%s: healthcheck without a test", name)
			require.Contains(t, []string{"CMD", "CMD-SHELL"}, hc.Test[0], "%s: healthcheck test %v", name, hc.Test)
			require.Greater(t, len(hc.Test), 1, "%s: healthcheck test %v has no command", name, hc.Test)
			require.NotNil(t, hc.Interval, "%s: healthcheck interval", name)
			require.NotNil(t, hc.Timeout, "%s: healthcheck timeout", name)
			require.NotNil(t, hc.Retries, "%s: healthcheck retries", name)
			require.Positive(t, *hc.Retries, "%s: healthcheck retries", name)
		}
	})
}

// TestComposeDependsOn: every depends_on entry has a condition that waits for
// something (service_healthy, or service_completed_successfully for a
// one-shot service), is required, and names an enabled service of the
// project that can satisfy it; and the graph is the expected one: each node
// waits for its datastore (and, in multidc, dns), Prometheus for every node,
// Grafana for Prometheus.
func TestComposeDependsOn(t *testing.T) {
	forEach(t, func(t *testing.T, f composeFile, v variant, p *types.Project) {
		got := map[string][]string{}
		for name, s := range p.Services {
			for dep, d := range s.DependsOn {
				target, ok := p.Services[dep]
				require.True(t, ok, "%s depends on %q, which is not an enabled service", name, dep)
				require.True(t, d.Required, "%s: depends_on %s is not required", name, dep)
				switch d.Condition {
				case types.ServiceConditionHealthy:
					require.NotNil(t, target.HealthCheck, "%s waits for %s to be healthy, which has no healthcheck", name, dep)
				case types.ServiceConditionCompletedSuccessfully:
					require.Contains(t, []string{"", "no"}, target.Restart, "%s waits for %s to complete, which restarts", name, dep)
				default:
					require.Failf(t, "depends_on without a waiting condition", "%s: depends_on %s: condition %q", name, dep, d.Condition)
				}
				// Every dependency of these files is service_healthy.
				require.Equal(t, types.ServiceConditionHealthy, d.Condition, "%s: depends_on %s", name, dep)
				got[name] = append(got[name], dep)
			}
			sort.Strings(got[name])
			if len(got[name]) == 0 {
				delete(got, name)
			}
		}
		require.Equal(t, f.deps(v.grafana()), got)
	})
}

// TestComposePullPolicy: every locally built image (dynomite-local/*) is used
// with pull_policy: never, so that the local path never asks a registry; the
// only other image is Grafana's public one (README: "only for machines that
// can pull"), which sets no pull_policy and so gets compose's default
// (pull when missing).
func TestComposePullPolicy(t *testing.T) {
	forEach(t, func(t *testing.T, f composeFile, v variant, p *types.Project) {
		for name, s := range p.Services {
			if strings.HasPrefix(s.Image, localImagePrefix) {
				require.Equal(t, types.PullPolicyNever, s.PullPolicy, "%s: image %s", name, s.Image)
				continue
			}
			require.Equal(t, "grafana", name, "%s: image %s is not a local image", name, s.Image)
			require.True(t, f.grafana && v.grafana())
			require.Equal(t, "grafana/grafana:10.4.2", s.Image)
			require.Empty(t, s.PullPolicy, "grafana: pull_policy")
		}
	})
}

// TestComposePorts: every published port binds 127.0.0.1, with a fixed host
// port (the README's table), over TCP; no host port is published twice; the
// datastores and dns publish nothing.
func TestComposePorts(t *testing.T) {
	forEach(t, func(t *testing.T, f composeFile, v variant, p *types.Project) {
		hostPorts := map[string]string{}
		for name, s := range p.Services {
			for _, pc := range s.Ports {
				require.Equal(t, "127.0.0.1", pc.HostIP, "%s: port %s:%d is published on every interface", name, pc.Published, pc.Target)
				require.NotEmpty(t, pc.Published, "%s: port %d has a random host port", name, pc.Target)
				require.Equal(t, "tcp", pc.Protocol, "%s: port %d", name, pc.Target)
				prev, dup := hostPorts[pc.Published]
				require.False(t, dup, "host port %s published by %s and %s", pc.Published, prev, name)
				hostPorts[pc.Published] = name
			}
			require.Equal(t, f.ports[name], publishedPorts(s), "%s: published ports", name)
		}
	})
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`)

// TestComposeVariables: the variables the test knows are exactly those the
// file uses, each with a default (${VAR:-default}), so a file loads with an
// empty environment and a new variable cannot go unchecked.
func TestComposeVariables(t *testing.T) {
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(composeDir, f.name))
			require.NoError(t, err)
			used := map[string]bool{}
			for _, m := range varRef.FindAllSubmatch(b, -1) {
				used[string(m[1])] = true
			}
			want := slices.Clone(f.otherVars)
			for k := range f.portVars {
				want = append(want, k)
			}
			for k := range f.imageVars {
				want = append(want, k)
			}
			sort.Strings(want)
			require.Equal(t, want, slices.Sorted(maps.Keys(used)))
			for k := range used {
				require.Regexp(t, `\$\{`+k+`:-[^}]+\}`, string(b), "%s has no default", k)
			}
		})
	}
}

// TestComposeVariableOverrides: each port variable, set alone, moves exactly
// its port (still on 127.0.0.1) and no other; each image variable, set alone,
// replaces exactly its services' image and keeps their pull_policy. Loaded
// with the grafana profile so that Grafana's variables are covered.
func TestComposeVariableOverrides(t *testing.T) {
	profiles := []string{grafanaProfile}
	for _, f := range files {
		base := load(t, f, nil, profiles)
		for k, pv := range f.portVars {
			t.Run(f.name+"/"+k, func(t *testing.T) {
				const moved = "18999"
				p := load(t, f, map[string]string{k: moved}, profiles)
				for name, s := range p.Services {
					want := f.ports[name]
					if name == pv.service {
						want = slices.Clone(want)
						i := slices.IndexFunc(want, func(x port) bool { return x.target == pv.target })
						require.GreaterOrEqual(t, i, 0, "%s publishes no port %d", name, pv.target)
						want[i].published = moved
					}
					require.Equal(t, want, publishedPorts(s), "%s=%s: %s's ports", k, moved, name)
					for _, pc := range s.Ports {
						require.Equal(t, "127.0.0.1", pc.HostIP, "%s=%s: %s", k, moved, name)
					}
				}
			})
		}
		for k, services := range f.imageVars {
			t.Run(f.name+"/"+k, func(t *testing.T) {
				const image = "registry.example/override:1"
				p := load(t, f, map[string]string{k: image}, profiles)
				for name, s := range p.Services {
					want := f.images[name]
					if slices.Contains(services, name) {
						want = image
					}
					require.Equal(t, want, s.Image, "%s=%s: %s's image", k, image, name)
					require.Equal(t, base.Services[name].PullPolicy, s.PullPolicy, "%s=%s: %s's pull_policy", k, image, name)
				}
			})
		}
	}
}

// TestComposeIgnoresOSEnvironment: load passes no OS environment, so the
// defaults the other tests check are the files' own even when the shell
// running them sets the variables.
func TestComposeIgnoresOSEnvironment(t *testing.T) {
	t.Setenv("RACK1_PORT", "18999")
	t.Setenv("DYNOMITE_IMAGE", "registry.example/override:1")
	p := load(t, files[0], nil, nil)
	require.Equal(t, []port{{"8102", 8102}, {"22222", 22222}}, publishedPorts(p.Services["dynomite-rack1"]))
	require.Equal(t, "dynomite-local/dynomite:latest", p.Services["dynomite-rack1"].Image)
}

// TestComposeBindMounts: every bind mount's source exists in the checkout
// (docker would create a missing one as an empty directory) and is mounted
// read-only.
func TestComposeBindMounts(t *testing.T) {
	forEach(t, func(t *testing.T, f composeFile, v variant, p *types.Project) {
		for name, s := range p.Services {
			for _, vol := range s.Volumes {
				require.Equal(t, types.VolumeTypeBind, vol.Type, "%s: volume %s", name, vol.Target)
				src := vol.Source
				if !filepath.IsAbs(src) {
					src = filepath.Join(p.WorkingDir, src)
				}
				_, err := os.Stat(src)
				require.NoError(t, err, "%s: bind source of %s", name, vol.Target)
				require.True(t, vol.ReadOnly, "%s: %s is mounted read-write", name, vol.Target)
			}
		}
	})
}

// TestComposeMultiDCNetwork: in the multidc file, the dns service's fixed
// address is every node's resolver, lies in the network's subnet and outside
// the ip_range the other containers take addresses from, by default and when
// MULTIDC_SUBNET, MULTIDC_IP_RANGE and MULTIDC_DNS_IP are set together.
func TestComposeMultiDCNetwork(t *testing.T) {
	f := multiDC()
	for _, tc := range []struct {
		name                   string
		env                    map[string]string
		subnet, ipRange, dnsIP string
	}{
		{"defaults", nil, "172.29.53.0/24", "172.29.53.128/25", "172.29.53.53"},
		{"overridden", map[string]string{
			"MULTIDC_SUBNET":   "10.77.0.0/24",
			"MULTIDC_IP_RANGE": "10.77.0.128/25",
			"MULTIDC_DNS_IP":   "10.77.0.53",
		}, "10.77.0.0/24", "10.77.0.128/25", "10.77.0.53"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := load(t, f, tc.env, nil)
			nw, ok := p.Networks["default"]
			require.True(t, ok, "no default network")
			require.Len(t, nw.Ipam.Config, 1)
			pool := nw.Ipam.Config[0]
			require.Equal(t, tc.subnet, pool.Subnet)
			require.Equal(t, tc.ipRange, pool.IPRange)

			subnet := netip.MustParsePrefix(pool.Subnet)
			ipRange := netip.MustParsePrefix(pool.IPRange)
			require.True(t, subnet.Contains(ipRange.Addr()) && ipRange.Bits() >= subnet.Bits(), "ip_range %s outside subnet %s", ipRange, subnet)

			dns := p.Services["dns"].Networks["default"]
			require.NotNil(t, dns, "dns is not on the default network")
			require.Equal(t, tc.dnsIP, dns.Ipv4Address)
			addr := netip.MustParseAddr(dns.Ipv4Address)
			require.True(t, subnet.Contains(addr), "dns %s outside subnet %s", addr, subnet)
			require.False(t, ipRange.Contains(addr), "dns %s inside ip_range %s", addr, ipRange)

			for _, n := range f.nodes {
				require.Equal(t, []string{tc.dnsIP}, []string(p.Services[n].DNS), "%s: dns", n)
				require.Equal(t, "_dynomite.dynomite.local", *p.Services[n].Environment["DYNOMITE_DNS_NAME"], "%s: DYNOMITE_DNS_NAME", n)
			}
		})
	}
}
