// Package terraform_test checks the Terraform modules under terraform/ without
// terraform, providers or a network: every file parses and is formatted, every
// module has the standard shape and documents its inputs and outputs, every
// module call passes only declared variables and all the required ones, every
// reference names something that exists, the EC2 tag keys equal the constants
// the seed provider reads, and the node configuration that cloud-init writes,
// rendered from the module's template, is accepted by proxy/config and by
// `dynomite -t` (the binary, built by the test).
//
// `make tf-check` runs it with terraform fmt and tflint; `make tf-validate`
// adds terraform validate against a locally built AWS provider.
package terraform_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"
	"github.com/zclconf/go-cty/cty"
	"gopkg.in/yaml.v3"

	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/seedprovider/ec2"
)

const (
	regionModule = "modules/dynomite-region"
	exampleDir   = "examples/two-region"
	tagsFile     = regionModule + "/tags.tf"
	// goTagsFile holds the seed provider's tag key constants, relative to
	// terraform/, where the test runs (main_test.go). The test imports the package for the values and reads
	// the file for the list of Tag* constants, so a new one is not missed.
	goTagsFile = "../seedprovider/ec2/tags.go"
)

// tfFiles lists every .tf file under terraform/, skipping .terraform.
func tfFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".terraform") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".tf") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no .tf files under terraform/")
	}
	return files
}

// moduleDirs lists the directories that hold .tf files: the modules and the
// examples.
func moduleDirs(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	var dirs []string
	for _, f := range tfFiles(t) {
		d := filepath.Dir(f)
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	sort.Strings(dirs)
	return dirs
}

// parseDir parses every .tf file of one directory.
func parseDir(t *testing.T, dir string) []*hclsyntax.Body {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	p := hclparse.NewParser()
	var bodies []*hclsyntax.Body
	for _, m := range matches {
		f, diags := p.ParseHCLFile(m)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", m, diags.Error())
		}
		bodies = append(bodies, f.Body.(*hclsyntax.Body))
	}
	return bodies
}

// loadModule reads a module with terraform-config-inspect, failing on any
// diagnostic.
func loadModule(t *testing.T, dir string) *tfconfig.Module {
	t.Helper()
	m, diags := tfconfig.LoadModule(dir)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", dir, diags.Error())
	}
	return m
}

func TestFilesParseAndAreFormatted(t *testing.T) {
	p := hclparse.NewParser()
	for _, f := range tfFiles(t) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, diags := p.ParseHCL(src, f); diags.HasErrors() {
			t.Errorf("%s does not parse: %s", f, diags.Error())
			continue
		}
		// terraform fmt is hclwrite.Format plus a few rewrites; the real
		// `terraform fmt -check` runs in make tf-check.
		if got := hclwrite.Format(src); !bytes.Equal(got, src) {
			t.Errorf("%s is not formatted: run terraform fmt -recursive terraform/", f)
		}
	}
}

func TestModuleShape(t *testing.T) {
	for _, dir := range moduleDirs(t) {
		t.Run(dir, func(t *testing.T) {
			for _, f := range []string{"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("missing %s", f)
				}
			}
			m := loadModule(t, dir)
			readme, _ := os.ReadFile(filepath.Join(dir, "README.md"))
			if len(m.RequiredCore) == 0 {
				t.Error("versions.tf has no required_version")
			}
			aws, ok := m.RequiredProviders["aws"]
			switch {
			case !ok:
				t.Error("versions.tf does not require the aws provider")
			case aws.Source != "hashicorp/aws":
				t.Errorf("aws provider source %q, want hashicorp/aws", aws.Source)
			case len(aws.VersionConstraints) == 0:
				t.Error("the aws provider is not pinned (no version constraint)")
			}
			for name, v := range m.Variables {
				if v.Description == "" {
					t.Errorf("variable %s has no description", name)
				}
				if v.Type == "" {
					t.Errorf("variable %s has no type", name)
				}
				if !bytes.Contains(readme, []byte("`"+name+"`")) {
					t.Errorf("README.md does not list input `%s`", name)
				}
			}
			for name, o := range m.Outputs {
				if o.Description == "" {
					t.Errorf("output %s has no description", name)
				}
				if !bytes.Contains(readme, []byte("`"+name+"`")) {
					t.Errorf("README.md does not list output `%s`", name)
				}
			}
		})
	}
}

// metaArgs are the module block arguments that are not input variables.
var metaArgs = map[string]bool{"source": true, "version": true, "providers": true, "count": true, "for_each": true, "depends_on": true}

func TestModuleCalls(t *testing.T) {
	calls := 0
	for _, dir := range moduleDirs(t) {
		for _, body := range parseDir(t, dir) {
			for _, b := range body.Blocks {
				if b.Type != "module" {
					continue
				}
				calls++
				name := dir + ": module " + b.Labels[0]
				callee, ok := localSource(t, dir, b)
				if !ok {
					t.Errorf("%s: source is not a local path", name)
					continue
				}
				m := loadModule(t, callee)
				passed := map[string]bool{}
				for arg := range b.Body.Attributes {
					if metaArgs[arg] {
						continue
					}
					passed[arg] = true
					if _, ok := m.Variables[arg]; !ok {
						t.Errorf("%s passes %s, which %s does not declare", name, arg, callee)
					}
				}
				for v, decl := range m.Variables {
					if decl.Required && !passed[v] {
						t.Errorf("%s does not pass the required variable %s", name, v)
					}
				}
				checkProviders(t, name, b, m)
			}
		}
	}
	if calls == 0 {
		t.Fatal("no module calls found")
	}
}

// localSource resolves a module block's literal local source against dir.
func localSource(t *testing.T, dir string, b *hclsyntax.Block) (string, bool) {
	t.Helper()
	attr, ok := b.Body.Attributes["source"]
	if !ok {
		return "", false
	}
	v, diags := attr.Expr.Value(nil)
	if diags.HasErrors() || !v.Type().Equals(cty.String) {
		return "", false
	}
	src := v.AsString()
	if !strings.HasPrefix(src, "./") && !strings.HasPrefix(src, "../") {
		return "", false
	}
	return filepath.Join(dir, src), true
}

// checkProviders compares a call's providers map with the callee's needs:
// with configuration_aliases, exactly those aliases.
func checkProviders(t *testing.T, name string, b *hclsyntax.Block, m *tfconfig.Module) {
	t.Helper()
	want := map[string]bool{}
	for local, req := range m.RequiredProviders {
		for _, a := range req.ConfigurationAliases {
			want[local+"."+a.Alias] = true
		}
	}
	got := map[string]bool{}
	if attr, ok := b.Body.Attributes["providers"]; ok {
		obj, ok := attr.Expr.(*hclsyntax.ObjectConsExpr)
		if !ok {
			t.Errorf("%s: providers is not an object", name)
			return
		}
		for _, item := range obj.Items {
			got[traversalName(t, item.KeyExpr)] = true
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("%s does not pass provider %s", name, k)
		}
	}
	if len(want) > 0 {
		for k := range got {
			if !want[k] {
				t.Errorf("%s passes provider %s, which the module does not declare", name, k)
			}
		}
	}
}

// traversalName renders a key expression such as aws.requester.
func traversalName(t *testing.T, e hclsyntax.Expression) string {
	t.Helper()
	if k, ok := e.(*hclsyntax.ObjectConsKeyExpr); ok {
		e = k.Wrapped
	}
	trav, diags := hcl.AbsTraversalForExpr(e)
	if diags.HasErrors() {
		t.Fatalf("%s: not a provider reference", e.Range())
	}
	parts := []string{trav.RootName()}
	for _, step := range trav[1:] {
		if a, ok := step.(hcl.TraverseAttr); ok {
			parts = append(parts, a.Name)
		}
	}
	return strings.Join(parts, ".")
}

// symbols is what one module declares.
type symbols struct {
	mod     *tfconfig.Module
	locals  map[string]bool
	callees map[string]*tfconfig.Module
}

func TestReferences(t *testing.T) {
	for _, dir := range moduleDirs(t) {
		t.Run(dir, func(t *testing.T) {
			bodies := parseDir(t, dir)
			s := symbols{mod: loadModule(t, dir), locals: map[string]bool{}, callees: map[string]*tfconfig.Module{}}
			for _, body := range bodies {
				for _, b := range body.Blocks {
					switch b.Type {
					case "locals":
						for name := range b.Body.Attributes {
							if s.locals[name] {
								t.Errorf("local.%s is defined twice", name)
							}
							s.locals[name] = true
						}
					case "module":
						if callee, ok := localSource(t, dir, b); ok {
							s.callees[b.Labels[0]] = loadModule(t, callee)
						}
					}
				}
			}
			outputs := 0
			for _, body := range bodies {
				for _, b := range body.Blocks {
					if b.Type == "output" {
						outputs++
					}
					if b.Type != "terraform" { // settings, not values
						checkBody(t, &s, b, map[string]bool{})
					}
				}
			}
			if outputs == 0 {
				t.Error("the module has no outputs")
			}
		})
	}
}

// checkBody checks every expression of a block, recursively. scope holds
// the names that dynamic blocks add (their iterators).
func checkBody(t *testing.T, s *symbols, block *hclsyntax.Block, scope map[string]bool) {
	t.Helper()
	body := block.Body
	for name, attr := range body.Attributes {
		switch {
		case name == "provider" || name == "providers":
			continue // provider configurations, not values
		case block.Type == "variable" && name == "type":
			continue // a type expression
		}
		for _, trav := range attr.Expr.Variables() {
			checkTraversal(t, s, trav, scope)
		}
	}
	for _, b := range body.Blocks {
		inner := scope
		if b.Type == "dynamic" {
			it := b.Labels[0]
			if a, ok := b.Body.Attributes["iterator"]; ok {
				it = hcl.ExprAsKeyword(a.Expr)
			}
			inner = map[string]bool{it: true}
			for k := range scope {
				inner[k] = true
			}
		}
		checkBody(t, s, b, inner)
	}
}

func checkTraversal(t *testing.T, s *symbols, trav hcl.Traversal, scope map[string]bool) {
	t.Helper()
	root := trav.RootName()
	at := trav.SourceRange().String()
	attr := func(i int) string {
		if i < len(trav) {
			if a, ok := trav[i].(hcl.TraverseAttr); ok {
				return a.Name
			}
		}
		return ""
	}
	switch {
	case scope[root], root == "path", root == "terraform", root == "count", root == "each", root == "self":
	case root == "var":
		if _, ok := s.mod.Variables[attr(1)]; !ok {
			t.Errorf("%s: var.%s is not declared", at, attr(1))
		}
	case root == "local":
		if !s.locals[attr(1)] {
			t.Errorf("%s: local.%s is not defined", at, attr(1))
		}
	case root == "module":
		callee, ok := s.callees[attr(1)]
		if !ok {
			t.Errorf("%s: module.%s is not called here", at, attr(1))
			return
		}
		if out := attr(2); out != "" {
			if _, ok := callee.Outputs[out]; !ok {
				t.Errorf("%s: module.%s has no output %s", at, attr(1), out)
			}
		}
	case root == "data":
		if _, ok := s.mod.DataResources["data."+attr(1)+"."+attr(2)]; !ok {
			t.Errorf("%s: data.%s.%s is not declared", at, attr(1), attr(2))
		}
	default:
		if _, ok := s.mod.ManagedResources[root+"."+attr(1)]; !ok {
			t.Errorf("%s: %s.%s is not a resource of this module", at, root, attr(1))
		}
	}
}

// templateCall is one templatefile("${path.module}/templates/X", {...}).
type templateCall struct {
	at       string
	template string   // path relative to terraform/
	vars     []string // the names the call passes
}

// templateCalls finds every templatefile call in a module directory.
func templateCalls(t *testing.T, dir string) []templateCall {
	t.Helper()
	var calls []templateCall
	for _, body := range parseDir(t, dir) {
		hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			fc, ok := n.(*hclsyntax.FunctionCallExpr)
			if !ok || fc.Name != "templatefile" {
				return nil
			}
			c := templateCall{at: fc.Range().String()}
			if len(fc.Args) != 2 {
				t.Errorf("%s: templatefile needs a path and a vars object", c.at)
				return nil
			}
			tmpl, ok := fc.Args[0].(*hclsyntax.TemplateExpr)
			if !ok || len(tmpl.Parts) != 2 {
				t.Errorf("%s: the template path must be \"${path.module}/...\"", c.at)
				return nil
			}
			v, diags := tmpl.Parts[1].Value(nil)
			if diags.HasErrors() || !v.Type().Equals(cty.String) || !isPathModule(tmpl.Parts[0]) {
				t.Errorf("%s: the template path must be \"${path.module}/<literal>\"", c.at)
				return nil
			}
			c.template = filepath.Join(dir, v.AsString())
			obj, ok := fc.Args[1].(*hclsyntax.ObjectConsExpr)
			if !ok {
				t.Errorf("%s: the template variables must be an object literal", c.at)
				return nil
			}
			for _, item := range obj.Items {
				c.vars = append(c.vars, hcl.ExprAsKeyword(item.KeyExpr))
			}
			calls = append(calls, c)
			return nil
		})
	}
	return calls
}

// isPathModule reports whether e is path.module.
func isPathModule(e hclsyntax.Expression) bool {
	st, ok := e.(*hclsyntax.ScopeTraversalExpr)
	if !ok || len(st.Traversal) != 2 || st.Traversal.RootName() != "path" {
		return false
	}
	a, ok := st.Traversal[1].(hcl.TraverseAttr)
	return ok && a.Name == "module"
}

// templateVar is the only template syntax the module's templates use:
// ${name}, so the Go side can render them exactly as templatefile does.
var templateVar = regexp.MustCompile(`\$\{([a-zA-Z_][a-zA-Z0-9_]*)\}`)

// render substitutes ${name} as templatefile does for a template that uses
// nothing else (checked by templateNames).
func render(t *testing.T, path string, vars map[string]string) string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	names := templateNames(t, path, string(src))
	for n := range names {
		if _, ok := vars[n]; !ok {
			t.Fatalf("%s: no value for ${%s}", path, n)
		}
	}
	return templateVar.ReplaceAllStringFunc(string(src), func(m string) string {
		return vars[m[2:len(m)-1]]
	})
}

// templateNames returns the variables a template uses and fails when it
// uses any other template syntax (directives, escapes, expressions).
func templateNames(t *testing.T, path, src string) map[string]bool {
	t.Helper()
	if strings.Contains(src, "%{") || strings.Contains(src, "$${") {
		t.Fatalf("%s: only ${name} substitutions are allowed (the Go test renders the template)", path)
	}
	names := map[string]bool{}
	for _, m := range templateVar.FindAllStringSubmatch(src, -1) {
		names[m[1]] = true
	}
	if n := strings.Count(src, "${"); n != len(templateVar.FindAllString(src, -1)) {
		t.Fatalf("%s: every ${...} must be a plain variable name", path)
	}
	return names
}

func TestTemplateVariables(t *testing.T) {
	found := 0
	for _, dir := range moduleDirs(t) {
		for _, c := range templateCalls(t, dir) {
			found++
			src, err := os.ReadFile(c.template)
			if err != nil {
				t.Errorf("%s: %v", c.at, err)
				continue
			}
			used := templateNames(t, c.template, string(src))
			passed := map[string]bool{}
			for _, v := range c.vars {
				passed[v] = true
				if !used[v] {
					t.Errorf("%s passes %s, which %s does not use", c.at, v, c.template)
				}
			}
			for v := range used {
				if !passed[v] {
					t.Errorf("%s does not pass %s, which %s uses (templatefile would fail)", c.at, v, c.template)
				}
			}
		}
	}
	if found == 0 {
		t.Fatal("no templatefile calls found")
	}
}

// terraformTagKeys reads the tag_keys local of tags.tf: role => key.
func terraformTagKeys(t *testing.T) map[string]string {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCLFile(tagsFile)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "locals" {
			continue
		}
		attr, ok := b.Body.Attributes["tag_keys"]
		if !ok {
			continue
		}
		v, diags := attr.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("%s: tag_keys must be literal strings: %s", tagsFile, diags.Error())
		}
		keys := map[string]string{}
		for role, key := range v.AsValueMap() {
			keys[role] = key.AsString()
		}
		return keys
	}
	t.Fatalf("%s has no locals block with tag_keys", tagsFile)
	return nil
}

// seedProviderTags are the seed provider's tag keys by role (the Terraform
// tag_keys name): the constants themselves, imported.
var seedProviderTags = map[string]string{
	"cluster":    ec2.TagCluster,
	"datacenter": ec2.TagDatacenter,
	"rack":       ec2.TagRack,
	"tokens":     ec2.TagTokens,
	"peer_port":  ec2.TagPeerPort,
}

// goTagRoles lists the roles of the Tag* constants declared in tags.go
// (TagPeerPort -> peer_port).
func goTagRoles(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), goTagsFile, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			for _, id := range spec.(*ast.ValueSpec).Names {
				if strings.HasPrefix(id.Name, "Tag") && len(id.Name) > 3 {
					roles = append(roles, snake(strings.TrimPrefix(id.Name, "Tag")))
				}
			}
		}
	}
	return roles
}

// snake turns PeerPort into peer_port.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestTagKeysMatchSeedProvider(t *testing.T) {
	tf := terraformTagKeys(t)
	// One source of truth in Terraform too: no other file spells a key.
	for _, f := range tfFiles(t) {
		if f == filepath.Clean(tagsFile) {
			continue
		}
		src, _ := os.ReadFile(f)
		for role, key := range tf {
			if bytes.Contains(src, []byte(strconv.Quote(key))) {
				t.Errorf("%s spells the %s tag key %q: use local.tag_keys or the tag_keys output", f, role, key)
			}
		}
	}
	for _, role := range goTagRoles(t) {
		if _, ok := seedProviderTags[role]; !ok {
			t.Errorf("%s declares Tag%s, which this test does not map: add it to seedProviderTags and to %s", goTagsFile, camel(role), tagsFile)
		}
	}
	for role, key := range seedProviderTags {
		switch got, ok := tf[role]; {
		case !ok:
			t.Errorf("seedprovider/ec2 reads Tag%s = %q; %s has no %s key", camel(role), key, tagsFile, role)
		case got != key:
			t.Errorf("tag key %s: Terraform writes %q, seedprovider/ec2 reads %q", role, got, key)
		}
	}
	for role, key := range tf {
		if _, ok := seedProviderTags[role]; !ok {
			t.Errorf("%s writes %s = %q, which seedprovider/ec2 does not read", tagsFile, role, key)
		}
	}
}

// camel turns peer_port into PeerPort, for messages.
func camel(s string) string {
	parts := strings.Split(s, "_")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "")
}

// defaultOf returns a variable's default as the template would see it.
func defaultOf(t *testing.T, m *tfconfig.Module, name string) string {
	t.Helper()
	v, ok := m.Variables[name]
	if !ok || v.Default == nil {
		t.Fatalf("variable %s has no default", name)
	}
	return fmt.Sprint(v.Default)
}

// nodeVars are the template values of node i of n in one rack, computed as
// main.tf computes them, from the module's and the example's defaults.
func nodeVars(t *testing.T, region, example *tfconfig.Module, dataStore, rack string, i, n int) map[string]string {
	t.Helper()
	ds := "0"
	if dataStore == "memcached" {
		ds = "1"
	}
	return map[string]string{
		"node_name":           fmt.Sprintf("dynomite-demo-us-east-1-%s-%d", rack, i),
		"cluster_name":        defaultOf(t, example, "cluster_name"),
		"datacenter":          defaultOf(t, example, "primary_region"),
		"rack":                rack,
		"tokens":              strconv.FormatUint(uint64(i)*(1<<32)/uint64(n), 10),
		"client_port":         defaultOf(t, region, "client_port"),
		"peer_port":           defaultOf(t, region, "peer_port"),
		"stats_port":          defaultOf(t, region, "stats_port"),
		"datastore_port":      defaultOf(t, region, "datastore_port"),
		"data_store":          ds,
		"read_consistency":    defaultOf(t, example, "read_consistency"),
		"write_consistency":   defaultOf(t, example, "write_consistency"),
		"enable_gossip":       defaultOf(t, region, "enable_gossip"),
		"gossip_port":         defaultOf(t, region, "gossip_port"),
		"ec2_regions":         defaultOf(t, example, "primary_region") + "," + defaultOf(t, example, "secondary_region"),
		"remote_peer_address": defaultOf(t, region, "remote_peer_address"),
	}
}

// primaryZone is the example's first zone.
func primaryZone(t *testing.T, example *tfconfig.Module) string {
	t.Helper()
	zones, ok := example.Variables["primary_zones"].Default.([]any)
	if !ok || len(zones) == 0 {
		t.Fatal("the example's primary_zones has no default zones")
	}
	return fmt.Sprint(zones[0])
}

// checkNodeConfig checks a rendered node configuration twice: parsed with
// proxy/config, and with `dynomite -t` itself (the binary, built once), which
// must print that the syntax is valid and exit 0.
func checkNodeConfig(t *testing.T, rendered string) {
	t.Helper()
	checkEC2Settings(t, rendered)
	if _, err := config.Parse([]byte(rendered), "dynomite.yml"); err != nil {
		t.Fatalf("the node configuration is rejected:\n%v\n--- rendered:\n%s", err, rendered)
	}
	f := filepath.Join(t.TempDir(), "dynomite.yml")
	if err := os.WriteFile(f, []byte(rendered), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dynomiteBinary(t), "-t", "-c", f)
	// -t reads the file only: no metadata service, no provider is contacted
	cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "syntax is valid") {
		t.Fatalf("dynomite -t rejects the node configuration (%v):\n%s\n--- rendered:\n%s", err, out, rendered)
	}
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// dynomiteBinary builds cmd/dynomite once per test run, with the test's own
// race setting so that the packages the test compiled are reused.
func dynomiteBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dynomite-tf-test")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "dynomite")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "../cmd/dynomite")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ../cmd/dynomite: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// checkEC2Settings checks the seed provider's part of a node configuration
// with seedprovider/ec2 itself: the provider name, only keys it defines, and
// values its Config.Validate accepts.
func checkEC2Settings(t *testing.T, rendered string) {
	t.Helper()
	var doc map[string]map[string]any
	if err := yaml.Unmarshal([]byte(rendered), &doc); err != nil {
		t.Fatalf("the node configuration is not YAML: %v", err)
	}
	keys := map[string]string{}
	for k, v := range doc["dyn_o_mite"] {
		keys[k] = fmt.Sprint(v)
	}
	if got := keys["dyn_seed_provider"]; got != ec2.Name {
		t.Errorf("dyn_seed_provider is %q, want %q", got, ec2.Name)
	}
	known := map[string]bool{
		ec2.KeyRegions: true, ec2.KeyClusterTagKey: true, ec2.KeyClusterTagValue: true,
		ec2.KeyPeerAddress: true, ec2.KeyPeerPort: true, ec2.KeyEndpoint: true,
	}
	for k := range keys {
		if strings.HasPrefix(k, "ec2_") && !known[k] {
			t.Errorf("%s is not a key of seedprovider/ec2", k)
		}
	}
	port, err := strconv.Atoi(keys[ec2.KeyPeerPort])
	if err != nil {
		t.Errorf("%s: %v", ec2.KeyPeerPort, err)
	}
	if want := "0.0.0.0:" + keys[ec2.KeyPeerPort]; keys["dyn_listen"] != want {
		t.Errorf("dyn_listen is %q but %s says %d: peers would dial the wrong port", keys["dyn_listen"], ec2.KeyPeerPort, port)
	}
	regions := ec2.ParseRegions(keys[ec2.KeyRegions])
	if len(regions) == 0 {
		t.Fatalf("%s is empty", ec2.KeyRegions)
	}
	cfg := ec2.Config{
		Regions:         regions,
		ClusterTagKey:   keys[ec2.KeyClusterTagKey],
		ClusterTagValue: keys[ec2.KeyClusterTagValue],
		PeerAddress:     keys[ec2.KeyPeerAddress],
		PeerPort:        port,
		Endpoint:        keys[ec2.KeyEndpoint],
		LocalRegion:     regions[0],
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("seedprovider/ec2 rejects the node's settings: %v", err)
	}
}

func TestNodeConfigAccepted(t *testing.T) {
	region := loadModule(t, regionModule)
	example := loadModule(t, exampleDir)
	tmpl := filepath.Join(regionModule, "templates", "dynomite.yml.tftpl")
	for _, ds := range []string{"redis", "memcached"} {
		for _, n := range []int{1, 3} {
			for i := 0; i < n; i++ {
				t.Run(fmt.Sprintf("%s/node-%d-of-%d", ds, i, n), func(t *testing.T) {
					// The default rack name is the zone's.
					vars := nodeVars(t, region, example, ds, primaryZone(t, example), i, n)
					cfg := render(t, tmpl, vars)
					for _, want := range []string{"env: aws", "dyn_seed_provider: ec2_provider"} {
						if !strings.Contains(cfg, "\n  "+want+"\n") {
							t.Errorf("the node configuration lacks %q", want)
						}
					}
					checkNodeConfig(t, cfg)
				})
			}
		}
	}
}

func TestCloudInitWritesNodeConfig(t *testing.T) {
	region := loadModule(t, regionModule)
	example := loadModule(t, exampleDir)
	vars := nodeVars(t, region, example, "redis", primaryZone(t, example), 0, 3)
	cfg := render(t, filepath.Join(regionModule, "templates", "dynomite.yml.tftpl"), vars)
	ci := render(t, filepath.Join(regionModule, "templates", "cloud-init.yaml.tftpl"), map[string]string{
		"dynomite_config_b64": base64.StdEncoding.EncodeToString([]byte(cfg)),
		"dynomite_image":      "123456789012.dkr.ecr.us-east-1.amazonaws.com/dynomite:v1",
		"datastore_image":     defaultOf(t, example, "datastore_image"),
		"datastore_command":   `redis-server --port 22122 --bind 127.0.0.1 --protected-mode no --save "" --appendonly no --maxmemory 1024mb`,
		"data_store":          "redis",
		"stats_port":          vars["stats_port"],
	})
	if !strings.HasPrefix(ci, "#cloud-config\n") {
		t.Fatal("the user data does not start with #cloud-config")
	}
	var doc struct {
		WriteFiles []struct {
			Path, Permissions, Encoding, Content string
		} `yaml:"write_files"`
		Runcmd [][]string `yaml:"runcmd"`
	}
	if err := yaml.Unmarshal([]byte(ci), &doc); err != nil {
		t.Fatalf("the cloud-init document is not YAML: %v", err)
	}
	files := map[string]string{}
	for _, f := range doc.WriteFiles {
		content := f.Content
		if f.Encoding == "b64" {
			b, err := base64.StdEncoding.DecodeString(content)
			if err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			content = string(b)
		}
		files[f.Path] = content
	}
	written, ok := files["/etc/dynomite/dynomite.yml"]
	if !ok {
		t.Fatal("cloud-init does not write /etc/dynomite/dynomite.yml")
	}
	if written != cfg {
		t.Fatal("cloud-init writes a different node configuration than the template renders")
	}
	unit := files["/etc/systemd/system/dynomite.service"]
	if !strings.Contains(unit, "-c /etc/dynomite/dynomite.yml") || !strings.Contains(unit, "dynomite:v1") {
		t.Errorf("dynomite.service does not run the image with the file:\n%s", unit)
	}
	if !strings.Contains(files["/etc/systemd/system/dynomite-datastore.service"], "redis-server --port 22122") {
		t.Error("dynomite-datastore.service does not run redis-server on the datastore port")
	}
	if len(doc.Runcmd) == 0 {
		t.Error("cloud-init starts nothing (no runcmd)")
	}
	checkNodeConfig(t, written)
}
