package aws_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/env"
	"github.com/dynomite-go/dynomite/env/aws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeIMDS is an IMDSv2 server: PUT /latest/api/token hands out a token,
// every other read needs it.
type fakeIMDS struct {
	mu       sync.Mutex
	values   map[string]string // path under /latest/ -> body
	tokenErr int               // status for token requests, 0 = OK
	tokens   int
	reads    []string
	noToken  int // reads without a valid token
}

const identity = `{"accountId":"123456789012","architecture":"x86_64","availabilityZone":"us-east-1a","imageId":"ami-1","instanceId":"i-1","instanceType":"m5.large","privateIp":"127.0.0.10","region":"us-east-1","version":"2017-09-30"}`

func newFake() *fakeIMDS {
	return &fakeIMDS{values: map[string]string{
		"dynamic/instance-identity/document":    identity,
		"meta-data/placement/availability-zone": "us-east-1a",
		"meta-data/local-ipv4":                  "127.0.0.10",
		"meta-data/public-ipv4":                 "127.0.1.10",
		"meta-data/public-hostname":             "localhost",
	}}
}

func (f *fakeIMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/latest/api/token" {
		if r.Method != http.MethodPut || r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds") == "" {
			http.Error(w, "bad token request", http.StatusBadRequest)
			return
		}
		if f.tokenErr != 0 {
			http.Error(w, "no", f.tokenErr)
			return
		}
		f.tokens++
		w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
		_, _ = w.Write([]byte("token-1"))
		return
	}
	if r.Header.Get("X-Aws-Ec2-Metadata-Token") != "token-1" {
		f.noToken++
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/latest/")
	f.reads = append(f.reads, path)
	v, ok := f.values[path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write([]byte(v))
}

func start(t *testing.T, f *fakeIMDS) string {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	require.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"))
	return srv.URL
}

func vars(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDetect(t *testing.T) {
	all := env.Info{Datacenter: "us-east-1", Rack: "us-east-1a", PrivateIP: "127.0.0.10", PublicIP: "127.0.1.10",
		PublicHostname: "localhost", Region: "us-east-1", Zone: "us-east-1a"}
	tests := map[string]struct {
		known   env.Info
		vars    map[string]string
		mod     func(*fakeIMDS)
		want    env.Info
		reads   bool // IMDS contacted
		wantErr string
	}{
		"everything from IMDS": {want: all, reads: true},
		"the file wins over IMDS": {
			known: env.Info{Datacenter: "dc1", Rack: "rack1"},
			want:  env.Info{Datacenter: "dc1", Rack: "rack1", PrivateIP: "127.0.0.10", PublicIP: "127.0.1.10", PublicHostname: "localhost", Region: "us-east-1", Zone: "us-east-1a"},
			reads: true,
		},
		"upstream's EC2_* variables win over IMDS": {
			vars: map[string]string{aws.EnvLocalIPv4: "127.0.0.20", aws.EnvPublicIPv4: "127.0.1.20", aws.EnvPublicHostname: "localhost.localdomain"},
			want: env.Info{Datacenter: "us-east-1", Rack: "us-east-1a", PrivateIP: "127.0.0.20", PublicIP: "127.0.1.20",
				PublicHostname: "localhost.localdomain", Region: "us-east-1", Zone: "us-east-1a"},
			reads: true,
		},
		"the file and the variables suffice: IMDS is not contacted": {
			known: env.Info{Datacenter: "dc1", Rack: "rack1"},
			vars:  map[string]string{aws.EnvLocalIPv4: "127.0.0.20"},
			want:  env.Info{Datacenter: "dc1", Rack: "rack1", PrivateIP: "127.0.0.20"},
		},
		"no public address is fine": {
			mod: func(f *fakeIMDS) {
				delete(f.values, "meta-data/public-ipv4")
				delete(f.values, "meta-data/public-hostname")
			},
			want:  env.Info{Datacenter: "us-east-1", Rack: "us-east-1a", PrivateIP: "127.0.0.10", Region: "us-east-1", Zone: "us-east-1a"},
			reads: true,
		},
		"no private address fails": {
			mod:     func(f *fakeIMDS) { delete(f.values, "meta-data/local-ipv4") },
			wantErr: "local-ipv4",
		},
		"a refused token fails (no IMDSv1 fallback)": {
			mod:     func(f *fakeIMDS) { f.tokenErr = http.StatusForbidden },
			wantErr: "did not answer",
		},
		"a bad EC2_LOCAL_IPV4 fails": {
			vars:    map[string]string{aws.EnvLocalIPv4: "ip-10-0-0-1"},
			wantErr: "EC2_LOCAL_IPV4",
		},
		"a bad EC2_PUBLIC_IPV4 fails": {
			vars:    map[string]string{aws.EnvPublicIPv4: "x"},
			wantErr: "EC2_PUBLIC_IPV4",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			if tc.mod != nil {
				tc.mod(f)
			}
			e := aws.New(aws.Config{Known: tc.known, Endpoint: start(t, f), Getenv: vars(tc.vars), Timeout: 2 * time.Second})
			require.Equal(t, "aws", e.Name())
			got, err := e.Detect(context.Background())
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			f.mu.Lock()
			defer f.mu.Unlock()
			require.Zero(t, f.noToken, "every read carries the token")
			if tc.reads {
				require.Positive(t, f.tokens, "a token first")
				require.NotEmpty(t, f.reads)
			} else {
				require.Zero(t, f.tokens)
				require.Empty(t, f.reads)
			}
		})
	}
}

func TestUnreachableIMDSSaysSo(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	e := aws.New(aws.Config{Known: env.Info{Datacenter: "dc1"}, Endpoint: "http://" + addr, Getenv: vars(nil), Timeout: time.Second})
	_, err = e.Detect(context.Background())
	require.ErrorContains(t, err, "the instance metadata service (http://"+addr+") did not answer")
	require.ErrorContains(t, err, "set rack, private address in the configuration")
	require.ErrorContains(t, err, "env: network")
}

func TestSlowIMDSTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	e := aws.New(aws.Config{Endpoint: srv.URL, Getenv: vars(nil), Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := e.Detect(context.Background())
	require.ErrorContains(t, err, "did not answer")
	require.Less(t, time.Since(start), 5*time.Second)
}
