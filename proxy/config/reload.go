package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Reloading: which keys a running node can take from a changed file
// (SIGHUP, POST /reload) and which need a restart. The model is mcrouter's
// configuration reload: the new file is parsed and validated as at startup,
// compared with the one in force, and applied as a whole or not at all.

// Apply says how a change to a key reaches a running node.
type Apply uint8

const (
	// Restart: the key shapes what the node is (its listeners, its place in
	// the ring, its protocol, its membership); a reload that changes it is
	// refused and the configuration in force stays.
	Restart Apply = iota
	// Live: a reload applies the new value without a restart.
	Live
)

// String names the class as the README's table does.
func (a Apply) String() string {
	if a == Live {
		return "live"
	}
	return "restart"
}

// reloadClass is one row of the reload table.
type reloadClass struct {
	apply Apply
	// how says when a live change takes effect, or why a restart is needed.
	how string
}

// noEffect is the note of keys this implementation parses and does not use
// (as upstream, for most of them): a change has nothing to apply.
const noEffect = "parsed, not used: nothing to apply"

// providerAnew is the note of the seed providers' own settings.
const providerAnew = "the seed provider dyn_seed_provider names is built anew and polled at once (a setting of another provider has nothing to apply)"

// reloadTable classifies every key of the key table (keys.go,
// keys_ours.go). TestEveryKeyIsClassified fails when a key is added without
// a row here, so that a new key cannot be forgotten.
var reloadTable = map[string]reloadClass{
	"listen":                            {Restart, "the client listener is bound at start"},
	"dyn_listen":                        {Restart, "the peer listener is bound at start and names the node in the ring"},
	"stats_listen":                      {Restart, "the stats listener is bound at start (and answers the reload)"},
	"servers":                           {Live, "the datastore pool connects to the new server; requests already sent finish on the old one"},
	"data_store":                        {Restart, "the client and datastore protocol"},
	"tokens":                            {Restart, "the node's place in the ring"},
	"rack":                              {Restart, "the node's place in the ring"},
	"datacenter":                        {Restart, "the node's place in the ring"},
	"dyn_seeds":                         {Restart, "the ring's members; a running node learns peers from its seed provider"},
	"dyn_seed_provider":                 {Restart, "which membership source runs"},
	"hash":                              {Restart, "the placement of every key"},
	"hash_tag":                          {Restart, "the placement of every key"},
	"read_consistency":                  {Live, "the next request of every connection that did not set its own level (DYNO_CONFIG)"},
	"write_consistency":                 {Live, "the next request of every connection that did not set its own level (DYNO_CONFIG)"},
	"read_repairs_enabled":              {Live, "the next request"},
	"secure_server_option":              {Restart, "which peer links are encrypted is fixed when their pools are built"},
	"pem_key_file":                      {Restart, "the peer TLS configuration is built at start"},
	"recon_key_file":                    {Live, noEffect},
	"recon_iv_file":                     {Live, noEffect},
	"timeout":                           {Live, "the next timeout check of the datastore and peer connections"},
	"preconnect":                        {Restart, "applies when the pools start"},
	"auto_eject_hosts":                  {Live, "the datastore's next failure"},
	"server_retry_timeout":              {Live, "the datastore's next failure or reconnect"},
	"server_failure_limit":              {Live, "the datastore's next failure"},
	"backlog":                           {Restart, "the listeners are bound at start"},
	"client_connections":                {Live, noEffect},
	"datastore_connections":             {Live, "the datastore pool is rebuilt with the new count"},
	"local_peer_connections":            {Restart, "peer pools are built with their connection count"},
	"remote_peer_connections":           {Restart, "peer pools are built with their connection count"},
	"enable_gossip":                     {Restart, "which membership source runs"},
	"gos_interval":                      {Restart, "the membership loop's period is set at start"},
	"conn_msg_rate":                     {Live, noEffect},
	"stats_interval":                    {Live, noEffect},
	"mbuf_size":                         {Live, noEffect},
	"max_msgs":                          {Live, noEffect},
	"env":                               {Restart, "the environment is detected at start"},
	"dyn_read_timeout":                  {Live, noEffect},
	"dyn_write_timeout":                 {Live, noEffect},
	"dyn_port":                          {Live, noEffect},
	"dyn_connections":                   {Live, noEffect},
	"distribution":                      {Live, noEffect},
	"server_connections":                {Live, noEffect},
	"requirepass":                       {Live, "new authentications; connections already authenticated stay so"},
	"client_users":                      {Live, "new authentications; connections already authenticated stay so"},
	"datastore_password":                {Live, "the datastore pool reconnects with the new password"},
	"client_tls_listen":                 {Restart, "the TLS client listener is bound at start"},
	"client_tls_cert_file":              {Restart, "the file's name is fixed at start; its content is re-read on every reload"},
	"client_tls_key_file":               {Restart, "the file's name is fixed at start; its content is re-read on every reload"},
	"client_tls_ca_file":                {Restart, "the file's name is fixed at start; its content is re-read on every reload"},
	"peer_tls_cert_file":                {Restart, "the file's name is fixed at start; its content is re-read on every reload"},
	"peer_tls_key_file":                 {Restart, "the file's name is fixed at start; its content is re-read on every reload"},
	"peer_tls_ca_file":                  {Restart, "the file's name is fixed at start; its content is re-read on every reload"},
	"max_client_connections":            {Live, "the next connection accepted"},
	"max_request_bytes":                 {Live, "connections accepted afterwards"},
	"max_inflight_requests":             {Live, "connections accepted afterwards"},
	"max_buffered_bytes":                {Live, "the next request"},
	"client_idle_timeout":               {Live, "the next read of every connection"},
	"client_read_timeout":               {Live, "the next read of every connection"},
	"pubsub_output_buffer_hard_limit":   {Live, "the next message delivered"},
	"pubsub_output_buffer_soft_limit":   {Live, "the next message delivered"},
	"pubsub_output_buffer_soft_seconds": {Live, "the next message delivered"},
	"dns_srv_name":                      {Live, providerAnew},
	"dns_srv_resolver":                  {Live, providerAnew},
	"dns_srv_timeout":                   {Live, providerAnew},
	"ec2_cluster_tag_value":             {Live, providerAnew},
	"ec2_cluster_tag_key":               {Live, providerAnew},
	"ec2_regions":                       {Live, providerAnew},
	"ec2_peer_address":                  {Live, providerAnew},
	"ec2_peer_port":                     {Live, providerAnew},
	"ec2_endpoint":                      {Live, providerAnew},
	"gossip_listen":                     {Restart, "the gossip listener is bound at start"},
	"gossip_seeds":                      {Restart, "gossip joins its seeds at start"},
	"gossip_advertise":                  {Restart, "gossip announces its address at start"},
	"stats_admin_token":                 {Live, "the next admin request"},
	"allow_flush":                       {Restart, "the node reads it at start: emptying the cluster is not switched on by a reload"},
	"hints_dir":                         {Restart, "the hint log is opened at start"},
	"hints_fsync":                       {Restart, "the hint log's settings are read when it is opened, at start"},
	"max_hint_window":                   {Restart, "the hint log's settings are read when it is opened, at start"},
	"max_hints_bytes":                   {Restart, "the hint log's settings are read when it is opened, at start"},
	"hint_replay_rate":                  {Restart, "the replayer's pace is set at start"},
	"repair_interval":                   {Live, "the schedule is timed anew from the reload"},
	"repair_preferred_dc":               {Live, "the next repair"},
	"warm_up":                           {Restart, "read at start; POST /warmup starts a warm-up on a running node"},
	"stream_keys_per_sec":               {Live, "every running and later data movement, from its next key"},
	"stream_bytes_per_sec":              {Live, "every running and later data movement, from its next key"},
	"peer_stats_port":                   {Live, "the next warm-up"},
	"verbosity":                         {Live, "the log level at once (a level set since by -v at start, SIGTTIN/SIGTTOU or /setloglevel stays until the key itself changes)"},
}

// ReloadClass returns how a change to key reaches a running node and a
// short note saying when it takes effect or why it needs a restart. An
// unknown key is Restart.
func ReloadClass(key string) (Apply, string) {
	c, ok := reloadTable[key]
	if !ok {
		return Restart, "unknown key"
	}
	return c.apply, c.how
}

// Change is one key whose effective value differs between two
// configurations.
type Change struct {
	Key string
	// Old and New are the values as `dynomite -t` prints them; a secret
	// shows as "(set, not shown)" on both sides, so they may look equal.
	Old, New string
	Apply    Apply
}

// String renders `key: old → new`.
func (c Change) String() string {
	if c.Old == c.New { // a secret: its value is not shown
		return c.Key + ": changed"
	}
	return fmt.Sprintf("%s: %s → %s", c.Key, c.Old, c.New)
}

// Diff lists the keys whose effective values differ from old to new, in
// the key table's order. The pool name (the root key) is reported as the
// key "pool" (restart-only: it names the pool in stats).
func Diff(old, new *Config) []Change {
	var out []Change
	if old.Pool != new.Pool {
		out = append(out, Change{Key: "pool", Old: old.Pool, New: new.Pool, Apply: Restart})
	}
	for i := range keys {
		k := &keys[i]
		a, b := k.val(old), k.val(new)
		if fieldOf(a) == nil || reflect.DeepEqual(fieldOf(a), fieldOf(b)) {
			continue
		}
		apply, _ := ReloadClass(k.name)
		out = append(out, Change{Key: k.name, Old: shown(a), New: shown(b), Apply: apply})
	}
	return out
}

// fieldOf returns the Config field a value is bound to (every value type
// holds a pointer to its field first), nil for a key without a field
// (the deprecated ones). The pointer is unexported: it is read through
// reflect.NewAt, which gives the same field as an accessible value.
func fieldOf(v value) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Struct || rv.NumField() == 0 || rv.Field(0).Kind() != reflect.Pointer {
		return nil
	}
	f := rv.Field(0)
	return reflect.NewAt(f.Type().Elem(), f.UnsafePointer()).Elem().Interface()
}

// shown renders a value as Describe does, lists on one line.
func shown(v value) string {
	if l, ok := v.(lister); ok {
		return "[" + strings.Join(l.items(), ", ") + "]"
	}
	return v.String()
}
