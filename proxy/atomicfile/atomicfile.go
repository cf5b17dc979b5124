// Package atomicfile writes a file so that a crash leaves either its old or
// its new content, never a torn one: the new content goes to a temporary
// file in the same directory, which is synced and renamed over the old
// one, and the directory is synced so that the rename itself is durable
// (rename(2) is atomic within a file system; the directory's fsync is what
// makes it survive a power loss).
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path's content with b (perm for a new file). On error the
// old content is untouched and no temporary file is left behind.
func Write(path string, b []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		return err
	}
	return nil
}
