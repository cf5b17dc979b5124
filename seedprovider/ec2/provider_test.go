package ec2

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/seedprovider"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidate(t *testing.T) {
	good := Config{ClusterTagValue: "prod", Regions: []string{"us-east-1", "eu-west-1"}}
	require.NoError(t, good.Validate())
	tests := map[string]struct {
		mod  func(*Config)
		want string
	}{
		"no cluster":           {func(c *Config) { c.ClusterTagValue = "" }, "ec2_cluster_tag_value: required"},
		"a bad region":         {func(c *Config) { c.Regions = []string{"us_east_1"} }, "ec2_regions"},
		"a region twice":       {func(c *Config) { c.Regions = []string{"us-east-1", "us-east-1"} }, "listed twice"},
		"an aws: tag key":      {func(c *Config) { c.ClusterTagKey = "aws:cloudformation:stack-name" }, "ec2_cluster_tag_key"},
		"a bad peer address":   {func(c *Config) { c.PeerAddress = "elastic" }, "ec2_peer_address"},
		"a bad peer port":      {func(c *Config) { c.PeerPort = 70000 }, "ec2_peer_port"},
		"a bad endpoint":       {func(c *Config) { c.Endpoint = "ec2.local" }, "ec2_endpoint"},
		"a bad local region":   {func(c *Config) { c.LocalRegion = "mars" }, "region"},
		"a negative backoff":   {func(c *Config) { c.ThrottleBackoff = -1 }, "backoff"},
		"a too long tag value": {func(c *Config) { c.ClusterTagValue = string(make([]byte, 257)) }, "256"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := good
			c.Regions = append([]string(nil), good.Regions...)
			tc.mod(&c)
			require.ErrorContains(t, c.Validate(), tc.want)
			_, err := NewWithAWSConfig(c, aws.Config{})
			require.ErrorContains(t, err, tc.want)
		})
	}
	for _, r := range []string{"us-gov-west-1", "cn-north-1", "ap-southeast-2", "il-central-1"} {
		require.NoError(t, Config{ClusterTagValue: "x", Regions: []string{r}}.Validate(), r)
	}
}

func TestDefaults(t *testing.T) {
	_, err := Config{ClusterTagValue: "x"}.withDefaults()
	require.ErrorContains(t, err, "ec2_regions: no region given")

	c, err := Config{ClusterTagValue: "x", LocalRegion: "eu-west-1"}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, []string{"eu-west-1"}, c.Regions)
	require.Equal(t, TagCluster, c.ClusterTagKey)
	require.Equal(t, PeerAddressPrivate, c.PeerAddress)
	require.Equal(t, DefaultPeerPort, c.PeerPort)

	c, err = Config{ClusterTagValue: "x", Regions: []string{"us-west-2", "us-east-1"}}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, "us-west-2", c.LocalRegion)
}

func TestParseRegions(t *testing.T) {
	require.Equal(t, []string{"us-east-1", "eu-west-1"}, ParseRegions(" us-east-1, ,eu-west-1,"))
	require.Nil(t, ParseRegions(""))
}

// instance builds a running instance of cluster "prod".
func instance(id, az, private, public string, tags ...string) types.Instance {
	in := types.Instance{
		InstanceId: aws.String(id),
		State:      &types.InstanceState{Name: types.InstanceStateNameRunning},
		Placement:  &types.Placement{AvailabilityZone: aws.String(az)},
		Tags:       []types.Tag{{Key: aws.String(TagCluster), Value: aws.String("prod")}},
	}
	if private != "" {
		in.PrivateIpAddress = aws.String(private)
	}
	if public != "" {
		in.PublicIpAddress = aws.String(public)
	}
	for i := 0; i+1 < len(tags); i += 2 {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(tags[i]), Value: aws.String(tags[i+1])})
	}
	return in
}

// fakeEC2 serves pages of instances keyed by the NextToken that asks for
// them ("" for the first), after a number of throttling errors.
type fakeEC2 struct {
	mu        sync.Mutex
	pages     map[string]*ec2.DescribeInstancesOutput
	throttles int   // calls answered with RequestLimitExceeded first
	err       error // answer every call with this
	inputs    []*ec2.DescribeInstancesInput
}

func (f *fakeEC2) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cp := *in
	f.inputs = append(f.inputs, &cp)
	if f.err != nil {
		return nil, f.err
	}
	if f.throttles > 0 {
		f.throttles--
		return nil, &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "Request limit exceeded."}
	}
	page, ok := f.pages[aws.ToString(in.NextToken)]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "bad token"}
	}
	return page, nil
}

func page(next string, instances ...types.Instance) *ec2.DescribeInstancesOutput {
	out := &ec2.DescribeInstancesOutput{Reservations: []types.Reservation{{Instances: instances}}}
	if next != "" {
		out.NextToken = aws.String(next)
	}
	return out
}

func strs(seeds []seedprovider.Seed) []string {
	var out []string
	for _, s := range seeds {
		out = append(out, s.String())
	}
	return out
}

func TestSeeds(t *testing.T) {
	tests := map[string]struct {
		cfg     Config
		fakes   map[string]*fakeEC2
		want    []string
		bad     []string
		failure string
		waits   []time.Duration
	}{
		"region and zone by default, tags override, two pages": {
			fakes: map[string]*fakeEC2{"us-east-1": {pages: map[string]*ec2.DescribeInstancesOutput{
				"": page("p2",
					instance("i-1", "us-east-1a", "127.0.0.1", "", TagTokens, "100"),
					instance("i-2", "us-east-1b", "127.0.0.2", "", TagTokens, "200,300", TagPeerPort, "8102")),
				"p2": page("",
					instance("i-3", "us-east-1c", "127.0.0.3", "", TagTokens, "100", TagRack, "rack3", TagDatacenter, "east")),
			}}},
			want: []string{
				"127.0.0.1:8101:us-east-1a:us-east-1:100 i-1",
				"127.0.0.2:8102:us-east-1b:us-east-1:200,300 i-2",
				"127.0.0.3:8101:rack3:east:100 i-3",
			},
		},
		"other regions use the chosen public address, this one the private": {
			cfg: Config{Regions: []string{"us-east-1", "eu-west-1"}, PeerAddress: PeerAddressPublic, LocalRegion: "us-east-1"},
			fakes: map[string]*fakeEC2{
				"us-east-1": {pages: map[string]*ec2.DescribeInstancesOutput{"": page("", instance("i-1", "us-east-1a", "127.0.0.1", "127.0.1.1", TagTokens, "1"))}},
				"eu-west-1": {pages: map[string]*ec2.DescribeInstancesOutput{"": page("", instance("i-2", "eu-west-1a", "127.0.0.2", "127.0.1.2", TagTokens, "1"))}},
			},
			want: []string{"127.0.0.1:8101:us-east-1a:us-east-1:1 i-1", "127.0.1.2:8101:eu-west-1a:eu-west-1:1 i-2"},
		},
		"other regions on private addresses by default": {
			cfg: Config{Regions: []string{"us-east-1", "eu-west-1"}},
			fakes: map[string]*fakeEC2{
				"us-east-1": {pages: map[string]*ec2.DescribeInstancesOutput{"": page("", instance("i-1", "us-east-1a", "127.0.0.1", "127.0.1.1", TagTokens, "1"))}},
				"eu-west-1": {pages: map[string]*ec2.DescribeInstancesOutput{"": page("", instance("i-2", "eu-west-1a", "127.0.0.2", "127.0.1.2", TagTokens, "1"))}},
			},
			want: []string{"127.0.0.1:8101:us-east-1a:us-east-1:1 i-1", "127.0.0.2:8101:eu-west-1a:eu-west-1:1 i-2"},
		},
		"bad instances are skipped, others kept": {
			cfg: Config{Regions: []string{"us-east-1", "eu-west-1"}, PeerAddress: PeerAddressPublic},
			fakes: map[string]*fakeEC2{
				"us-east-1": {pages: map[string]*ec2.DescribeInstancesOutput{"": page("",
					instance("i-ok", "us-east-1a", "127.0.0.1", "", TagTokens, "1"),
					instance("i-notoken", "us-east-1a", "127.0.0.2", ""),
					instance("i-badtoken", "us-east-1a", "127.0.0.3", "", TagTokens, "x"),
					instance("i-badport", "us-east-1a", "127.0.0.4", "", TagTokens, "4", TagPeerPort, "0"),
					instance("i-noip", "us-east-1a", "", "", TagTokens, "5"),
					instance("i-norack", "", "127.0.0.6", "", TagTokens, "6"),
					instance("i-badrack", "us-east-1a", "127.0.0.7", "", TagTokens, "7", TagRack, "a b"),
				)}},
				"eu-west-1": {pages: map[string]*ec2.DescribeInstancesOutput{"": page("",
					instance("i-nopublic", "eu-west-1a", "127.0.0.8", "", TagTokens, "8"))}},
			},
			want: []string{"127.0.0.1:8101:us-east-1a:us-east-1:1 i-ok"},
			bad: []string{
				`"i-notoken" skipped: no dynomite:tokens tag`,
				`"i-badtoken" skipped: tag dynomite:tokens="x"`,
				`"i-badport" skipped: tag dynomite:peer_port="0"`,
				`"i-noip" skipped: no private IPv4 address`,
				`"i-norack" skipped: no availability zone and no dynomite:rack tag`,
				`"i-badrack" skipped: has an invalid rack`,
				`"i-nopublic" skipped: no public IPv4 address`,
			},
		},
		"instances of other clusters or not running are ignored": {
			fakes: map[string]*fakeEC2{"us-east-1": {pages: map[string]*ec2.DescribeInstancesOutput{"": page("",
				instance("i-1", "us-east-1a", "127.0.0.1", "", TagTokens, "1"),
				func() types.Instance {
					in := instance("i-2", "us-east-1a", "127.0.0.2", "", TagTokens, "2")
					in.State.Name = types.InstanceStateNameStopping
					return in
				}(),
				func() types.Instance {
					in := instance("i-3", "us-east-1a", "127.0.0.3", "", TagTokens, "3")
					in.Tags[0].Value = aws.String("staging")
					return in
				}(),
			)}}},
			want: []string{"127.0.0.1:8101:us-east-1a:us-east-1:1 i-1"},
		},
		"throttling is retried with a growing backoff": {
			fakes: map[string]*fakeEC2{"us-east-1": {throttles: 3, pages: map[string]*ec2.DescribeInstancesOutput{
				"": page("", instance("i-1", "us-east-1a", "127.0.0.1", "", TagTokens, "1"))}}},
			want:  []string{"127.0.0.1:8101:us-east-1a:us-east-1:1 i-1"},
			waits: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second},
		},
		"throttling beyond the retries fails": {
			fakes:   map[string]*fakeEC2{"us-east-1": {throttles: 100}},
			failure: "RequestLimitExceeded",
			waits:   []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second},
		},
		"no instance fails": {
			fakes:   map[string]*fakeEC2{"us-east-1": {pages: map[string]*ec2.DescribeInstancesOutput{"": page("")}}},
			failure: "no running instance tagged dynomite:cluster=prod in us-east-1",
		},
		"an API error fails": {
			fakes:   map[string]*fakeEC2{"us-east-1": {err: &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "no"}}},
			failure: "UnauthorizedOperation",
		},
		"one failing region fails the poll": {
			cfg: Config{Regions: []string{"us-east-1", "eu-west-1"}},
			fakes: map[string]*fakeEC2{
				"us-east-1": {pages: map[string]*ec2.DescribeInstancesOutput{"": page("", instance("i-1", "us-east-1a", "127.0.0.1", "", TagTokens, "1"))}},
				"eu-west-1": {err: errors.New("dial tcp: connection refused")},
			},
			failure: "eu-west-1: dial tcp",
		},
		"a token that repeats fails": {
			fakes: map[string]*fakeEC2{"us-east-1": {pages: map[string]*ec2.DescribeInstancesOutput{
				"": page("a"), "a": page("b"), "b": page("a")}}},
			failure: `token "a" came back twice`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.ClusterTagValue = "prod"
			if len(cfg.Regions) == 0 {
				cfg.Regions = []string{"us-east-1"}
			}
			clients := map[string]ec2API{}
			for r, f := range tc.fakes {
				clients[r] = f
			}
			p, err := newWithClients(cfg, clients)
			require.NoError(t, err)
			require.Equal(t, "ec2_provider", p.Name())
			var waits []time.Duration
			p.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }

			seeds, err := p.Seeds(context.Background())
			require.Equal(t, tc.waits, waits)
			if tc.failure != "" {
				require.ErrorContains(t, err, tc.failure)
				require.False(t, seedprovider.Partial(err))
				require.Nil(t, seeds)
				return
			}
			require.Equal(t, tc.want, strs(seeds))
			entries := seedprovider.Entries(err)
			require.Len(t, entries, len(tc.bad), "%v", err)
			for i, want := range tc.bad {
				require.Contains(t, entries[i].Error(), want)
			}
			// The filters: the cluster tag and the running state.
			in := tc.fakes["us-east-1"].inputs[0]
			require.Equal(t, []types.Filter{
				{Name: aws.String("tag:dynomite:cluster"), Values: []string{"prod"}},
				{Name: aws.String("instance-state-name"), Values: []string{"running"}},
			}, in.Filters)
		})
	}
}

func TestThrottleBackoffHonoursTheContext(t *testing.T) {
	f := &fakeEC2{throttles: 100}
	p, err := newWithClients(Config{ClusterTagValue: "prod", Regions: []string{"us-east-1"}, ThrottleBackoff: time.Hour}, map[string]ec2API{"us-east-1": f})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = p.Seeds(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "RequestLimitExceeded")
}

func TestNoThrottleRetries(t *testing.T) {
	f := &fakeEC2{throttles: 1}
	p, err := newWithClients(Config{ClusterTagValue: "prod", Regions: []string{"us-east-1"}, ThrottleRetries: -1}, map[string]ec2API{"us-east-1": f})
	require.NoError(t, err)
	_, err = p.Seeds(context.Background())
	require.ErrorContains(t, err, "RequestLimitExceeded")
	require.Len(t, f.inputs, 1)
}

func TestMissingClient(t *testing.T) {
	_, err := newWithClients(Config{ClusterTagValue: "prod", Regions: []string{"us-east-1"}}, nil)
	require.ErrorContains(t, err, "no client for region us-east-1")
}
