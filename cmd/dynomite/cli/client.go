package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// exitUnreachable is the exit code of a node that cannot be reached.
const exitUnreachable = 2

// unreachable is a request that never got an answer.
type unreachable struct {
	addr string
	err  error
}

func (u *unreachable) Error() string {
	return fmt.Sprintf("cannot reach the stats listener at %s: %s", u.addr, cause(u.err))
}

// cause is the innermost reason of a failed request ("connection refused",
// "i/o timeout", "no such host"), without the URL and the dial's
// addresses, which the message gives once.
func cause(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) {
			return sys.Err.Error()
		}
		return op.Err.Error()
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.Err + " (" + dns.Name + ")"
	}
	return err.Error()
}

// response is an answer of the stats listener.
type response struct {
	code int
	body []byte
}

// do sends one request to the stats listener, with the admin token when
// there is one.
func (e *env) do(method, path string) (*response, error) { return e.send(method, path, nil) }

// send is do with a JSON body (none when nil).
func (e *env) send(method, path string, body []byte) (*response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+e.addr+path, rd)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", e.addr, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	// one request per run: no idle connection kept; and the node is asked
	// directly, never through an HTTP_PROXY meant for the outside world
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	res, err := (&http.Client{Timeout: e.timeout, Transport: tr}).Do(req)
	if err != nil {
		return nil, &unreachable{e.addr, err}
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, &unreachable{e.addr, err}
	}
	return &response{res.StatusCode, answer}, nil
}

// getJSON reads path into v; a non-200 answer is an error quoting it.
func (e *env) getJSON(path string, v any) error {
	res, err := e.do(http.MethodGet, path)
	if err != nil {
		return err
	}
	if res.code != http.StatusOK {
		return e.refused(path, res)
	}
	if err := json.Unmarshal(res.body, v); err != nil {
		return fmt.Errorf("%s answered %s that is not the expected JSON: %w", e.addr+path, abbrev(res.body), err)
	}
	return nil
}

// refused words an answer other than 200: a node without the endpoint is
// an older version; a guarded endpoint wants the token.
func (e *env) refused(path string, res *response) error {
	msg := strings.TrimSpace(string(res.body))
	switch res.code {
	case http.StatusNotFound:
		return fmt.Errorf("the node at %s has no %s endpoint (%d): is it an older version?", e.addr, strings.SplitN(path, "?", 2)[0], res.code)
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%s refused (%d): %s; pass the node's stats_admin_token with --token or $%s", e.addr+path, res.code, msg, TokenEnv)
	}
	return fmt.Errorf("%s answered %d: %s", e.addr+path, res.code, msg)
}

func abbrev(b []byte) string {
	if len(b) > 120 {
		b = append(b[:120:120], "..."...)
	}
	return fmt.Sprintf("%q", b)
}

// fail prints err and returns its exit code: 2 for a node that cannot be
// reached, else 1.
func (e *env) fail(err error) int {
	fmt.Fprintf(e.stderr, "dynomite: %v\n", err)
	var u *unreachable
	if errors.As(err, &u) {
		return exitUnreachable
	}
	return 1
}

// printJSON prints v as the endpoints do.
func (e *env) printJSON(v any) int {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return e.fail(err)
	}
	return 0
}

// show runs a command without arguments that prints the JSON of path:
// it parses args, reads path into v and, with -o json, prints it. done is
// true when nothing is left to print (code is then the exit code);
// otherwise the caller prints v as a table.
func (e *env) show(args []string, path string, v any) (code int, done bool) {
	if _, ok := e.parse(args, 0, ""); !ok {
		return 2, true
	}
	if err := e.getJSON(path, v); err != nil {
		return e.fail(err), true
	}
	if e.output == "json" {
		return e.printJSON(v), true
	}
	return 0, false
}

// await polls GET path into *st every half second while running says the
// job it shows runs, for up to wait. name names the job in errors ("repair
// 4") and id tells whether the node still shows the same job: another one
// may have started meanwhile.
func await[T any](e *env, path string, wait time.Duration, st *T, running func(*T) bool, name func(*T) string, id func(*T) any) error {
	first, deadline := *st, time.Now().Add(wait)
	for running(st) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still running after %s; it goes on: see GET %s", name(st), wait, path)
		}
		time.Sleep(500 * time.Millisecond)
		var next T
		if err := e.getJSON(path, &next); err != nil {
			return err
		}
		if id(&next) != id(&first) {
			return fmt.Errorf("%s was followed by %s before it could be read; see GET %s", name(&first), name(&next), path)
		}
		*st = next
	}
	return nil
}
