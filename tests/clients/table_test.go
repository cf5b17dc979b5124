package clients

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/dynomite-go/dynomite/tests/internal/repo"
)

// The client × feature table. Every test of this package calls record once
// per feature it tries with a client, with the error the client returned
// (nil: it worked). After the tests, TestMain either writes the table to
// docs/clients.md (UPDATE_CLIENTS_DOC=1) or checks that every cell this run
// recorded says what docs/clients.md says (yes or no), so the document is
// the output of the last run and a change in what works fails the run.
//
// Features are named "area: what", for example "transactions: MULTI/EXEC
// pipeline"; rows are sorted by name, so one area's rows stay together
// (pub/sub and memcached rows come from their own files of this package).

// docPath is the table's document, relative to the repository root.
const docPath = "docs/clients.md"

// clientOrder is the column order; a client not listed comes after these,
// in name order.
var clientOrder = []string{"go-redis", "rueidis", "valkey-go", "redis-py", "node-redis", "ruby-redis", "php-redis"}

type cell struct {
	ok  bool
	err string // the error, when !ok
}

var table = struct {
	sync.Mutex
	cells map[[2]string]cell // [feature, client]
}{cells: map[[2]string]cell{}}

// record notes whether feature works with client: err is what the client
// returned, nil when it worked. It logs a failure but does not fail the
// test: the table is checked against docs/clients.md after the run.
func record(t testing.TB, client, feature string, err error) {
	t.Helper()
	if strings.ContainsAny(client+feature, "|\n") {
		t.Fatalf("record: client %q and feature %q must not hold '|' or newlines", client, feature)
	}
	c := cell{ok: err == nil}
	if err != nil {
		c.err = normalizeError(err.Error())
		t.Logf("%s / %s: no: %s", client, feature, c.err)
	}
	table.Lock()
	defer table.Unlock()
	k := [2]string{feature, client}
	if old, seen := table.cells[k]; seen && old.ok && !c.ok || !seen {
		table.cells[k] = c // a feature tried twice counts as failed if either try failed
	}
}

var portRE = regexp.MustCompile(`(127\.0\.0\.1|localhost):\d+`)

// normalizeError makes an error fit a table cell and compare across runs:
// one line, no ports, at most 120 bytes.
func normalizeError(s string) string {
	s = portRE.ReplaceAllString(s, "$1:PORT")
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if code == 0 {
		if err := finishTable(os.Getenv("UPDATE_CLIENTS_DOC") == "1"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	cleanupBinary()
	os.Exit(code)
}

func finishTable(update bool) error {
	table.Lock()
	defer table.Unlock()
	if len(table.cells) == 0 {
		return nil
	}
	root, err := repo.Root()
	if err != nil {
		return err
	}
	path := filepath.Join(root, docPath)
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	docCells := parseDoc(string(old))
	if update {
		// cells this run did not try (a client not installed here, a test
		// not selected) keep what the document said
		merged := map[[2]string]cell{}
		for k, c := range docCells {
			merged[k] = c
		}
		for k, c := range table.cells {
			merged[k] = c
		}
		return os.WriteFile(path, []byte(renderDoc(merged)), 0o644)
	}
	var diffs []string
	for k, c := range table.cells {
		d, ok := docCells[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s / %s: %s, not in %s", k[1], k[0], status(c), docPath))
		case d.ok != c.ok:
			diffs = append(diffs, fmt.Sprintf("%s / %s: %s, %s says %s", k[1], k[0], status(c), docPath, status(d)))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		return fmt.Errorf("the client table differs from %s (run with UPDATE_CLIENTS_DOC=1 to rewrite it):\n  %s", docPath, strings.Join(diffs, "\n  "))
	}
	return nil
}

func status(c cell) string {
	if c.ok {
		return "yes"
	}
	return "no (" + c.err + ")"
}

const docHead = `# Client compatibility

Which features work with each client library, with the client's default
settings, against a three-rack cluster of dynomite processes (one node per
rack, each in front of its own redis-server; for the memcached clients'
"memcached: ..." rows, memcached). This file is written by the
compatibility suite and checked by it; do not edit it by hand:

    cd tests && UPDATE_CLIENTS_DOC=1 go test -count=1 ./clients/   # rewrite
    cd tests && go test -count=1 ./clients/                         # check

"yes": the feature worked through the proxy as it does against the datastore.
"no [n]": it failed; note n gives the client's error. A blank cell was not
tried. How each feature is served is in [compatibility.md](compatibility.md).

`

// renderDoc writes the table with rows sorted by feature and columns in
// clientOrder.
func renderDoc(cells map[[2]string]cell) string {
	var features, clients []string
	for k := range cells {
		if !slices.Contains(features, k[0]) {
			features = append(features, k[0])
		}
		if !slices.Contains(clients, k[1]) {
			clients = append(clients, k[1])
		}
	}
	sort.Strings(features)
	sort.Slice(clients, func(i, j int) bool {
		a, b := slices.Index(clientOrder, clients[i]), slices.Index(clientOrder, clients[j])
		if a < 0 {
			a = len(clientOrder)
		}
		if b < 0 {
			b = len(clientOrder)
		}
		if a != b {
			return a < b
		}
		return clients[i] < clients[j]
	})
	var sb strings.Builder
	sb.WriteString(docHead)
	sb.WriteString("| feature | " + strings.Join(clients, " | ") + " |\n|---|" + strings.Repeat("---|", len(clients)) + "\n")
	var notes []string
	for _, f := range features {
		sb.WriteString("| " + f + " |")
		for _, cl := range clients {
			c, ok := cells[[2]string{f, cl}]
			switch {
			case !ok:
				sb.WriteString("  |")
			case c.ok:
				sb.WriteString(" yes |")
			default:
				notes = append(notes, c.err)
				fmt.Fprintf(&sb, " no [%d] |", len(notes))
			}
		}
		sb.WriteString("\n")
	}
	if len(notes) > 0 {
		sb.WriteString("\nNotes:\n\n")
		for i, n := range notes {
			fmt.Fprintf(&sb, "%d. `%s`\n", i+1, strings.ReplaceAll(n, "`", "'"))
		}
	}
	return sb.String()
}

var noteRE = regexp.MustCompile("^(\\d+)\\. `(.*)`$")

// parseDoc reads the cells back from a document renderDoc wrote.
func parseDoc(doc string) map[[2]string]cell {
	cells := map[[2]string]cell{}
	notes := map[string]string{}
	var header []string
	var rows [][]string
	for _, line := range strings.Split(doc, "\n") {
		if m := noteRE.FindStringSubmatch(line); m != nil {
			notes[m[1]] = m[2]
			continue
		}
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") {
			continue
		}
		f := strings.Split(strings.Trim(line, "|"), "|")
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		if header == nil {
			header = f
			continue
		}
		rows = append(rows, f)
	}
	for _, r := range rows {
		for i := 1; i < len(r) && i < len(header); i++ {
			switch v := r[i]; {
			case v == "yes":
				cells[[2]string{r[0], header[i]}] = cell{ok: true}
			case strings.HasPrefix(v, "no ["):
				n := strings.TrimSuffix(strings.TrimPrefix(v, "no ["), "]")
				cells[[2]string{r[0], header[i]}] = cell{err: notes[n]}
			}
		}
	}
	return cells
}

func TestTableRoundTrip(t *testing.T) {
	in := map[[2]string]cell{
		{"b: two", "rueidis"}:  {ok: true},
		{"a: one", "go-redis"}: {err: "ERR x"},
		{"a: one", "zzz"}:      {ok: true},
	}
	doc := renderDoc(in)
	out := parseDoc(doc)
	if len(out) != len(in) {
		t.Fatalf("parsed %d cells from\n%s", len(out), doc)
	}
	for k, c := range in {
		if out[k] != c {
			t.Errorf("%v: got %+v, want %+v\n%s", k, out[k], c, doc)
		}
	}
	if i, j := strings.Index(doc, "go-redis"), strings.Index(doc, "rueidis"); i > j {
		t.Errorf("columns not in clientOrder:\n%s", doc)
	}
}
