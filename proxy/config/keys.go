package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// key is one entry of the key table: everything about one configuration key.
// Adding a key means adding an entry here and a field to Config.
type key struct {
	// name is the key as written in the file.
	name string
	// def is the default in the file's syntax, applied by Default; "" means
	// the field's zero value.
	def string
	// seq marks a list (servers, dyn_seeds). A single value is taken as a
	// one-entry list, as upstream does.
	seq bool
	// warn, when set, is a warning given whenever a file uses the key.
	warn string
	// val binds the key to its field in c.
	val func(c *Config) value
}

// value is a Config field seen through its key's syntax and rules.
type value interface {
	// set parses a value as written in the file (for a list: one entry,
	// appended), checks it, and stores it only when it is valid.
	set(s string) error
	// check validates the stored value; Validate calls it.
	check() error
	// String renders the effective value for Describe.
	String() string
}

// unsetter is a value for which some text means "not set, keep the default":
// upstream's UNSET_NUM, a 0 number.
type unsetter interface{ unset(s string) bool }

// warner is a value that accepts some text with a remark.
type warner interface{ warnFor(s string) string }

// lister is a list value; Describe prints one entry per line.
type lister interface{ items() []string }

// redacter is a value holding secrets: a problem with it shows redact(s)
// instead of what the file says.
type redacter interface{ redact(s string) string }

const maxInt32 = math.MaxInt32

// keys is the key table, in the order Describe prints it. Defaults come from
// upstream's code (dyn_conf.c conf_validate_pool, dyn_conf.h, dyn_mbuf.h,
// dyn_message.h).
var upstreamKeys = []key{
	// Client listener. No default: required ("listen:" is missing).
	{name: "listen", val: func(c *Config) value { return listenVal{&c.Listen, true} }},
	// Peer listener. No default: without it the node has no peer listener.
	{name: "dyn_listen", val: func(c *Config) value { return listenVal{&c.DynListen, false} }},
	// Stats and admin HTTP listener.
	{name: "stats_listen", def: "0.0.0.0:22222", val: func(c *Config) value { return listenVal{&c.StatsListen, false} }},
	// The datastore. No default: required (pool has no datastore).
	{name: "servers", seq: true, val: func(c *Config) value { return serversVal{&c.Servers} }},
	// 0 = redis, 1 = memcache.
	{name: "data_store", def: "0", val: func(c *Config) value { return dataStoreVal{&c.DataStore} }},
	// No default (upstream leaves it undefined); required with peers.
	{name: "tokens", val: func(c *Config) value { return tokensVal{&c.Tokens} }},
	{name: "rack", def: "localrack", val: func(c *Config) value { return strVal{&c.Rack, false} }},
	{name: "datacenter", def: "localdc", val: func(c *Config) value { return strVal{&c.Datacenter, false} }},
	// No default: no static peers.
	{name: "dyn_seeds", seq: true, val: func(c *Config) value { return seedsVal{&c.DynSeeds} }},
	{name: "dyn_seed_provider", def: "simple_provider", val: func(c *Config) value { return providerVal{&c.DynSeedProvider} }},
	{name: "hash", def: "murmur", val: func(c *Config) value { return hashVal{&c.Hash} }},
	// No default: the whole key is hashed.
	{name: "hash_tag", val: func(c *Config) value { return hashTagVal{&c.HashTag} }},
	{name: "read_consistency", def: "DC_ONE", val: func(c *Config) value { return consistencyVal{&c.ReadConsistency} }},
	{name: "write_consistency", def: "DC_ONE", val: func(c *Config) value { return consistencyVal{&c.WriteConsistency} }},
	{name: "read_repairs_enabled", def: "false", val: func(c *Config) value { return boolVal{&c.ReadRepairsEnabled} }},
	{name: "secure_server_option", def: "none", val: func(c *Config) value { return secureVal{&c.SecureServerOption} }},
	// Relative to the working directory, as upstream.
	{name: "pem_key_file", def: "conf/dynomite.pem", val: func(c *Config) value { return strVal{&c.PemKeyFile, false} }},
	{name: "recon_key_file", def: "conf/recon_key.pem", val: func(c *Config) value { return strVal{&c.ReconKeyFile, false} }},
	{name: "recon_iv_file", def: "conf/recon_iv.pem", val: func(c *Config) value { return strVal{&c.ReconIVFile, false} }},
	// Milliseconds. Upstream's README says "wait indefinitely"; the code says 5000.
	{name: "timeout", def: "5000", val: func(c *Config) value { return msVal{&c.Timeout} }},
	// Upstream's README says false; the code says true.
	{name: "preconnect", def: "true", val: func(c *Config) value { return boolVal{&c.Preconnect} }},
	// Upstream's README says false; the code says true.
	{name: "auto_eject_hosts", def: "true", val: func(c *Config) value { return boolVal{&c.AutoEjectHosts} }},
	// Milliseconds. Upstream's README says 30000; the code says 10000.
	{name: "server_retry_timeout", def: "10000", val: func(c *Config) value { return msVal{&c.ServerRetryTimeout} }},
	// Upstream's README says 2; the code says 3.
	{name: "server_failure_limit", def: "3", val: func(c *Config) value { return intVal{p: &c.ServerFailureLimit, min: 1, max: maxInt32} }},
	{name: "backlog", def: "512", val: func(c *Config) value { return intVal{p: &c.Backlog, min: 1, max: maxInt32} }},
	// Upstream forces it to 0 whatever the file says.
	{name: "client_connections", warn: "is parsed and ignored, as upstream does", val: func(c *Config) value {
		return intVal{p: &c.ClientConnections, min: 0, max: maxInt32, note: "ignored"}
	}},
	// Connection counts are 8-bit upstream.
	{name: "datastore_connections", def: "1", val: func(c *Config) value { return intVal{p: &c.DatastoreConnections, min: 1, max: 255} }},
	{name: "local_peer_connections", def: "1", val: func(c *Config) value { return intVal{p: &c.LocalPeerConnections, min: 1, max: 255} }},
	{name: "remote_peer_connections", def: "1", val: func(c *Config) value { return intVal{p: &c.RemotePeerConnections, min: 1, max: 255} }},
	{name: "enable_gossip", def: "false", val: func(c *Config) value { return boolVal{&c.EnableGossip} }},
	// Milliseconds.
	{name: "gos_interval", def: "30000", val: func(c *Config) value { return msVal{&c.GosInterval} }},
	// Messages per second per connection to another datacenter.
	{name: "conn_msg_rate", def: "50000", val: func(c *Config) value { return intVal{p: &c.ConnMsgRate, min: 1, max: maxInt32} }},
	// Milliseconds.
	{name: "stats_interval", def: "30000", val: func(c *Config) value { return msVal{&c.StatsInterval} }},
	// Bytes; the -m flag's default. When unset, the -m value applies.
	{name: "mbuf_size", def: "16384", val: func(c *Config) value { return intVal{p: &c.MbufSize, min: 512, max: 512000, step: 16} }},
	// The -M flag's default. When unset, the -M value applies.
	{name: "max_msgs", def: "200000", val: func(c *Config) value { return intVal{p: &c.MaxMsgs, min: 100000, max: 1000000} }},
	{name: "env", def: "aws", val: func(c *Config) value { return strVal{&c.Env, false} }},
	// Milliseconds; unused upstream.
	{name: "dyn_read_timeout", def: "10000", val: func(c *Config) value { return msVal{&c.DynReadTimeout} }},
	{name: "dyn_write_timeout", def: "10000", val: func(c *Config) value { return msVal{&c.DynWriteTimeout} }},
	// No default; unused upstream.
	{name: "dyn_port", warn: "is ignored: the peer port comes from dyn_listen", val: func(c *Config) value {
		return intVal{p: &c.DynPort, min: 0, max: 65535, note: "ignored"}
	}},
	// Unused upstream.
	{name: "dyn_connections", def: "100", val: func(c *Config) value { return intVal{p: &c.DynConnections, min: 1, max: maxInt32} }},
	// Deprecated upstream: accepted with a warning.
	{name: "distribution", warn: "is deprecated and ignored", val: func(*Config) value { return ignoredVal{} }},
	{name: "server_connections", warn: "is deprecated and ignored: use datastore_connections", val: func(*Config) value { return ignoredVal{} }},
}

// keys is upstream's keys followed by ours (keys_ours.go), in Describe order.
var keys = append(upstreamKeys[:len(upstreamKeys):len(upstreamKeys)], ourKeys...)

// keyIndex finds a key's table entry by name.
var keyIndex = func() map[string]*key {
	m := make(map[string]*key, len(keys))
	for i := range keys {
		m[keys[i].name] = &keys[i]
	}
	return m
}()

// seedProviders are the values dyn_seed_provider accepts.
var seedProviders = []string{"simple_provider", "florida_provider", "dns_provider", "dns_srv_provider", "ec2_provider"}

var errNotNumber = errors.New("is not a number")

// parseNumber parses upstream's numbers: decimal digits only, no sign.
func parseNumber(s string) (int, error) {
	if !isDigits(s) {
		return 0, errNotNumber
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxInt32 {
		return 0, fmt.Errorf("is too large (at most %d)", maxInt32)
	}
	return int(n), nil
}

// isZeroNumber is upstream's UNSET_NUM test: a 0 number means "use the
// default".
func isZeroNumber(s string) bool { return isDigits(s) && strings.Trim(s, "0") == "" }

type intVal struct {
	p        *int
	min, max int
	step     int    // when > 0, the value must be a multiple of it
	note     string // shown after the value by Describe
}

func (v intVal) set(s string) error {
	n, err := parseNumber(s)
	if err != nil {
		return err
	}
	if err := v.checkN(n); err != nil {
		return err
	}
	*v.p = n
	return nil
}

func (v intVal) checkN(n int) error {
	if n < v.min || n > v.max {
		return fmt.Errorf("is out of range %d..%d", v.min, v.max)
	}
	if v.step > 0 && n%v.step != 0 {
		return fmt.Errorf("is not a multiple of %d", v.step)
	}
	return nil
}

func (v intVal) check() error        { return v.checkN(*v.p) }
func (v intVal) unset(s string) bool { return isZeroNumber(s) }

func (v intVal) String() string {
	if v.note != "" {
		return strconv.Itoa(*v.p) + " (" + v.note + ")"
	}
	return strconv.Itoa(*v.p)
}

// msVal is a duration written in milliseconds.
type msVal struct{ p *time.Duration }

func (v msVal) set(s string) error {
	n, err := parseNumber(s)
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("must be at least 1 (ms)")
	}
	*v.p = time.Duration(n) * time.Millisecond
	return nil
}

func (v msVal) unset(s string) bool { return isZeroNumber(s) }
func (v msVal) String() string      { return strconv.FormatInt(v.p.Milliseconds(), 10) }

func (v msVal) check() error {
	d := *v.p
	if d < time.Millisecond || d > maxInt32*time.Millisecond || d%time.Millisecond != 0 {
		return fmt.Errorf("is out of range 1..%d (a whole number of ms)", maxInt32)
	}
	return nil
}

// boolVal accepts exactly "true" and "false", as upstream.
type boolVal struct{ p *bool }

func (v boolVal) set(s string) error {
	switch s {
	case "true":
		*v.p = true
	case "false":
		*v.p = false
	default:
		return errors.New(`is not "true" or "false"`)
	}
	return nil
}

func (v boolVal) check() error   { return nil }
func (v boolVal) String() string { return strconv.FormatBool(*v.p) }

// strVal is a free-form string; optional strings may be empty.
type strVal struct {
	p        *string
	optional bool
}

func (v strVal) set(s string) error {
	*v.p = s
	return nil
}

func (v strVal) check() error {
	if *v.p == "" && !v.optional {
		return errors.New("is empty")
	}
	return nil
}

func (v strVal) String() string { return *v.p }

type listenVal struct {
	p      *Endpoint
	unixOK bool
}

func (v listenVal) set(s string) error {
	e, err := parseEndpoint(s, v.unixOK)
	if err != nil {
		return err
	}
	*v.p = e
	return nil
}

func (v listenVal) check() error {
	if v.p.IsZero() { // required keys are checked by Validate
		return nil
	}
	return v.p.check(v.unixOK)
}

func (v listenVal) String() string {
	if v.p.IsZero() {
		return `""`
	}
	return v.p.String()
}

type dataStoreVal struct{ p *msg.Proto }

func (v dataStoreVal) set(s string) error {
	n, err := parseNumber(s)
	if err != nil {
		return err
	}
	if d := msg.Proto(n); n <= 1 && d.Valid() {
		*v.p = d
		return nil
	}
	return errors.New("must be 0 (redis) or 1 (memcache)")
}

func (v dataStoreVal) check() error {
	if !v.p.Valid() {
		return errors.New("must be 0 (redis) or 1 (memcache)")
	}
	return nil
}

func (v dataStoreVal) String() string { return strconv.Itoa(int(*v.p)) + " (" + v.p.String() + ")" }

type tokensVal struct{ p *[]uint32 }

func (v tokensVal) set(s string) error {
	t, err := ParseTokens(s)
	if err != nil {
		return err
	}
	*v.p = t
	return nil
}

func (v tokensVal) check() error { return nil }

func (v tokensVal) String() string {
	if len(*v.p) == 0 {
		return `""`
	}
	return formatTokens(*v.p)
}

type serversVal struct{ p *[]Server }

func (v serversVal) set(s string) error {
	srv, err := parseServer(s)
	if err != nil {
		return err
	}
	*v.p = append(*v.p, srv)
	return nil
}

func (v serversVal) check() error {
	for _, s := range *v.p {
		if err := s.check(); err != nil {
			return fmt.Errorf("%q %s", s.String(), err)
		}
	}
	return nil
}

func (v serversVal) items() []string {
	out := make([]string, len(*v.p))
	for i, s := range *v.p {
		out[i] = s.String()
	}
	return out
}

func (v serversVal) String() string { return strings.Join(v.items(), ", ") }

type seedsVal struct{ p *[]Seed }

func (v seedsVal) set(s string) error {
	seed, err := ParseSeed(s)
	if err != nil {
		return err
	}
	*v.p = append(*v.p, seed)
	return nil
}

func (v seedsVal) check() error {
	for _, s := range *v.p {
		if err := s.check(); err != nil {
			return fmt.Errorf("%q %s", s.String(), err)
		}
	}
	return nil
}

func (v seedsVal) items() []string {
	out := make([]string, len(*v.p))
	for i, s := range *v.p {
		out[i] = s.String()
	}
	return out
}

func (v seedsVal) String() string { return strings.Join(v.items(), ", ") }

type providerVal struct{ p *string }

func (v providerVal) set(s string) error {
	old := *v.p
	*v.p = s
	if err := v.check(); err != nil {
		*v.p = old
		return err
	}
	return nil
}

func (v providerVal) check() error {
	for _, p := range seedProviders {
		if *v.p == p {
			return nil
		}
	}
	return fmt.Errorf("is not a known seed provider (one of %s)", strings.Join(seedProviders, ", "))
}

func (v providerVal) String() string { return *v.p }

type hashVal struct{ p *Hash }

func (v hashVal) set(s string) error {
	h, err := ParseHash(s)
	if err != nil {
		return err
	}
	*v.p = h
	return nil
}

func (v hashVal) check() error {
	if !v.p.valid() {
		return errors.New("is not a valid hash")
	}
	return nil
}

func (v hashVal) String() string { return v.p.String() }

// hashTagVal is empty or exactly two bytes, as upstream.
type hashTagVal struct{ p *string }

func (v hashTagVal) set(s string) error {
	if len(s) != 2 {
		return errors.New("is not a valid hash tag string with two characters")
	}
	*v.p = s
	return nil
}

func (v hashTagVal) check() error {
	if *v.p != "" && len(*v.p) != 2 {
		return errors.New("is not a valid hash tag string with two characters")
	}
	return nil
}

func (v hashTagVal) String() string { return strconv.Quote(*v.p) }

// consistencyVal reads a level by upstream's configuration rule
// (consistency.ParsePrefix).
type consistencyVal struct{ p *consistency.Level }

func (v consistencyVal) set(s string) error {
	l, _, err := consistency.ParsePrefix(s)
	if err != nil {
		return err
	}
	*v.p = l
	return nil
}

func (v consistencyVal) warnFor(s string) string {
	l, trailing, err := consistency.ParsePrefix(s)
	if err != nil || trailing == "" {
		return ""
	}
	return fmt.Sprintf("%q is read as %s (the level's name followed by %q, which upstream ignores too)", s, l, trailing)
}

func (v consistencyVal) check() error {
	if !v.p.Valid() {
		return consistency.ErrUnknownLevel
	}
	return nil
}

func (v consistencyVal) String() string { return v.p.String() }

type secureVal struct{ p *SecureOption }

func (v secureVal) set(s string) error {
	o, err := parseSecureOption(s)
	if err != nil {
		return err
	}
	*v.p = o
	return nil
}

func (v secureVal) check() error {
	if !v.p.valid() {
		return errors.New("must be one of none, datacenter, rack, all")
	}
	return nil
}

func (v secureVal) String() string { return v.p.String() }

// ignoredVal is a deprecated key: any value is accepted and dropped.
type ignoredVal struct{}

func (ignoredVal) set(string) error { return nil }
func (ignoredVal) check() error     { return nil }
func (ignoredVal) String() string   { return "(deprecated, ignored)" }
