package atomicfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/atomicfile"
)

func TestWriteReplacesTheContentAndLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	require.NoError(t, atomicfile.Write(path, []byte("one"), 0o640))
	require.NoError(t, atomicfile.Write(path, []byte("two"), 0o640))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "two", string(b))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), st.Mode().Perm())
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, ents, 1, "only the file itself is left")
}

func TestWriteToAMissingDirectoryFailsAndChangesNothing(t *testing.T) {
	err := atomicfile.Write(filepath.Join(t.TempDir(), "no", "such", "state.json"), []byte("x"), 0o640)
	require.Error(t, err)
}
