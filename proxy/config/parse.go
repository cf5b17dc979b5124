package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/dynomite-go/dynomite/proxy/consistency"
)

// Load reads and parses the file at path. A file that cannot be read gives
// the wrapped os error; a file with problems gives an *Errors listing them.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse parses a configuration in upstream's format: one YAML document whose
// only root key is the pool name, holding the keys. filename is used in
// messages only. It starts from Default, applies the file, runs Validate, and
// returns either the Config or an *Errors listing every problem found, each
// with its line.
func Parse(data []byte, filename string) (*Config, error) {
	p := &parser{
		file:  filename,
		cfg:   Default(),
		lines: map[string]int{},
		bad:   map[string]bool{},
	}
	p.cfg.set = map[string]bool{}
	p.data = data
	if p.document(data) {
		p.validate()
	}
	if len(p.problems) > 0 {
		sort.SliceStable(p.problems, func(i, j int) bool {
			a, b := p.problems[i].Line, p.problems[j].Line
			return a != 0 && (b == 0 || a < b)
		})
		return nil, &Errors{File: filename, Problems: p.problems}
	}
	p.cfg.Warnings = p.warnings
	return p.cfg, nil
}

type parser struct {
	data     []byte
	file     string
	cfg      *Config
	lines    map[string]int  // key -> line of its first occurrence
	bad      map[string]bool // keys with a problem already reported
	problems []Problem
	warnings []string
}

func (p *parser) problem(line int, key, value, msg string) {
	p.problems = append(p.problems, Problem{Line: line, Key: key, Value: value, Msg: msg})
	if key != "" {
		p.bad[key] = true
	}
}

func (p *parser) warn(line int, key, msg string) {
	p.warnings = append(p.warnings, Problem{Line: line, Key: key, Msg: msg}.format(p.file))
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlProblem turns a yaml.v3 syntax error into a Problem with its line.
func (p *parser) yamlProblem(err error) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if strings.Contains(m[2], "tab character") {
			line = tabLine(p.data, line)
		}
		p.problem(line, "", "", "invalid YAML: "+m[2])
		return
	}
	p.problem(0, "", "", "invalid YAML: "+trimYAMLPrefix(msg))
}

// tabLine finds the first line, from line from on, indented with a tab: the
// YAML parser reports the line where the enclosing block starts instead.
func tabLine(data []byte, from int) int {
	for i, l := range bytes.Split(data, []byte("\n")) {
		if i+1 < from {
			continue
		}
		rest := bytes.TrimLeft(l, " \t")
		if len(rest) > 0 && bytes.IndexByte(l[:len(l)-len(rest)], '\t') >= 0 {
			return i + 1
		}
	}
	return from
}

func trimYAMLPrefix(s string) string {
	if len(s) > 6 && s[:6] == "yaml: " {
		return s[6:]
	}
	return s
}

// decode reads the next document, turning a parser panic into an error.
func decode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: the YAML parser failed: %v", r)
		}
	}()
	return dec.Decode(n)
}

// document checks the file's structure and applies its keys. It reports
// whether the pool mapping was found, so that validation makes sense.
func (p *parser) document(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := decode(dec, &doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.problem(0, "", "", "is empty: expected one root key (the pool name, e.g. dyn_o_mite) holding the settings")
		} else {
			p.yamlProblem(err)
		}
		return false
	}
	var extra yaml.Node
	switch err := decode(dec, &extra); {
	case err == nil:
		if len(extra.Content) > 0 && !isEmptyNode(extra.Content[0]) {
			p.problem(extra.Content[0].Line, "", "", "a second YAML document: the file must hold exactly one")
		}
	case !errors.Is(err, io.EOF):
		p.yamlProblem(err)
	}
	if len(doc.Content) == 0 || isEmptyNode(doc.Content[0]) {
		p.problem(0, "", "", "is empty: expected one root key (the pool name, e.g. dyn_o_mite) holding the settings")
		return false
	}
	root := doc.Content[0]
	if !p.plain(root, "") {
		return false
	}
	if root.Kind != yaml.MappingNode || len(root.Content) < 2 {
		p.problem(root.Line, "", "", "must be a mapping with one root key (the pool name, e.g. dyn_o_mite) holding the settings")
		return false
	}
	for i := 2; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		p.problem(k.Line, "", "", fmt.Sprintf("a second root key %q: the file must hold exactly one pool, %q", k.Value, root.Content[0].Value))
	}
	name, body := root.Content[0], root.Content[1]
	if !p.plain(name, "") {
		return false
	}
	if name.Kind != yaml.ScalarNode || name.Value == "" {
		p.problem(name.Line, "", "", "the root key must be the pool name, e.g. dyn_o_mite")
		return false
	}
	p.cfg.Pool = name.Value
	if !p.plain(body, "") {
		return false
	}
	if body.Kind != yaml.MappingNode {
		if body.Kind == yaml.ScalarNode && body.Value == "" {
			p.problem(name.Line, "", "", fmt.Sprintf("pool %q has no settings", name.Value))
		} else {
			p.problem(body.Line, "", "", fmt.Sprintf("pool %q must hold a mapping of settings (key: value, one per line)", name.Value))
		}
		return false
	}
	for i := 0; i+1 < len(body.Content); i += 2 {
		p.entry(body.Content[i], body.Content[i+1])
	}
	return true
}

// isEmptyNode reports a document with nothing in it, such as the one a
// trailing "---" opens.
func isEmptyNode(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "" && n.Style == 0
}

// plain reports, and returns false for, YAML features upstream's parser
// rejects: anchors, aliases, explicit tags and flow collections.
func (p *parser) plain(n *yaml.Node, key string) bool {
	switch {
	case n.Kind == yaml.AliasNode:
		p.problem(n.Line, key, "", "uses an alias (*"+n.Value+"); aliases are not allowed")
	case n.Anchor != "":
		p.problem(n.Line, key, "", "uses an anchor (&"+n.Anchor+"); anchors are not allowed")
	case n.Style&yaml.TaggedStyle != 0:
		p.problem(n.Line, key, "", "uses a tag ("+n.Tag+"); tags are not allowed")
	case n.Style&yaml.FlowStyle != 0 && (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode):
		p.problem(n.Line, key, "", "uses flow style ([...] or {...}); write one entry per line instead")
	default:
		return true
	}
	return false
}

// entry applies one "key: value" of the pool.
func (p *parser) entry(kn, vn *yaml.Node) {
	if !p.plain(kn, "") {
		return
	}
	if kn.Kind != yaml.ScalarNode {
		p.problem(kn.Line, "", "", "a key must be a plain name, not a list or a mapping")
		return
	}
	if kn.Value == "" {
		p.problem(kn.Line, "", "", "a key is empty")
		return
	}
	name := kn.Value
	k, ok := keyIndex[name]
	if !ok {
		msg := "is an unknown key"
		if s := suggest(name); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		p.problem(kn.Line, name, "", msg)
		return
	}
	if first, dup := p.lines[name]; dup {
		p.problem(kn.Line, name, "", fmt.Sprintf("is a duplicate (first set on line %d)", first))
		return
	}
	p.lines[name] = kn.Line
	if k.warn != "" {
		p.warn(kn.Line, name, k.warn)
	}
	if !p.plain(vn, name) {
		return
	}
	switch vn.Kind {
	case yaml.ScalarNode:
		p.apply(k, vn)
	case yaml.SequenceNode:
		if !k.seq {
			p.problem(vn.Line, name, "", "expects a single value, not a list")
			return
		}
		if len(vn.Content) == 0 {
			p.problem(vn.Line, name, "", "is an empty list")
			return
		}
		for _, item := range vn.Content {
			if !p.plain(item, name) {
				continue
			}
			if item.Kind != yaml.ScalarNode {
				p.problem(item.Line, name, "", "expects a list of values, not a nested list or mapping")
				continue
			}
			p.apply(k, item)
		}
	default:
		p.problem(vn.Line, name, "", "expects a value, not a mapping")
	}
}

// apply parses one scalar into the key's field.
func (p *parser) apply(k *key, n *yaml.Node) {
	s := n.Value
	if s == "" {
		p.problem(n.Line, k.name, "", "has an empty value")
		return
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		p.problem(n.Line, k.name, s, "contains a line break or another control character")
		return
	}
	v := k.val(p.cfg)
	if u, ok := v.(unsetter); ok && u.unset(s) {
		return // upstream's UNSET_NUM: 0 keeps the default
	}
	if err := v.set(s); err != nil {
		shown := s
		if r, ok := v.(redacter); ok {
			shown = r.redact(s)
		}
		p.problem(n.Line, k.name, shown, err.Error())
		return
	}
	if w, ok := v.(warner); ok {
		if msg := w.warnFor(s); msg != "" {
			p.warn(n.Line, k.name, msg)
		}
	}
	p.cfg.set[k.name] = true
}

// validate runs Validate's checks and places each problem on its key's line,
// leaving out keys that already have a problem.
func (p *parser) validate() {
	for _, pr := range p.cfg.problems() {
		if p.bad[pr.Key] {
			continue
		}
		pr.Line = p.lines[pr.Key]
		p.problems = append(p.problems, pr)
	}
	c := p.cfg
	if c.ReadRepairsEnabled && (c.ReadConsistency == consistency.DCOne || c.WriteConsistency == consistency.DCOne) {
		p.warn(p.lines["read_repairs_enabled"], "read_repairs_enabled",
			"has no effect unless read_consistency and write_consistency are both above DC_ONE")
	}
}

// suggest returns the known key closest to name, if it is close enough to be
// a typo.
func suggest(name string) string {
	best, bestD := "", 3
	for i := range keys {
		if d := EditDistance(name, keys[i].name); d < bestD {
			best, bestD = keys[i].name, d
		}
	}
	return best
}

// EditDistance is the Levenshtein distance between a and b, capped at 64
// (used to suggest a key for a typo; cmd suggests environment variables with it).
func EditDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
