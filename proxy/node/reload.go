package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/config"
)

// Reloading the configuration (SIGHUP, POST /reload on the stats listener).
//
// The file is read again and parsed by config.Parse, the strict parser of
// startup: a file with problems is refused with every problem, each with
// its line and key. A valid file is compared with the configuration in
// force (config.Diff); when a restart-only key changed (config.ReloadClass:
// listeners, tokens, datacenter, rack, hash, protocol, membership...), the
// whole reload is refused, naming each such key with its old and new
// value. Otherwise the TLS certificates are re-read (a certificate that
// fails to load refuses the reload, and each keeps its current material),
// then the live keys are applied at once (proxy.Server.Reload swaps one
// immutable snapshot, or changes nothing when the new datastore does not
// answer). The configuration in force stays until a reload succeeds.
// Each reload is logged with the keys it changed or why it was refused,
// and its outcome is published in /info and the metrics (see
// metrics.SetConfigReload).

// reloader is the node's reload state.
type reloader struct {
	mu   sync.Mutex // one reload at a time
	path string     // the configuration file; "" when there is none
	cfg  *config.Config
	logs admin.LogControl // the log level, which verbosity sets; nil in tests without one
}

// WithConfigFile names the file the configuration was read from, which a
// reload reads again. Without it a reload is refused (the node was built
// from a Config in code, or from the environment).
func WithConfigFile(path string) Option { return func(s *settings) { s.confFile = path } }

// initReload records the configuration in force and its file's hash, and
// serves POST /reload.
func (n *Node) initReload(cfg *config.Config, path string, logs admin.LogControl) {
	n.reload = reloader{path: path, cfg: cfg, logs: logs}
	hash := ""
	if path != "" {
		if data, err := os.ReadFile(path); err == nil {
			hash = hashOf(data)
		}
	}
	n.metrics.SetConfigLoaded(hash, time.Now())
	admin.RegisterReload(n.stats, n.srv.Admin(), n.ReloadConfig)
}

func hashOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ReloadConfig reads the configuration file again and applies it (see the
// comment at the top of reload.go). It logs and publishes the outcome, and
// returns it as POST /reload answers it.
func (n *Node) ReloadConfig() admin.ReloadResult {
	n.reload.mu.Lock()
	defer n.reload.mu.Unlock()
	res := n.reloadConfig()
	n.metrics.SetConfigReload(res.Hash, res.OK, time.Now())
	if res.OK {
		n.log.Info("configuration reloaded", "file", n.reload.path, "hash", res.Hash, "changed", res.Changed)
	} else {
		n.log.Error("configuration reload refused; the configuration in force is unchanged", "file", n.reload.path,
			"hash", res.Hash, "changed", res.Changed, "err", res.Error)
	}
	return res
}

func (n *Node) reloadConfig() admin.ReloadResult {
	path := n.reload.path
	if path == "" {
		return admin.ReloadResult{Error: "no configuration file to reload (the configuration did not come from one)", Status: http.StatusBadRequest}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return admin.ReloadResult{Error: fmt.Sprintf("config: %v", err), Status: http.StatusBadRequest}
	}
	res := admin.ReloadResult{Hash: hashOf(data), Status: http.StatusBadRequest}
	next, err := config.Parse(data, path)
	if err == nil {
		err = Validate(next)
	}
	if err != nil {
		res.Error = err.Error()
		return res
	}
	cur := n.reload.cfg
	carryOver(cur, next)
	var restart []string
	provider := false  // a seed provider setting changed
	verbosity := false // the log level changed
	for _, c := range config.Diff(cur, next) {
		verbosity = verbosity || c.Key == "verbosity"
		res.Changed = append(res.Changed, c.Key)
		if c.Apply == config.Restart {
			_, why := config.ReloadClass(c.Key)
			restart = append(restart, fmt.Sprintf("%s (%s)", c, why))
		}
		provider = provider || strings.HasPrefix(c.Key, "dns_srv_") || strings.HasPrefix(c.Key, "ec2_")
	}
	res.Status = http.StatusConflict
	if len(restart) > 0 {
		res.Error = "needs a restart: " + strings.Join(restart, "; ")
		return res
	}
	commitProvider := func() {}
	if provider {
		// built before anything applies, so that a provider that cannot
		// be set up refuses the reload whole
		ctx, cancel := context.WithTimeout(context.Background(), providerSetup)
		defer cancel()
		if commitProvider, err = n.membership.Reload(ctx, next); err != nil {
			res.Error = err.Error()
			return res
		}
	}
	if err := n.certs.reloadAll(); err != nil {
		res.Error = err.Error()
		return res
	}
	po := proxyOptions(next, n.log)
	if err := n.srv.Reload(po.Live()); err != nil {
		res.Error = err.Error()
		return res
	}
	commitProvider()
	n.repair.apply(next)
	if verbosity && n.reload.logs != nil {
		n.reload.logs.SetVerbosity(next.Verbosity) // 0..11: the parser checked it
	}
	n.warm.apply(next)
	n.reload.cfg = next
	for _, w := range next.Warnings {
		n.log.Warn("configuration", "warning", w)
	}
	res.OK, res.Status = true, http.StatusOK
	return res
}

// providerSetup bounds setting up a reloaded seed provider (ec2_provider
// loads its AWS configuration).
const providerSetup = 10 * time.Second

// carryOver gives next what the node took from elsewhere than the file
// at start, for the keys the file leaves unset both times: the -m and -M
// flags (mbuf_size, max_msgs) and the datacenter and rack detected from
// the environment (membership.DetectEnv). Without it a reload would see
// them change back to their defaults.
func carryOver(cur, next *config.Config) {
	unset := func(key string) bool { return !cur.IsSet(key) && !next.IsSet(key) }
	if unset("mbuf_size") {
		next.MbufSize = cur.MbufSize
	}
	if unset("max_msgs") {
		next.MaxMsgs = cur.MaxMsgs
	}
	if unset("datacenter") {
		next.Datacenter = cur.Datacenter
	}
	if unset("rack") {
		next.Rack = cur.Rack
	}
}

// reloadAll re-reads every certificate; the first failure is returned
// (each reloader keeps its current material when its files fail to load).
func (rs reloaders) reloadAll() error {
	var errs []error
	for _, r := range rs {
		if err := r.Reload(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("TLS certificates: %w", errors.Join(errs...))
	}
	return nil
}
