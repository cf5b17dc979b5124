// Package florida is florida_provider: upstream's seed endpoint, an HTTP
// server (Netflix's Florida, or scripts/Florida/florida.js) that answers
// "host:port:rack:dc:tokens|..." in the body.
//
// Upstream writes a raw request on a TCP socket and scans the reply by hand;
// this provider sends the same request over net/http, with timeouts and a cap
// on the reply size.
package florida

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dynomite-go/dynomite/seedprovider"
)

// Name is the dyn_seed_provider value that selects this provider.
const Name = "florida_provider"

// Environment variables, as upstream.
const (
	// EnvIP is the florida server's address (default 127.0.0.1).
	EnvIP = "DYNOMITE_FLORIDA_IP"
	// EnvPort is its port (default 8080).
	EnvPort = "DYNOMITE_FLORIDA_PORT"
	// EnvRequest is the raw request text; only its request line (method and
	// path) and headers are used.
	EnvRequest = "DYNOMITE_FLORIDA_REQUEST"
)

// Defaults, as upstream.
const (
	DefaultIP   = "127.0.0.1"
	DefaultPort = 8080
	// DefaultRequest is upstream's request text.
	DefaultRequest = "GET /REST/v1/admin/get_seeds HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: HTMLGET 1.0\r\n\r\n"
	// DefaultTimeout bounds one whole request, connection included.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxBody caps the reply body.
	DefaultMaxBody = 1 << 20
)

// Config configures the provider. Build it with [ConfigFromEnv]; the zero
// values of Timeout and MaxBody mean the defaults.
type Config struct {
	// IP is the server's address: an IP literal or a host name.
	IP string
	// Port is the server's port.
	Port int
	// Method and Path come from the request line of DYNOMITE_FLORIDA_REQUEST.
	Method, Path string
	// Header holds the request's headers; a Host header sets the request's
	// host.
	Header http.Header
	// Timeout bounds one request (connect, send, read the whole reply).
	Timeout time.Duration
	// MaxBody is the largest accepted reply body in bytes.
	MaxBody int64
}

// ConfigFromEnv reads the DYNOMITE_FLORIDA_* variables through getenv (nil
// means os.Getenv) and applies upstream's defaults. Its errors name the
// variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := Config{IP: DefaultIP, Port: DefaultPort}
	if v := strings.TrimSpace(getenv(EnvIP)); v != "" {
		c.IP = v
	}
	if v := strings.TrimSpace(getenv(EnvPort)); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return Config{}, fmt.Errorf("%s: %q is not a port 1..65535", EnvPort, v)
		}
		c.Port = p
	}
	raw := getenv(EnvRequest)
	if strings.TrimSpace(raw) == "" {
		raw = DefaultRequest
	}
	m, p, h, err := ParseRequest(raw)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", EnvRequest, err)
	}
	c.Method, c.Path, c.Header = m, p, h
	return c, c.Validate()
}

// ParseRequest reads the method, path and headers out of a raw HTTP request
// text such as upstream's default "GET /REST/v1/admin/get_seeds
// HTTP/1.0\r\nHost: 127.0.0.1\r\n...". Lines may end in CRLF, LF, or the
// two-character escapes `\r\n` and `\n` (as an environment variable set
// from a shell often holds them). The protocol version is ignored; a body is
// not supported.
func ParseRequest(raw string) (method, path string, header http.Header, err error) {
	raw = strings.NewReplacer(`\r\n`, "\n", `\n`, "\n", "\r\n", "\n").Replace(raw)
	lines := strings.Split(strings.TrimLeft(raw, "\n"), "\n")
	f := strings.Fields(lines[0])
	if len(f) < 2 || len(f) > 3 {
		return "", "", nil, fmt.Errorf("request line %q is not \"METHOD /path [HTTP/1.x]\"", lines[0])
	}
	method, path = f[0], f[1]
	if strings.ToUpper(method) != method || !isToken(method) {
		return "", "", nil, fmt.Errorf("request method %q is not an upper-case token", method)
	}
	u, perr := url.ParseRequestURI(path)
	if perr != nil || !strings.HasPrefix(path, "/") || u.Host != "" {
		return "", "", nil, fmt.Errorf("request path %q is not an absolute path", path)
	}
	header = make(http.Header)
	for _, l := range lines[1:] {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) == "" {
			break // end of the headers
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok || !isToken(k) {
			return "", "", nil, fmt.Errorf("header line %q is not \"Name: value\"", l)
		}
		header.Add(k, strings.TrimSpace(v))
	}
	return method, path, header, nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return false
		}
	}
	return true
}

// Validate checks the configuration without contacting anything.
func (c Config) Validate() error {
	var errs []error
	if c.IP == "" || strings.ContainsAny(c.IP, "/ \t") {
		errs = append(errs, fmt.Errorf("%s: %q is not an address", EnvIP, c.IP))
	}
	if c.Port < 1 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("%s: %d is not a port 1..65535", EnvPort, c.Port))
	}
	if c.Method == "" || !strings.HasPrefix(c.Path, "/") {
		errs = append(errs, fmt.Errorf("%s: no method and path", EnvRequest))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("florida timeout %v is negative", c.Timeout))
	}
	if c.MaxBody < 0 {
		errs = append(errs, fmt.Errorf("florida maximum body %d is negative", c.MaxBody))
	}
	return errors.Join(errs...)
}

// URL returns the URL the provider requests.
func (c Config) URL() string {
	host := c.IP
	if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
		host = "[" + host + "]"
	}
	return "http://" + host + ":" + strconv.Itoa(c.Port) + c.Path
}

// Provider asks a florida server for the seeds.
type Provider struct {
	cfg    Config
	url    string
	client *http.Client
}

// New returns a Provider for cfg. client nil means a client of its own
// (no proxy from the environment, no keep-alive: one request per poll).
func New(cfg Config, client *http.Client) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if client == nil {
		client = &http.Client{
			Transport: &http.Transport{
				DialContext:            (&net.Dialer{Timeout: cfg.Timeout}).DialContext,
				DisableKeepAlives:      true,
				ResponseHeaderTimeout:  cfg.Timeout,
				MaxResponseHeaderBytes: 64 << 10,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Provider{cfg: cfg, url: cfg.URL(), client: client}, nil
}

// Name returns "florida_provider".
func (p *Provider) Name() string { return Name }

// Seeds sends the request and parses the body. A status other than 200, a
// body larger than MaxBody, a timeout or an empty body fail the call; bad
// entries are skipped (see [seedprovider.ParseList]).
func (p *Provider) Seeds(ctx context.Context) ([]seedprovider.Seed, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, p.cfg.Method, p.url, nil)
	if err != nil {
		return nil, fmt.Errorf("florida: %w", err)
	}
	for k, vs := range p.cfg.Header {
		if http.CanonicalHeaderKey(k) == "Host" {
			req.Host = vs[0]
			continue
		}
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("florida: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.cfg.MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("florida: reading the reply from %s: %w", p.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("florida: %s answered %s", p.url, resp.Status)
	}
	if int64(len(body)) > p.cfg.MaxBody {
		return nil, fmt.Errorf("florida: reply from %s is larger than %d bytes", p.url, p.cfg.MaxBody)
	}
	if strings.TrimSpace(string(body)) == "" {
		return nil, fmt.Errorf("florida: %s: %w", p.url, seedprovider.ErrNoSeeds)
	}
	return seedprovider.ParseList(string(body))
}
