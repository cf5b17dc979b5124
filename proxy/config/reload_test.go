package config

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A key added to the key table without a row in the reload table would be
// silently restart-only (or worse, silently ignored by a reload): every key
// must be classified, and the table must not name keys that do not exist.
func TestEveryKeyIsClassified(t *testing.T) {
	known := map[string]bool{}
	for i := range keys {
		name := keys[i].name
		known[name] = true
		c, ok := reloadTable[name]
		require.True(t, ok, "key %q has no row in reloadTable (proxy/config/reload.go): is it live or restart-only?", name)
		require.NotEmpty(t, c.how, "key %q: say when it takes effect or why it needs a restart", name)
	}
	for name := range reloadTable {
		require.True(t, known[name], "reloadTable names %q, which is not a key", name)
	}
}

func TestReloadClassOfPlacementKeys(t *testing.T) {
	for _, k := range []string{"listen", "dyn_listen", "stats_listen", "tokens", "hash", "hash_tag", "datacenter", "rack", "data_store"} {
		a, _ := ReloadClass(k)
		require.Equal(t, Restart, a, k)
	}
	for _, k := range []string{"read_consistency", "write_consistency", "timeout", "requirepass", "servers", "max_client_connections"} {
		a, _ := ReloadClass(k)
		require.Equal(t, Live, a, k)
	}
	a, how := ReloadClass("no_such_key")
	require.Equal(t, Restart, a)
	require.Equal(t, "unknown key", how)
}

func mustParse(t *testing.T, s string) *Config {
	t.Helper()
	c, err := Parse([]byte(s), "node.yml")
	require.NoError(t, err)
	return c
}

func TestDiffNamesChangedKeysWithValues(t *testing.T) {
	old := mustParse(t, fileWith("write_consistency", "DC_ONE"))
	same := mustParse(t, fileWith("write_consistency", "dc_one"))
	require.Empty(t, Diff(old, same), "the same effective value written differently is no change")

	changed := mustParse(t, fileWith("write_consistency", "DC_QUORUM"))
	d := Diff(old, changed)
	require.Equal(t, []Change{{Key: "write_consistency", Old: "DC_ONE", New: "DC_QUORUM", Apply: Live}}, d)
	require.Equal(t, "write_consistency: DC_ONE → DC_QUORUM", d[0].String())

	moved := mustParse(t, fileWith("listen", "127.0.0.1:9102"))
	d = Diff(old, moved)
	require.Len(t, d, 1)
	require.Equal(t, Change{Key: "listen", Old: "127.0.0.1:8102", New: "127.0.0.1:9102", Apply: Restart}, d[0])
}

func TestDiffSecretsAndLists(t *testing.T) {
	a := mustParse(t, fileWith("requirepass", "one"))
	b := mustParse(t, fileWith("requirepass", "two"))
	d := Diff(a, b)
	require.Len(t, d, 1)
	require.Equal(t, "requirepass: changed", d[0].String(), "a password never appears in a diff")
	require.NotContains(t, d[0].Old+d[0].New, "one")

	s1 := mustParse(t, fileWith("servers", "\n  - 127.0.0.1:6379:1"))
	s2 := mustParse(t, fileWith("servers", "\n  - 127.0.0.1:6380:1"))
	d = Diff(s1, s2)
	require.Equal(t, []Change{{Key: "servers", Old: "[127.0.0.1:6379:1]", New: "[127.0.0.1:6380:1]", Apply: Live}}, d)

	u1 := mustParse(t, fileWith("client_users", "\n  - app:secret"))
	u2 := mustParse(t, fileWith("client_users", "\n  - app:other"))
	d = Diff(u1, u2)
	require.Len(t, d, 1)
	require.Equal(t, "client_users: changed", d[0].String())
}

func TestDiffPoolName(t *testing.T) {
	a := mustParse(t, fileWith("rack", "r1"))
	b := mustParse(t, "other"+fileWith("rack", "r1")[len("dyn_o_mite"):])
	d := Diff(a, b)
	require.Equal(t, []Change{{Key: "pool", Old: "dyn_o_mite", New: "other", Apply: Restart}}, d)
}

// The README's reload table says which keys are live: it must agree with
// reloadTable.
func TestREADMEReloadTableAgrees(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	rows := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		for _, label := range []string{"live", "live, nothing to apply (parsed, not used)", "restart"} {
			if strings.HasPrefix(line, "| "+label+" | ") {
				rows[label] = line
			}
		}
	}
	require.Len(t, rows, 3, "README.md's reload table (Reloading the configuration)")
	for i := range keys {
		name := keys[i].name
		c := reloadTable[name]
		quoted := "`" + name + "`"
		switch {
		case c.apply == Restart:
			require.NotContains(t, rows["live"], quoted, "%s is restart-only", name)
			require.NotContains(t, rows["live, nothing to apply (parsed, not used)"], quoted, "%s is restart-only", name)
		case c.how == noEffect:
			require.Contains(t, rows["live, nothing to apply (parsed, not used)"], quoted, name)
		default:
			require.Contains(t, rows["live"], quoted, "%s is live", name)
			require.NotContains(t, rows["restart"], quoted, "%s is live", name)
		}
	}
}
