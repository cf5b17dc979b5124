package clients

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// Memcached client libraries and tools against three racks of dynomite
// processes in front of memcached, with their default settings. Rows
// "memcached: ...". A value is written through one node and read through
// another (another rack), so every row also checks replication.
func TestMemcacheClients(t *testing.T) {
	addrs := startMemcacheCluster(t)
	t.Run("gomemcache", func(t *testing.T) { gomemcacheClient(t, addrs) })
	t.Run("pymemcache", func(t *testing.T) {
		py := proxytest.NeedBinary(t, "/usr/bin/python3", "python3-pymemcache")
		h0, p0, _ := net.SplitHostPort(addrs[0])
		h1, p1, _ := net.SplitHostPort(addrs[1])
		runScript(t, "pymemcache", nil, []string{py, "testdata/pymemcache_client.py", h0, p0, h1, p1})
	})
	t.Run("libmemcached", func(t *testing.T) { libmemcachedTools(t, addrs) })
}

// startMemcacheCluster is startCluster's memcached twin: three racks of
// one node, every rack a full copy.
func startMemcacheCluster(t *testing.T) []string {
	t.Helper()
	bin := dynomiteBinary(t)
	const racks = 3
	var addrs, peers, stats, stores []string
	for range racks {
		stores = append(stores, proxytest.StartMemcached(t).Addr)
		addrs = append(addrs, proxytest.FreeAddr(t))
		peers = append(peers, proxytest.FreeAddr(t))
		stats = append(stats, proxytest.FreeAddr(t))
	}
	dir := t.TempDir()
	for i := range racks {
		lines := []string{
			"dyn_o_mite:", "  datacenter: dc1", "  rack: rack" + strconv.Itoa(i+1),
			"  listen: " + addrs[i], "  dyn_listen: " + peers[i], "  stats_listen: " + stats[i],
			"  tokens: '101134286'", "  servers:", "  - " + stores[i] + ":1", "  data_store: 1", "  preconnect: true",
			"  read_consistency: DC_QUORUM", "  write_consistency: DC_QUORUM", "  dyn_seeds:",
		}
		for j := range racks {
			if j != i {
				lines = append(lines, fmt.Sprintf("  - %s:rack%d:dc1:101134286", peers[j], j+1))
			}
		}
		path := filepath.Join(dir, fmt.Sprintf("mc-rack%d.yml", i+1))
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		runNode(t, bin, path, path+".log")
	}
	// every node has reached every peer (/ready) before the first write:
	// each write then reaches every rack, so the racks' memcacheds count
	// the same CAS uniques and gets/cas agrees across them
	for i, a := range addrs {
		waitReady(t, a, stats[i], "dynomite memcached rack"+strconv.Itoa(i+1))
	}
	return addrs
}

func gomemcacheClient(t *testing.T, addrs []string) {
	const client = "gomemcache"
	w, r := memcache.New(addrs[0]), memcache.New(addrs[1])
	get := func(key, want string) error {
		it, err := r.Get(key)
		if err != nil {
			return err
		}
		return check(string(it.Value), want)
	}
	record(t, client, "memcached: set, get", func() error {
		if err := w.Set(&memcache.Item{Key: "gm:a", Value: []byte("1"), Flags: 7}); err != nil {
			return err
		}
		it, err := r.Get("gm:a")
		if err != nil {
			return err
		}
		return check(fmt.Sprintf("%s %d", it.Value, it.Flags), "1 7")
	}())
	record(t, client, "memcached: multi-get", func() error {
		if err := w.Set(&memcache.Item{Key: "gm:b", Value: []byte("2")}); err != nil {
			return err
		}
		m, err := r.GetMulti([]string{"gm:a", "gm:b", "gm:missing"})
		if err != nil {
			return err
		}
		if len(m) != 2 {
			return fmt.Errorf("got %d items, want 2", len(m))
		}
		return check(string(m["gm:a"].Value)+" "+string(m["gm:b"].Value), "1 2")
	}())
	record(t, client, "memcached: add, replace, append, prepend", func() error {
		if err := w.Add(&memcache.Item{Key: "gm:a", Value: []byte("x")}); err != memcache.ErrNotStored {
			return fmt.Errorf("add of an existing key: %v", err)
		}
		if err := w.Replace(&memcache.Item{Key: "gm:a", Value: []byte("r")}); err != nil {
			return err
		}
		if err := w.Append(&memcache.Item{Key: "gm:a", Value: []byte(">")}); err != nil {
			return err
		}
		if err := w.Prepend(&memcache.Item{Key: "gm:a", Value: []byte("<")}); err != nil {
			return err
		}
		return get("gm:a", "<r>")
	}())
	record(t, client, "memcached: incr, decr", func() error {
		if err := w.Set(&memcache.Item{Key: "gm:n", Value: []byte("10")}); err != nil {
			return err
		}
		if _, err := w.Increment("gm:n", 5); err != nil {
			return err
		}
		n, err := w.Decrement("gm:n", 3)
		if err != nil {
			return err
		}
		if err := check(n, 12); err != nil {
			return err
		}
		return get("gm:n", "12")
	}())
	record(t, client, "memcached: gets, cas", func() error {
		it, err := w.Get("gm:b")
		if err != nil {
			return err
		}
		it.Value = []byte("3")
		if err := w.CompareAndSwap(it); err != nil {
			return err
		}
		return get("gm:b", "3")
	}())
	record(t, client, "memcached: touch, delete", func() error {
		if err := w.Touch("gm:b", 100); err != nil {
			return err
		}
		if err := w.Delete("gm:b"); err != nil {
			return err
		}
		if _, err := r.Get("gm:b"); err != memcache.ErrCacheMiss {
			return fmt.Errorf("get after delete: %v", err)
		}
		return nil
	}())
}

// libmemcachedTools: Debian's libmemcached-tools (memccp, memccat, memcrm;
// memcp, memcat, memrm elsewhere).
func libmemcachedTools(t *testing.T, addrs []string) {
	const client = "libmemcached"
	tool := func(names ...string) string {
		for _, n := range names {
			if p, err := exec.LookPath(n); err == nil {
				return p
			}
		}
		return proxytest.NeedBinary(t, names[0], "libmemcached-tools")
	}
	cp, cat, rm := tool("memccp", "memcp"), tool("memccat", "memcat"), tool("memcrm", "memrm")
	run := func(bin string, args ...string) (string, error) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%s %s: %v: %s", filepath.Base(bin), strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "lm-file")
	if err := os.WriteFile(file, []byte("file contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	record(t, client, "memcached: set, get", func() error {
		if _, err := run(cp, "--servers="+addrs[0], file); err != nil {
			return err
		}
		out, err := run(cat, "--servers="+addrs[1], "lm-file")
		if err != nil {
			return err
		}
		return check(strings.TrimSuffix(out, "\n"), "file contents") // memccat ends the value with a newline
	}())
	record(t, client, "memcached: touch, delete", func() error {
		if _, err := run(rm, "--servers="+addrs[0], "lm-file"); err != nil {
			return err
		}
		if out, err := run(cat, "--servers="+addrs[1], "lm-file"); err == nil {
			return fmt.Errorf("memccat after memcrm printed %q", out)
		}
		return nil
	}())
}
