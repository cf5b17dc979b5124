package ec2_test

// The real aws-sdk-go-v2 EC2 client against an httptest server on 127.0.0.1
// that answers EC2 query-protocol requests with DescribeInstancesResponse
// XML: SigV4 signing, form encoding of the filters, XML decoding, NextToken
// pagination, error decoding and the SDK's retryer are all exercised. Nothing
// leaves the machine: the endpoint is the fake, credentials are static and
// IMDS is disabled.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/seedprovider"
	"github.com/dynomite-go/dynomite/seedprovider/ec2"
)

type xmlInstance struct {
	ID, AZ, Private, Public string
	Tags                    map[string]string
}

func (in xmlInstance) xml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "<item><instanceId>%s</instanceId><imageId>ami-1</imageId>", in.ID)
	b.WriteString("<instanceState><code>16</code><name>running</name></instanceState>")
	fmt.Fprintf(&b, "<placement><availabilityZone>%s</availabilityZone><tenancy>default</tenancy></placement>", in.AZ)
	if in.Private != "" {
		fmt.Fprintf(&b, "<privateIpAddress>%s</privateIpAddress>", in.Private)
	}
	if in.Public != "" {
		fmt.Fprintf(&b, "<ipAddress>%s</ipAddress>", in.Public)
	}
	b.WriteString("<tagSet>")
	for k, v := range in.Tags {
		fmt.Fprintf(&b, "<item><key>%s</key><value>%s</value></item>", k, v)
	}
	b.WriteString("</tagSet></item>")
	return b.String()
}

func response(next string, instances ...xmlInstance) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
<requestId>8f7724cf-496f-496e-8fe3-example</requestId><reservationSet>`)
	for i, in := range instances {
		fmt.Fprintf(&b, "<item><reservationId>r-%d</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>%s</instancesSet></item>", i, in.xml())
	}
	b.WriteString("</reservationSet>")
	if next != "" {
		fmt.Fprintf(&b, "<nextToken>%s</nextToken>", next)
	}
	b.WriteString("</DescribeInstancesResponse>")
	return b.String()
}

const throttleXML = `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>x</RequestID></Response>`

var scopeRE = regexp.MustCompile(`Credential=AKIDTEST/\d{8}/([a-z0-9-]+)/ec2/aws4_request`)

// fakeEC2 is the HTTP side: pages per region, keyed by NextToken.
type fakeEC2 struct {
	mu        sync.Mutex
	pages     map[string]map[string]string // region -> token -> body
	throttles int
	forms     []url.Values
	regions   []string
}

func (f *fakeEC2) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	m := scopeRE.FindStringSubmatch(r.Header.Get("Authorization"))
	f.mu.Lock()
	defer f.mu.Unlock()
	if m == nil || r.Method != http.MethodPost || r.PostForm.Get("Action") != "DescribeInstances" {
		http.Error(w, "unsigned or unexpected request", 400)
		return
	}
	f.forms = append(f.forms, r.PostForm)
	f.regions = append(f.regions, m[1])
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	if f.throttles > 0 {
		f.throttles--
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(throttleXML))
		return
	}
	body, ok := f.pages[m[1]][r.PostForm.Get("NextToken")]
	if !ok {
		w.WriteHeader(400)
		_, _ = w.Write([]byte(`<Response><Errors><Error><Code>InvalidParameterValue</Code><Message>bad token</Message></Error></Errors><RequestID>x</RequestID></Response>`))
		return
	}
	_, _ = w.Write([]byte(body))
}

// awsConfig is an SDK configuration that cannot reach AWS: static
// credentials and a fast retryer (2 attempts, no delay).
func awsConfig(client *http.Client) aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:  client,
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 2
				o.RateLimiter = ratelimit.None
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}
}

func start(t *testing.T, f *fakeEC2) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	require.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"))
	return srv
}

func TestRealSDKTwoPagesTwoRegions(t *testing.T) {
	f := &fakeEC2{pages: map[string]map[string]string{
		"us-east-1": {
			"": response("page-2",
				xmlInstance{ID: "i-a", AZ: "us-east-1a", Private: "127.0.0.1", Public: "127.0.1.1", Tags: map[string]string{ec2.TagCluster: "prod", ec2.TagTokens: "100"}},
				xmlInstance{ID: "i-b", AZ: "us-east-1b", Private: "127.0.0.2", Public: "127.0.1.2", Tags: map[string]string{ec2.TagCluster: "prod", ec2.TagTokens: "100", ec2.TagPeerPort: "8102"}}),
			"page-2": response("",
				xmlInstance{ID: "i-c", AZ: "us-east-1c", Private: "127.0.0.3", Tags: map[string]string{ec2.TagCluster: "prod", ec2.TagTokens: "100", ec2.TagRack: "rack-c"}},
				xmlInstance{ID: "i-bad", AZ: "us-east-1c", Private: "127.0.0.4", Tags: map[string]string{ec2.TagCluster: "prod"}}),
		},
		"eu-west-1": {
			"": response("",
				xmlInstance{ID: "i-d", AZ: "eu-west-1a", Private: "127.0.0.5", Public: "127.0.1.5", Tags: map[string]string{ec2.TagCluster: "prod", ec2.TagTokens: "100", ec2.TagDatacenter: "europe"}}),
		},
	}}
	srv := start(t, f)
	p, err := ec2.NewWithAWSConfig(ec2.Config{
		Regions:         []string{"us-east-1", "eu-west-1"},
		ClusterTagValue: "prod",
		PeerAddress:     ec2.PeerAddressPublic,
		Endpoint:        srv.URL,
	}, awsConfig(srv.Client()))
	require.NoError(t, err)

	seeds, err := p.Seeds(context.Background())
	var got []string
	for _, s := range seeds {
		got = append(got, s.String())
	}
	require.Equal(t, []string{
		"127.0.0.1:8101:us-east-1a:us-east-1:100 i-a",
		"127.0.0.2:8102:us-east-1b:us-east-1:100 i-b",
		"127.0.0.3:8101:rack-c:us-east-1:100 i-c",
		"127.0.1.5:8101:eu-west-1a:europe:100 i-d",
	}, got)
	require.True(t, seedprovider.Partial(err))
	require.ErrorContains(t, err, `"i-bad" skipped: no dynomite:tokens tag`)

	require.Equal(t, []string{"us-east-1", "us-east-1", "eu-west-1"}, f.regions, "signed for each region")
	first := f.forms[0]
	require.Equal(t, "tag:dynomite:cluster", first.Get("Filter.1.Name"))
	require.Equal(t, "prod", first.Get("Filter.1.Value.1"))
	require.Equal(t, "instance-state-name", first.Get("Filter.2.Name"))
	require.Equal(t, "running", first.Get("Filter.2.Value.1"))
	require.Equal(t, "1000", first.Get("MaxResults"))
	require.Empty(t, first.Get("NextToken"))
	require.Equal(t, "page-2", f.forms[1].Get("NextToken"))
}

func TestRealSDKThrottling(t *testing.T) {
	ok := map[string]map[string]string{"us-east-1": {"": response("",
		xmlInstance{ID: "i-a", AZ: "us-east-1a", Private: "127.0.0.1", Tags: map[string]string{ec2.TagCluster: "prod", ec2.TagTokens: "1"}})}}
	tests := map[string]struct {
		throttles int
		retries   int
		want      string
		calls     int
	}{
		// The SDK retries once (2 attempts); this package backs off after that.
		"absorbed by the SDK's retryer":            {throttles: 1, calls: 2},
		"absorbed by the package's backoff":        {throttles: 5, retries: 4, calls: 6},
		"beyond both the poll fails with the code": {throttles: 100, retries: 2, calls: 6, want: "RequestLimitExceeded"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := &fakeEC2{pages: ok, throttles: tc.throttles}
			srv := start(t, f)
			p, err := ec2.NewWithAWSConfig(ec2.Config{
				Regions: []string{"us-east-1"}, ClusterTagValue: "prod", Endpoint: srv.URL,
				ThrottleRetries: tc.retries, ThrottleBackoff: time.Millisecond,
			}, awsConfig(srv.Client()))
			require.NoError(t, err)
			seeds, err := p.Seeds(context.Background())
			require.Len(t, f.forms, tc.calls)
			if tc.want != "" {
				require.ErrorContains(t, err, tc.want)
				require.Nil(t, seeds)
				return
			}
			require.NoError(t, err)
			require.Len(t, seeds, 1)
		})
	}
}

// TestNewWithTheDefaultChain builds the provider the way the binary does,
// from the environment alone: static keys, the endpoint from
// AWS_ENDPOINT_URL_EC2, IMDS disabled, no shared files.
func TestNewWithTheDefaultChain(t *testing.T) {
	f := &fakeEC2{pages: map[string]map[string]string{"eu-west-1": {"": response("",
		xmlInstance{ID: "i-a", AZ: "eu-west-1b", Private: "127.0.0.1", Tags: map[string]string{ec2.TagCluster: "prod", ec2.TagTokens: "7"}})}}}
	srv := start(t, f)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "AKIDTEST",
		"AWS_SECRET_ACCESS_KEY":       "secret",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  "eu-west-1",
		"AWS_ENDPOINT_URL_EC2":        srv.URL,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		t.Setenv(k, v)
	}
	p, err := ec2.New(context.Background(), ec2.Config{ClusterTagValue: "prod", LocalRegion: "eu-west-1"})
	require.NoError(t, err)
	seeds, err := p.Seeds(context.Background())
	require.NoError(t, err)
	require.Len(t, seeds, 1)
	require.Equal(t, "127.0.0.1:8101:eu-west-1b:eu-west-1:7 i-a", seeds[0].String())
}
