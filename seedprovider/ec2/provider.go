// Package ec2 is ec2_provider: the peers are the running EC2 instances
// tagged with the cluster's name, in every configured region, found with
// DescribeInstances (aws-sdk-go-v2).
//
// Each instance becomes the seed "address:port:rack:dc:tokens instance-id":
//
//   - datacenter: tag dynomite:datacenter, else the instance's region;
//   - rack: tag dynomite:rack, else its availability zone;
//   - tokens: tag dynomite:tokens (required; an instance without it is
//     skipped, e.g. one still being provisioned);
//   - port: tag dynomite:peer_port, else ec2_peer_port;
//   - address: the private IPv4 address for instances in this node's region;
//     for other regions the address ec2_peer_address chooses (private, for
//     peered VPCs or a transit gateway, or public).
//
// Pages are followed with NextToken. Throttling is retried by the SDK's
// retryer and then, for RequestLimitExceeded, by a bounded exponential
// backoff of this package. A region that still fails fails the whole poll:
// the caller keeps its last view rather than dropping a region's peers.
package ec2

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/dynomite-go/dynomite/seedprovider"
)

// Name is the dyn_seed_provider value that selects this provider.
const Name = "ec2_provider"

// Configuration keys.
const (
	KeyRegions         = "ec2_regions"
	KeyClusterTagKey   = "ec2_cluster_tag_key"
	KeyClusterTagValue = "ec2_cluster_tag_value"
	KeyPeerAddress     = "ec2_peer_address"
	KeyPeerPort        = "ec2_peer_port"
	KeyEndpoint        = "ec2_endpoint"
)

// Values of ec2_peer_address.
const (
	PeerAddressPrivate = "private"
	PeerAddressPublic  = "public"
)

// Defaults.
const (
	// DefaultPeerPort is ec2_peer_port's default, upstream's customary
	// dyn_listen port.
	DefaultPeerPort = 8101
	// DefaultThrottleRetries is how many times a throttled call is retried
	// by this package, after the SDK's own retries.
	DefaultThrottleRetries = 4
	// DefaultThrottleBackoff is the first wait; it doubles each retry, up to
	// 8 times this value.
	DefaultThrottleBackoff = 500 * time.Millisecond
	// maxPages stops a server that never stops paginating.
	maxPages = 1000
)

var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// Config configures the provider. The tagged fields are the ec2_* keys.
type Config struct {
	// Regions are the regions searched (ec2_regions). Empty means
	// LocalRegion alone.
	Regions []string `yaml:"ec2_regions"`
	// ClusterTagKey is the tag that selects the cluster's instances
	// (ec2_cluster_tag_key, default TagCluster).
	ClusterTagKey string `yaml:"ec2_cluster_tag_key"`
	// ClusterTagValue is the cluster's name, the value of ClusterTagKey
	// (ec2_cluster_tag_value, required).
	ClusterTagValue string `yaml:"ec2_cluster_tag_value"`
	// PeerAddress is the address used for peers in other regions:
	// "private" (default) or "public" (ec2_peer_address). Peers in
	// LocalRegion always get their private address.
	PeerAddress string `yaml:"ec2_peer_address"`
	// PeerPort is the peer port of instances without a dynomite:peer_port
	// tag (ec2_peer_port, default DefaultPeerPort).
	PeerPort int `yaml:"ec2_peer_port"`
	// Endpoint replaces the EC2 endpoint of every region, e.g. a VPC
	// endpoint (ec2_endpoint). "" means the SDK's choice, which honours
	// AWS_ENDPOINT_URL_EC2.
	Endpoint string `yaml:"ec2_endpoint"`

	// LocalRegion is this node's region, which the wiring takes from the
	// environment (env: aws) or AWS_REGION. "" means the first of Regions.
	LocalRegion string `yaml:"-"`
	// ThrottleRetries and ThrottleBackoff tune this package's backoff on
	// RequestLimitExceeded; 0 means the defaults, a negative
	// ThrottleRetries none.
	ThrottleRetries int           `yaml:"-"`
	ThrottleBackoff time.Duration `yaml:"-"`
}

// ParseRegions splits a comma-separated ec2_regions value, dropping blanks.
func ParseRegions(s string) []string {
	var out []string
	for _, r := range strings.Split(s, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// Validate checks the configuration without contacting anything. Its
// errors name the key.
func (c Config) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for _, r := range c.Regions {
		if !regionRE.MatchString(r) {
			errs = append(errs, fmt.Errorf("%s: %q is not a region name like us-east-1", KeyRegions, r))
		}
		if seen[r] {
			errs = append(errs, fmt.Errorf("%s: %q is listed twice", KeyRegions, r))
		}
		seen[r] = true
	}
	if c.LocalRegion != "" && !regionRE.MatchString(c.LocalRegion) {
		errs = append(errs, fmt.Errorf("this node's region %q is not a region name", c.LocalRegion))
	}
	if c.ClusterTagValue == "" {
		errs = append(errs, fmt.Errorf("%s: required with dyn_seed_provider: %s", KeyClusterTagValue, Name))
	}
	if len(c.ClusterTagKey) > 128 || strings.HasPrefix(strings.ToLower(c.ClusterTagKey), "aws:") {
		errs = append(errs, fmt.Errorf("%s: %q is not a usable tag key", KeyClusterTagKey, c.ClusterTagKey))
	}
	if len(c.ClusterTagValue) > 256 {
		errs = append(errs, fmt.Errorf("%s: longer than 256 characters", KeyClusterTagValue))
	}
	switch c.PeerAddress {
	case "", PeerAddressPrivate, PeerAddressPublic:
	default:
		errs = append(errs, fmt.Errorf("%s: %q is not private or public", KeyPeerAddress, c.PeerAddress))
	}
	if c.PeerPort < 0 || c.PeerPort > 65535 {
		errs = append(errs, fmt.Errorf("%s: %d is not a port 1..65535", KeyPeerPort, c.PeerPort))
	}
	if c.Endpoint != "" && !strings.HasPrefix(c.Endpoint, "https://") && !strings.HasPrefix(c.Endpoint, "http://") {
		errs = append(errs, fmt.Errorf("%s: %q is not an http(s) URL", KeyEndpoint, c.Endpoint))
	}
	if c.ThrottleBackoff < 0 {
		errs = append(errs, fmt.Errorf("ec2 throttle backoff %v is negative", c.ThrottleBackoff))
	}
	return errors.Join(errs...)
}

// withDefaults fills the defaults and checks that a region is known.
func (c Config) withDefaults() (Config, error) {
	if err := c.Validate(); err != nil {
		return c, err
	}
	if c.ClusterTagKey == "" {
		c.ClusterTagKey = TagCluster
	}
	if c.PeerAddress == "" {
		c.PeerAddress = PeerAddressPrivate
	}
	if c.PeerPort == 0 {
		c.PeerPort = DefaultPeerPort
	}
	if c.ThrottleRetries == 0 {
		c.ThrottleRetries = DefaultThrottleRetries
	}
	if c.ThrottleBackoff == 0 {
		c.ThrottleBackoff = DefaultThrottleBackoff
	}
	switch {
	case len(c.Regions) == 0 && c.LocalRegion == "":
		return c, fmt.Errorf("%s: no region given and this node's region is unknown (set %s, AWS_REGION, or env: aws)", KeyRegions, KeyRegions)
	case len(c.Regions) == 0:
		c.Regions = []string{c.LocalRegion}
	case c.LocalRegion == "":
		c.LocalRegion = c.Regions[0]
	}
	return c, nil
}

// ec2API is the one EC2 call the provider makes (exposed for testing, as
// CoreDNS's route53 plugin does); *ec2.Client implements it.
type ec2API interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// Provider lists the cluster's instances.
type Provider struct {
	cfg     Config
	clients map[string]ec2API // by region
	sleep   func(context.Context, time.Duration) error
}

// New returns a Provider using the default AWS configuration chain
// (environment, shared files, then the instance role through IMDS) for
// credentials.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("ec2: loading the AWS configuration: %w", err)
	}
	return NewWithAWSConfig(cfg, awsCfg)
}

// NewWithAWSConfig returns a Provider that makes one EC2 client per region
// from awsCfg (credentials, retryer, HTTP client), with cfg.Endpoint as
// base endpoint when set.
func NewWithAWSConfig(cfg Config, awsCfg aws.Config) (*Provider, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	clients := make(map[string]ec2API, len(cfg.Regions))
	for _, region := range cfg.Regions {
		clients[region] = ec2.NewFromConfig(awsCfg, func(o *ec2.Options) {
			o.Region = region
			if cfg.Endpoint != "" {
				o.BaseEndpoint = aws.String(cfg.Endpoint)
			}
		})
	}
	return newWithClients(cfg, clients)
}

func newWithClients(cfg Config, clients map[string]ec2API) (*Provider, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	for _, r := range cfg.Regions {
		if clients[r] == nil {
			return nil, fmt.Errorf("ec2: no client for region %s", r)
		}
	}
	return &Provider{cfg: cfg, clients: clients, sleep: sleepCtx}, nil
}

// Name returns "ec2_provider".
func (p *Provider) Name() string { return Name }

// Seeds lists the running instances of the cluster in every region.
func (p *Provider) Seeds(ctx context.Context) ([]seedprovider.Seed, error) {
	var (
		seeds []seedprovider.Seed
		bad   seedprovider.EntryErrors
	)
	for _, region := range p.cfg.Regions {
		instances, err := p.describe(ctx, region)
		if err != nil {
			return nil, fmt.Errorf("ec2: %s: %w", region, err)
		}
		for _, in := range instances {
			s, ok, err := p.seed(region, in)
			switch {
			case err != nil:
				bad.Add(aws.ToString(in.InstanceId), err)
			case ok:
				seeds = append(seeds, s)
			}
		}
	}
	if len(seeds) == 0 && bad.Err() == nil {
		return nil, fmt.Errorf("ec2: no running instance tagged %s=%s in %s: %w",
			p.cfg.ClusterTagKey, p.cfg.ClusterTagValue, strings.Join(p.cfg.Regions, ","), seedprovider.ErrNoSeeds)
	}
	return seeds, bad.Err()
}

// describe pages through DescribeInstances in one region.
func (p *Provider) describe(ctx context.Context, region string) ([]types.Instance, error) {
	in := &ec2.DescribeInstancesInput{
		Filters: []types.Filter{
			{Name: aws.String("tag:" + p.cfg.ClusterTagKey), Values: []string{p.cfg.ClusterTagValue}},
			{Name: aws.String("instance-state-name"), Values: []string{"running"}},
		},
		MaxResults: aws.Int32(1000),
	}
	var (
		out  []types.Instance
		seen = map[string]bool{}
	)
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("more than %d pages", maxPages)
		}
		resp, err := p.call(ctx, region, in)
		if err != nil {
			return nil, err
		}
		for _, r := range resp.Reservations {
			out = append(out, r.Instances...)
		}
		next := aws.ToString(resp.NextToken)
		if next == "" {
			return out, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("pagination token %q came back twice", next)
		}
		seen[next] = true
		in.NextToken = aws.String(next)
	}
}

// call makes one DescribeInstances call, retrying RequestLimitExceeded with
// a bounded exponential backoff once the SDK's retryer has given up.
func (p *Provider) call(ctx context.Context, region string, in *ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
	wait := p.cfg.ThrottleBackoff
	for attempt := 0; ; attempt++ {
		resp, err := p.clients[region].DescribeInstances(ctx, in)
		if err == nil {
			return resp, nil
		}
		if !throttled(err) || attempt >= p.cfg.ThrottleRetries {
			return nil, err
		}
		if serr := p.sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("%w (while backing off after: %v)", serr, err)
		}
		wait = min(2*wait, 8*p.cfg.ThrottleBackoff)
	}
}

// throttled reports whether err is EC2's throttling error.
func throttled(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "RequestLimitExceeded", "Throttling", "ThrottlingException":
		return true
	}
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// seed turns an instance into a seed. ok is false (without error) for an
// instance that is not the cluster's or not running, which a server that
// ignores the filters could return.
func (p *Provider) seed(region string, in types.Instance) (s seedprovider.Seed, ok bool, err error) {
	if in.State != nil && in.State.Name != "" && in.State.Name != types.InstanceStateNameRunning {
		return s, false, nil
	}
	tags := make(map[string]string, len(in.Tags))
	for _, t := range in.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	if v, has := tags[p.cfg.ClusterTagKey]; !has || v != p.cfg.ClusterTagValue {
		return s, false, nil
	}
	if aws.ToString(in.InstanceId) == "" {
		return s, false, errors.New("no instance ID")
	}
	s.Name = aws.ToString(in.InstanceId)

	s.DC = region
	if v := tags[TagDatacenter]; v != "" {
		s.DC = v
	}
	if in.Placement != nil {
		s.Rack = aws.ToString(in.Placement.AvailabilityZone)
	}
	if v := tags[TagRack]; v != "" {
		s.Rack = v
	}
	if s.Rack == "" {
		return s, false, fmt.Errorf("no availability zone and no %s tag", TagRack)
	}

	tok, has := tags[TagTokens]
	if !has {
		return s, false, fmt.Errorf("no %s tag", TagTokens)
	}
	if s.Tokens, err = seedprovider.ParseTokens(tok); err != nil {
		return s, false, fmt.Errorf("tag %s=%q: %w", TagTokens, tok, err)
	}

	s.Port = p.cfg.PeerPort
	if v, has := tags[TagPeerPort]; has {
		port, perr := strconv.Atoi(v)
		if perr != nil || port < 1 || port > 65535 {
			return s, false, fmt.Errorf("tag %s=%q is not a port 1..65535", TagPeerPort, v)
		}
		s.Port = port
	}

	kind := PeerAddressPrivate
	if region != p.cfg.LocalRegion {
		kind = p.cfg.PeerAddress
	}
	if kind == PeerAddressPublic {
		s.Host = aws.ToString(in.PublicIpAddress)
	} else {
		s.Host = aws.ToString(in.PrivateIpAddress)
	}
	if s.Host == "" {
		return s, false, fmt.Errorf("no %s IPv4 address", kind)
	}
	if err := seedprovider.Check(s); err != nil {
		return s, false, err
	}
	return s, true, nil
}
