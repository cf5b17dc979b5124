package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Configuration from the environment, for containers.
//
// When the configuration file (-c) does not exist and at least one of the
// variables below is set to a non-empty value, LoadOrEnv builds the file in
// upstream's format in memory from the environment and reads it with
// Parse, so the keys, defaults, checks and messages are exactly those
// of a file. There is one variable per key of proxy/config, named
// DYNOMITE_<KEY IN UPPER CASE>, plus the pool name:
//
//	DYNOMITE_POOL          the root key, the pool name (default dyn_o_mite)
//	DYNOMITE_LISTEN        listen
//	DYNOMITE_DYN_LISTEN    dyn_listen
//	DYNOMITE_SERVERS       servers (a list)
//	DYNOMITE_DYN_SEEDS     dyn_seeds (a list)
//	DYNOMITE_DATA_STORE, DYNOMITE_TOKENS, DYNOMITE_RACK, DYNOMITE_DATACENTER,
//	DYNOMITE_READ_CONSISTENCY, DYNOMITE_TIMEOUT, ... and so on for every key
//	`dynomite -t` prints.
//
// The list of keys is read from the key table itself (what Describe prints),
// so a key added there has its variable at once.
//
// Values are written as in the file (tokens stay one comma-separated value).
// The lists (servers, dyn_seeds) take several entries separated by "|" or,
// when the value holds no "|", by ",": use "|" between seeds that carry
// several comma-separated tokens. Blanks around entries are trimmed. A
// variable set to the empty string counts as unset. Other DYNOMITE_*
// variables are ignored with a warning (a misspelt key name). When the file
// exists it wins and the variables are ignored, with a warning.
//
// Problems are reported as Parse reports them, with the variable in place of
// the key and without line numbers: `environment: DYNOMITE_TIMEOUT: "abc" is
// not a number`.

// envPrefix starts every configuration variable.
const envPrefix = "DYNOMITE_"

// envPool names the pool (the file's root key).
const envPool = envPrefix + "POOL"

// envSource stands for the file name in messages about the environment.
const envSource = "environment"

// EnvDaemonized is not a configuration variable: dynomite -d sets it in the
// environment of the process it re-executes detached from the terminal (Go
// cannot fork), which tells that process it is the daemon.
const EnvDaemonized = envPrefix + "DAEMONIZED"

// configKeys returns every configuration key in the key table's order, and
// the keys that hold lists, from what Describe prints for the defaults: a key
// line is "key: value", a list is "key: []" when empty or "key:" followed by
// "  - entry" lines.
var configKeys = sync.OnceValues(func() (keys []string, lists map[string]bool) {
	var b strings.Builder
	Default().Describe(&b)
	lists = map[string]bool{}
	for _, line := range strings.Split(b.String(), "\n") {
		if line == "" || strings.HasPrefix(line, " ") {
			continue
		}
		k, v, _ := strings.Cut(line, ":")
		keys = append(keys, k)
		if v = strings.TrimSpace(v); v == "[]" || v == "" && !strings.Contains(line, ": ") {
			lists[k] = true
		}
	}
	return keys, lists
})

// envVar returns the variable for key, e.g. DYNOMITE_DYN_LISTEN.
func envVar(key string) string { return envPrefix + strings.ToUpper(key) }

// envIgnored are DYNOMITE_* variables that are not configuration keys and
// are not worth a warning.
var envIgnored = map[string]bool{EnvDaemonized: true}

// LoadOrEnv reads the configuration file at path or, when it does not exist
// and DYNOMITE_* variables are set, the configuration they describe (see the
// list above). Without a file and without variables it fails as Load does.
func LoadOrEnv(path string) (*Config, error) {
	return loadOrEnv(path, os.LookupEnv, os.Environ)
}

// loadOrEnv is LoadOrEnv with the environment passed in, for tests.
func loadOrEnv(path string, lookup func(string) (string, bool), environ func() []string) (*Config, error) {
	set := envSet(lookup)
	_, statErr := os.Stat(path)
	if len(set) == 0 || !errors.Is(statErr, fs.ErrNotExist) {
		cfg, err := Load(path)
		if err == nil && len(set) > 0 {
			cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("%s: %s set but ignored: the file %s exists and wins",
				envSource, strings.Join(set, ", "), path))
		}
		return cfg, err
	}
	data, err := envYAML(lookup)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", envSource, err)
	}
	cfg, err := Parse(data, envSource)
	var perr *Errors
	if errors.As(err, &perr) {
		for i := range perr.Problems {
			p := &perr.Problems[i]
			p.Line = 0
			if p.Key != "" {
				p.Key = envVar(p.Key)
			}
		}
		return nil, perr
	}
	if err != nil {
		return nil, err
	}
	for i, w := range cfg.Warnings {
		cfg.Warnings[i] = envWarning(w)
	}
	cfg.Warnings = append([]string{fmt.Sprintf("%s: the configuration comes from %s (%s does not exist)",
		envSource, strings.Join(set, ", "), path)}, cfg.Warnings...)
	cfg.Warnings = append(cfg.Warnings, unknownEnv(environ())...)
	return cfg, nil
}

// envSet lists the configuration variables that are set and not empty.
func envSet(lookup func(string) (string, bool)) []string {
	var set []string
	if v, ok := lookup(envPool); ok && v != "" {
		set = append(set, envPool)
	}
	keys, _ := configKeys()
	for _, k := range keys {
		if v, ok := lookup(envVar(k)); ok && v != "" {
			set = append(set, envVar(k))
		}
	}
	return set
}

// envYAML writes the configuration file the variables describe, in
// upstream's format and the key table's order. The encoder quotes whatever
// needs it; a line break in a value reaches Parse, which rejects it.
func envYAML(lookup func(string) (string, bool)) ([]byte, error) {
	pool := "dyn_o_mite"
	if v, ok := lookup(envPool); ok && v != "" {
		pool = v
	}
	body := &yaml.Node{Kind: yaml.MappingNode}
	keys, lists := configKeys()
	for _, k := range keys {
		v, ok := lookup(envVar(k))
		if !ok || v == "" {
			continue
		}
		var val *yaml.Node
		if lists[k] {
			val = &yaml.Node{Kind: yaml.SequenceNode}
			for _, item := range splitList(v) {
				val.Content = append(val.Content, str(item))
			}
		} else {
			val = str(v)
		}
		body.Content = append(body.Content, str(k), val)
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{
		{Kind: yaml.MappingNode, Content: []*yaml.Node{str(pool), body}},
	}}
	return yaml.Marshal(doc)
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// splitList splits a list variable on "|" or, when there is none, on ",".
// Empty entries are kept so that Parse reports them.
func splitList(v string) []string {
	sep := ","
	if strings.Contains(v, "|") {
		sep = "|"
	}
	parts := strings.Split(v, sep)
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// warningPrefix matches the "environment:LINE: key:" start of a warning
// from Parse.
var warningPrefix = regexp.MustCompile(`^` + regexp.QuoteMeta(envSource) + `:\d+: ([a-z_]+): `)

// envWarning rewrites a warning from Parse to name the variable, not the
// key and a line of the generated file.
func envWarning(w string) string {
	if m := warningPrefix.FindStringSubmatch(w); m != nil {
		return envSource + ": " + envVar(m[1]) + ": " + w[len(m[0]):]
	}
	return w
}

// unknownEnv warns about DYNOMITE_* variables that name no key.
func unknownEnv(environ []string) []string {
	known := map[string]bool{envPool: true}
	keys, _ := configKeys()
	for _, k := range keys {
		known[envVar(k)] = true
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || known[name] || envIgnored[name] {
			continue
		}
		msg := fmt.Sprintf("%s: %s is not a configuration variable and is ignored", envSource, name)
		if s := closestEnv(name, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		out = append(out, msg)
	}
	sort.Strings(out)
	return out
}

// closestEnv returns the known variable within two edits of name, if any.
func closestEnv(name string, known map[string]bool) string {
	best, bestD := "", 3
	for k := range known {
		if d := EditDistance(name, k); d < bestD || (d == bestD && d < 3 && k < best) {
			best, bestD = k, d
		}
	}
	return best
}
