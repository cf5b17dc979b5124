package compose_test

import (
	"os"
	"testing"

	"github.com/dynomite-go/dynomite/tests/internal/repo"
)

// The tests read compose/ at the repository root (the committed files stay
// there; this module only holds the tests, see tests/README.md).
func TestMain(m *testing.M) { os.Exit(repo.RunIn(m, "compose")) }
