package grafana_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/dynomite-go/dynomite/proxy/metrics/metricstest"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type ruleTests struct {
	RuleFiles          []string `yaml:"rule_files"`
	EvaluationInterval string   `yaml:"evaluation_interval"`
	Tests              []struct {
		Name          string `yaml:"name"`
		Interval      string `yaml:"interval"`
		InputSeries   []any  `yaml:"input_series"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, v), path)
}

// Every rule has a unit test in which it fires and one in which it does
// not; every expression parses.
func TestEveryRuleHasATest(t *testing.T) {
	var rules ruleFile
	readYAML(t, "alerts/dynomite.rules.yml", &rules)
	var tests ruleTests
	readYAML(t, "alerts/dynomite.rules.test.yml", &tests)
	require.Equal(t, []string{"dynomite.rules.yml"}, tests.RuleFiles)

	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	p := parser.NewParser(parser.Options{})
	var names []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert)
			_, err := p.ParseExpr(r.Expr)
			require.NoError(t, err, r.Alert)
			require.NotEmpty(t, r.Labels["severity"], r.Alert)
			require.NotEmpty(t, r.Annotations["summary"], r.Alert)
			require.True(t, fires[r.Alert], "no test where %s fires", r.Alert)
			require.True(t, silent[r.Alert], "no test where %s stays silent", r.Alert)
		}
	}
	require.ElementsMatch(t, []string{"DynomiteNodeDown", "DynomiteDatastoreDown", "DynomitePeerUnreachable",
		"DynomiteQuorumFailures", "DynomiteRemoteDrops", "DynomiteHighLatency", "DynomiteConfigReloadFailed", "DynomiteHintsDropped", "DynomiteHintsPilingUp", "DynomiteWarmUpFailing"}, names)
}

func promtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	bin := metricstest.NeedBinary(t, "promtool", "prometheus")
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool %v:\n%s", args, out)
	t.Logf("promtool %v:\n%s", args, out)
}

func TestPromtoolCheckRules(t *testing.T) {
	promtool(t, "alerts", "check", "rules", "dynomite.rules.yml")
}

func TestPromtoolTestRules(t *testing.T) {
	promtool(t, "alerts", "test", "rules", "dynomite.rules.test.yml")
}

func TestPromtoolCheckExampleConfig(t *testing.T) {
	abs, err := filepath.Abs(".")
	require.NoError(t, err)
	promtool(t, abs, "check", "config", "prometheus.yml")
}
