// Package aws is env: aws. It reads the instance metadata service (IMDSv2:
// a session token first, then every read with it) for the region, the
// availability zone and the addresses, and honours upstream's snitch
// variables EC2_PUBLIC_HOSTNAME, EC2_PUBLIC_IPV4 and EC2_LOCAL_IPV4.
//
// Precedence, per value: the configuration file (Config.Known), then the
// EC2_* variables, then IMDS. When the file and the variables already give
// the datacenter, the rack and the private address, IMDS is not contacted
// at all. Otherwise an unreachable IMDS is an error that says so and names
// the values to set instead.
package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/dynomite-go/dynomite/env"
)

// Name is the env key's value that selects this environment.
const Name = "aws"

// Upstream's snitch variables (dyn_node_snitch.c).
const (
	EnvPublicHostname = "EC2_PUBLIC_HOSTNAME"
	EnvPublicIPv4     = "EC2_PUBLIC_IPV4"
	EnvLocalIPv4      = "EC2_LOCAL_IPV4"
)

// DefaultTimeout bounds the whole detection.
const DefaultTimeout = 5 * time.Second

// Config configures the environment.
type Config struct {
	// Known holds the values the configuration file gives (datacenter,
	// rack, the dyn_listen address when it is a specific IP); they win.
	Known env.Info
	// Endpoint is the IMDS endpoint, e.g. "http://127.0.0.1:8080" in tests.
	// "" means AWS_EC2_METADATA_SERVICE_ENDPOINT, else the SDK's default
	// (http://169.254.169.254).
	Endpoint string
	// Timeout bounds Detect; 0 means DefaultTimeout.
	Timeout time.Duration
	// Getenv reads the EC2_* variables; nil means os.Getenv.
	Getenv func(string) string
}

// Env is env: aws.
type Env struct {
	cfg    Config
	client *imds.Client
}

// New returns the environment. It contacts nothing until Detect.
func New(cfg Config) *Env {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	client := imds.New(imds.Options{
		Endpoint: cfg.Endpoint,
		// IMDSv2 only: no silent fallback to unauthenticated IMDSv1 reads
		// when the token request fails.
		EnableFallback: sdkaws.FalseTernary,
	})
	return &Env{cfg: cfg, client: client}
}

// Name returns "aws".
func (e *Env) Name() string { return Name }

// Detect merges the configuration, the EC2_* variables and, when needed,
// IMDS.
func (e *Env) Detect(ctx context.Context) (env.Info, error) {
	vars := env.Info{
		PrivateIP:      strings.TrimSpace(e.cfg.Getenv(EnvLocalIPv4)),
		PublicIP:       strings.TrimSpace(e.cfg.Getenv(EnvPublicIPv4)),
		PublicHostname: strings.TrimSpace(e.cfg.Getenv(EnvPublicHostname)),
	}
	for _, v := range []struct{ name, val string }{{EnvLocalIPv4, vars.PrivateIP}, {EnvPublicIPv4, vars.PublicIP}} {
		if _, err := netip.ParseAddr(v.val); v.val != "" && err != nil {
			return env.Info{}, fmt.Errorf("env aws: %s=%q is not an IP address", v.name, v.val)
		}
	}
	info := e.cfg.Known.Fill(vars)
	if len(info.Missing()) == 0 {
		return info, nil
	}

	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	md, err := e.metadata(ctx)
	if err != nil {
		return env.Info{}, fmt.Errorf("env aws: the instance metadata service (%s) did not answer: %w; "+
			"set %s in the configuration (and %s), or use env: network",
			e.endpointName(), err, strings.Join(info.Missing(), ", "), EnvLocalIPv4)
	}
	info = info.Fill(md)
	if m := info.Missing(); len(m) > 0 {
		return env.Info{}, fmt.Errorf("env aws: the instance metadata service gave no %s", strings.Join(m, ", "))
	}
	return info, nil
}

func (e *Env) endpointName() string {
	switch {
	case e.cfg.Endpoint != "":
		return e.cfg.Endpoint
	case os.Getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT") != "":
		return os.Getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT")
	}
	return "http://169.254.169.254"
}

// metadata reads every value from IMDS. The public address and host name
// are optional (404 on instances without them).
func (e *Env) metadata(ctx context.Context) (env.Info, error) {
	region, err := e.client.GetRegion(ctx, &imds.GetRegionInput{})
	if err != nil {
		return env.Info{}, fmt.Errorf("region: %w", err)
	}
	var md env.Info
	md.Region, md.Datacenter = region.Region, region.Region
	for _, f := range []struct {
		path     string
		dst      []*string
		optional bool
	}{
		{"placement/availability-zone", []*string{&md.Zone, &md.Rack}, false},
		{"local-ipv4", []*string{&md.PrivateIP}, false},
		{"public-ipv4", []*string{&md.PublicIP}, true},
		{"public-hostname", []*string{&md.PublicHostname}, true},
	} {
		v, err := e.get(ctx, f.path)
		if err != nil {
			if f.optional && notFound(err) {
				continue
			}
			return env.Info{}, fmt.Errorf("%s: %w", f.path, err)
		}
		for _, d := range f.dst {
			*d = v
		}
	}
	return md, nil
}

func (e *Env) get(ctx context.Context, path string) (string, error) {
	out, err := e.client.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
	if err != nil {
		return "", err
	}
	defer out.Content.Close()
	b, err := io.ReadAll(io.LimitReader(out.Content, 4096))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func notFound(err error) bool {
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == 404
}
