package grafana_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	sdk "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/dynomite-go/dynomite/grafana"
	"github.com/dynomite-go/dynomite/proxy/metrics"
)

var update = flag.Bool("update", false, "rewrite dashboards/*.json from the generator")

func TestDashboardsUpToDate(t *testing.T) {
	files, err := grafana.Files()
	require.NoError(t, err)
	if *update {
		for name, b := range files {
			require.NoError(t, os.WriteFile(filepath.Join("dashboards", name), b, 0o644))
		}
	}
	onDisk, err := filepath.Glob("dashboards/*.json")
	require.NoError(t, err)
	require.Len(t, onDisk, len(files), "dashboards/ holds exactly the generated dashboards")
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("dashboards", name))
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "dashboards/%s is stale: cd tests && go test ./grafana -run UpToDate -update", name)
	}
}

// loadDashboards strictly decodes every committed dashboard: no unknown
// field in our model, nothing after the object, and Grafana's own schema
// (grafana-foundation-sdk, strict: unknown fields, missing required ones and
// wrong types are errors, panel options and queries included).
func loadDashboards(t *testing.T) map[string]*grafana.Dashboard {
	t.Helper()
	plugins.RegisterDefaultPlugins()
	paths, err := filepath.Glob("dashboards/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	out := map[string]*grafana.Dashboard{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		var d grafana.Dashboard
		require.NoError(t, dec.Decode(&d), p)
		require.False(t, dec.More(), "%s: data after the dashboard", p)
		var strict sdk.Dashboard
		require.NoError(t, strict.UnmarshalJSONStrict(raw), "%s does not match Grafana's dashboard schema", p)
		require.Equal(t, d.UID, *strict.Uid)
		out[filepath.Base(p)] = &d
	}
	return out
}

func TestDashboardsStrictLoad(t *testing.T) {
	uids := map[string]bool{}
	for name, d := range loadDashboards(t) {
		require.NotEmpty(t, d.UID, name)
		require.False(t, uids[d.UID], "duplicate uid %s", d.UID)
		uids[d.UID] = true
		require.Equal(t, 39, d.SchemaVersion, "Grafana 10.4's schema")
		vars := map[string]*grafana.Variable{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v
		}
		for _, v := range []string{"datasource", "datacenter", "rack", "instance"} {
			require.Contains(t, vars, v, "%s: template variable %s", name, v)
		}
		require.Equal(t, grafana.Datasource, vars["datasource"].Current["value"])
		ids := map[int]bool{}
		type cell struct{ x, y int }
		used := map[cell]string{}
		for _, p := range d.Panels {
			require.False(t, ids[p.ID], "%s: duplicate panel id %d", name, p.ID)
			ids[p.ID] = true
			g := p.GridPos
			require.True(t, g.X >= 0 && g.W > 0 && g.X+g.W <= 24 && g.H > 0, "%s: panel %q outside the grid", name, p.Title)
			for x := g.X; x < g.X+g.W; x++ {
				for y := g.Y; y < g.Y+g.H; y++ {
					require.Empty(t, used[cell{x, y}], "%s: panels %q and %q overlap", name, used[cell{x, y}], p.Title)
					used[cell{x, y}] = p.Title
				}
			}
			if p.Type == "row" {
				continue
			}
			require.NotEmpty(t, p.Targets, "%s: panel %q has no query", name, p.Title)
			require.Equal(t, "${datasource}", p.Datasource.UID, "%s: %q", name, p.Title)
			for _, tg := range p.Targets {
				require.Equal(t, "${datasource}", tg.Datasource.UID, "%s: %q", name, p.Title)
				require.NotEmpty(t, tg.RefID)
			}
		}
	}
}

// expand replaces Grafana's variables by what a query sees with "All"
// selected, and $__rate_interval by rateInterval.
func expand(expr, rateInterval string) string {
	r := strings.NewReplacer("$__rate_interval", rateInterval, "$datacenter", ".*", "$rack", ".*", "$instance", ".*", "$job", ".*")
	return r.Replace(expr)
}

var metricName = regexp.MustCompile(`\b((?:dynomite|go|process)_[a-z_]+)`)

func TestQueriesParseAndUseKnownMetrics(t *testing.T) {
	known := map[string]bool{}
	for _, i := range metrics.Catalog() {
		known[i.Name] = true
		if i.Type == metrics.Histogram {
			known[i.Name+"_bucket"] = true
		}
	}
	p := parser.NewParser(parser.Options{})
	n := 0
	for name, d := range loadDashboards(t) {
		for _, pn := range d.Panels {
			for _, tg := range pn.Targets {
				e := expand(tg.Expr, "5m")
				_, err := p.ParseExpr(e)
				require.NoError(t, err, "%s: panel %q: %s", name, pn.Title, e)
				for _, m := range metricName.FindAllString(e, -1) {
					if strings.HasPrefix(m, "dynomite_") {
						require.True(t, known[m], "%s: panel %q uses %s, not in metrics.Catalog", name, pn.Title, m)
					}
				}
				n++
			}
		}
	}
	t.Logf("%d queries parse", n)
}

// The provisioning files: a Prometheus data source with the uid the
// dashboards default to, and a file provider for the dashboards.
func TestProvisioning(t *testing.T) {
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
			IsDefault                    bool `yaml:"isDefault"`
		} `yaml:"datasources"`
	}
	b, err := os.ReadFile("provisioning/datasources/prometheus.yml")
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&ds))
	require.Equal(t, 1, ds.APIVersion)
	require.Len(t, ds.Datasources, 1)
	require.Equal(t, grafana.Datasource, ds.Datasources[0].UID)
	require.Equal(t, "prometheus", ds.Datasources[0].Type)
	require.NotEmpty(t, ds.Datasources[0].URL)

	var dp struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Folder, Type    string
			DisableDeletion       bool `yaml:"disableDeletion"`
			UpdateIntervalSeconds int  `yaml:"updateIntervalSeconds"`
			AllowUIUpdates        bool `yaml:"allowUiUpdates"`
			Options               struct {
				Path                      string
				FoldersFromFilesStructure bool `yaml:"foldersFromFilesStructure"`
			}
		} `yaml:"providers"`
	}
	b, err = os.ReadFile("provisioning/dashboards/dynomite.yml")
	require.NoError(t, err)
	dec = yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&dp))
	require.Equal(t, 1, dp.APIVersion)
	require.Len(t, dp.Providers, 1)
	require.Equal(t, "file", dp.Providers[0].Type)
	require.NotEmpty(t, dp.Providers[0].Options.Path)
}

// panelQueries lists every (dashboard, panel, expr) in a stable order.
type panelQuery struct{ dashboard, panel, ref, expr string }

func allQueries(t *testing.T) []panelQuery {
	var out []panelQuery
	for name, d := range loadDashboards(t) {
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				out = append(out, panelQuery{name, p.Title, tg.RefID, tg.Expr})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.dashboard+a.panel+a.ref < b.dashboard+b.panel+b.ref
	})
	return out
}
