// Package repo lets the tests of this module run in the directory of the
// repository they check (grafana/, terraform/, compose/), so that they read
// the committed files by the paths a reader sees there and their failures
// name those paths.
package repo

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// rootModule is the first line of the repository root's go.mod.
const rootModule = "module github.com/dynomite-go/dynomite\n"

// Root returns the repository root: the nearest directory above the
// working directory whose go.mod declares the dynomite module (this
// module's own go.mod, in tests/, declares another).
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte(rootModule)) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod starting with %q above the working directory", rootModule)
		}
		dir = parent
	}
}

// RunIn changes to dir (relative to the repository root) and runs the
// tests; a TestMain calls it as os.Exit(repo.RunIn(m, "grafana")). The
// change is made once, before any test runs, so no test sees another
// working directory.
func RunIn(m *testing.M, dir string) int {
	root, err := Root()
	if err == nil {
		err = os.Chdir(filepath.Join(root, dir))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "repo.RunIn(%q): %v\n", dir, err)
		return 1
	}
	return m.Run()
}
