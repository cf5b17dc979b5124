package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// report is what `dynomite -t` would show for a file: the problems, or the
// warnings and the Describe output.
func report(t testing.TB, path string) string {
	t.Helper()
	c, err := Load(path)
	var b bytes.Buffer
	if err != nil {
		var errs *Errors
		require.True(t, errors.As(err, &errs), "Load must return *Errors, got %T", err)
		b.WriteString("invalid:\n" + err.Error() + "\n")
		return b.String()
	}
	b.WriteString("pool: " + c.Pool + "\n")
	for _, w := range c.Warnings {
		b.WriteString("warning: " + w + "\n")
	}
	b.WriteString("---\n")
	c.Describe(&b)
	return b.String()
}

func TestTestdataMatchesGoldenReports(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yml")
		t.Run(name, func(t *testing.T) {
			got := report(t, f)
			golden := filepath.Join("testdata", "golden", name+".golden")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -run TestTestdataMatchesGoldenReports -update")
			require.Equal(t, string(want), got)
			require.Equal(t, strings.HasPrefix(name, "bad_"), strings.HasPrefix(got, "invalid:"),
				"files named bad_* and only they must be rejected")
		})
	}
}
