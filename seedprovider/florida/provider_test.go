package florida_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/seedprovider"
	"github.com/dynomite-go/dynomite/seedprovider/florida"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv(t *testing.T) {
	tests := map[string]struct {
		env     map[string]string
		want    florida.Config
		wantErr string
	}{
		"upstream's defaults": {
			want: florida.Config{IP: "127.0.0.1", Port: 8080, Method: "GET", Path: "/REST/v1/admin/get_seeds",
				Header: http.Header{"Host": {"127.0.0.1"}, "User-Agent": {"HTMLGET 1.0"}}},
		},
		"every variable set": {
			env: map[string]string{
				florida.EnvIP: "127.0.0.5", florida.EnvPort: "9090",
				florida.EnvRequest: "POST /seeds?cluster=a HTTP/1.1\r\nX-Token: t\r\n\r\n",
			},
			want: florida.Config{IP: "127.0.0.5", Port: 9090, Method: "POST", Path: "/seeds?cluster=a",
				Header: http.Header{"X-Token": {"t"}}},
		},
		"escaped line breaks from a shell": {
			env: map[string]string{florida.EnvRequest: `GET /s HTTP/1.0\r\nHost: florida\r\n\r\n`},
			want: florida.Config{IP: "127.0.0.1", Port: 8080, Method: "GET", Path: "/s",
				Header: http.Header{"Host": {"florida"}}},
		},
		"a bare request line": {
			env:  map[string]string{florida.EnvRequest: "GET /s"},
			want: florida.Config{IP: "127.0.0.1", Port: 8080, Method: "GET", Path: "/s", Header: http.Header{}},
		},
		"a bad port":                  {env: map[string]string{florida.EnvPort: "80a"}, wantErr: "DYNOMITE_FLORIDA_PORT"},
		"a port out of range":         {env: map[string]string{florida.EnvPort: "65536"}, wantErr: "DYNOMITE_FLORIDA_PORT"},
		"a bad address":               {env: map[string]string{florida.EnvIP: "a b"}, wantErr: "DYNOMITE_FLORIDA_IP"},
		"a request without path":      {env: map[string]string{florida.EnvRequest: "GET"}, wantErr: "DYNOMITE_FLORIDA_REQUEST"},
		"an absolute URL":             {env: map[string]string{florida.EnvRequest: "GET http://evil/x HTTP/1.0"}, wantErr: "not an absolute path"},
		"a lower-case method":         {env: map[string]string{florida.EnvRequest: "get /x HTTP/1.0"}, wantErr: "method"},
		"a broken header":             {env: map[string]string{florida.EnvRequest: "GET /x HTTP/1.0\r\nno colon\r\n\r\n"}, wantErr: "header line"},
		"too many request line words": {env: map[string]string{florida.EnvRequest: "GET /x HTTP/1.0 extra"}, wantErr: "request line"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := florida.ConfigFromEnv(env(tc.env))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestValidate(t *testing.T) {
	good := florida.Config{IP: "127.0.0.1", Port: 1, Method: "GET", Path: "/"}
	require.NoError(t, good.Validate())
	tests := map[string]struct {
		mod  func(*florida.Config)
		want string
	}{
		"no address":       {func(c *florida.Config) { c.IP = "" }, "DYNOMITE_FLORIDA_IP"},
		"port 0":           {func(c *florida.Config) { c.Port = 0 }, "DYNOMITE_FLORIDA_PORT"},
		"no path":          {func(c *florida.Config) { c.Path = "" }, "DYNOMITE_FLORIDA_REQUEST"},
		"negative timeout": {func(c *florida.Config) { c.Timeout = -1 }, "timeout"},
		"negative body":    {func(c *florida.Config) { c.MaxBody = -1 }, "maximum body"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := good
			tc.mod(&c)
			require.ErrorContains(t, c.Validate(), tc.want)
			_, err := florida.New(c, nil)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestURL(t *testing.T) {
	require.Equal(t, "http://[::1]:80/x", florida.Config{IP: "::1", Port: 80, Path: "/x"}.URL())
	require.Equal(t, "http://florida.test:80/x", florida.Config{IP: "florida.test", Port: 80, Path: "/x"}.URL())
}

// serve starts a florida fake on 127.0.0.1 and returns a provider for it.
func serve(t *testing.T, h http.HandlerFunc, mod func(*florida.Config)) *florida.Provider {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	host, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", host)
	p, _ := strconv.Atoi(port)
	cfg, err := florida.ConfigFromEnv(env(map[string]string{florida.EnvPort: strconv.Itoa(p)}))
	require.NoError(t, err)
	cfg.Timeout = 2 * time.Second
	if mod != nil {
		mod(&cfg)
	}
	prov, err := florida.New(cfg, nil)
	require.NoError(t, err)
	require.Equal(t, "florida_provider", prov.Name())
	return prov
}

func TestSeeds(t *testing.T) {
	tests := map[string]struct {
		status  int
		body    string
		delay   time.Duration
		stall   bool // send the headers and part of the body, then wait
		mod     func(*florida.Config)
		want    []string
		bad     int
		failure string // a regular expression
	}{
		"upstream's reply": {
			body: "127.0.0.1:8101:rack1:dc1:100|127.0.0.2:8101:rack2:dc1:200",
			want: []string{"127.0.0.1:8101:rack1:dc1:100", "127.0.0.2:8101:rack2:dc1:200"},
		},
		"florida.js with a trailing newline": {
			body: "127.0.0.1:8101:rack1:dc1:100|127.0.0.2:8101:rack2:dc1:200\n",
			want: []string{"127.0.0.1:8101:rack1:dc1:100", "127.0.0.2:8101:rack2:dc1:200"},
		},
		"bad entries are skipped": {
			body: "127.0.0.1:8101:rack1:dc1:100|<html>oops</html>|127.0.0.2:8101:rack2:dc1:x",
			want: []string{"127.0.0.1:8101:rack1:dc1:100"},
			bad:  2,
		},
		"duplicate tokens pass through (the refresher normalizes)": {
			body: "127.0.0.1:8101:rack1:dc1:100|127.0.0.2:8101:rack1:dc1:100",
			want: []string{"127.0.0.1:8101:rack1:dc1:100", "127.0.0.2:8101:rack1:dc1:100"},
		},
		"an empty body fails":        {body: "", failure: "no seeds"},
		"a blank body fails":         {body: " \r\n", failure: "no seeds"},
		"a 500 fails":                {status: 500, body: "127.0.0.1:8101:rack1:dc1:100", failure: "500"},
		"a 404 fails":                {status: 404, failure: "404"},
		"a redirect is not followed": {status: 302, failure: "302"},
		"a huge body fails": {
			body: strings.Repeat("127.0.0.1:8101:rack1:dc1:100|", 100), mod: func(c *florida.Config) { c.MaxBody = 1000 },
			failure: "larger than 1000 bytes",
		},
		"a slow server times out": {
			delay: 2 * time.Second, body: "127.0.0.1:8101:rack1:dc1:100",
			mod:     func(c *florida.Config) { c.Timeout = 100 * time.Millisecond },
			failure: "timeout awaiting response headers|deadline exceeded",
		},
		"a server that stalls in the body times out": {
			stall: true, body: "127.0.0.1:8101:rack1:dc1:100",
			mod:     func(c *florida.Config) { c.Timeout = 100 * time.Millisecond },
			failure: "deadline exceeded",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.delay > 0 {
					select {
					case <-time.After(tc.delay):
					case <-r.Context().Done():
						return
					}
				}
				if tc.stall {
					_, _ = w.Write([]byte(tc.body[:5]))
					w.(http.Flusher).Flush()
					<-r.Context().Done()
					return
				}
				if tc.status == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				if tc.status != 0 {
					w.WriteHeader(tc.status)
				}
				_, _ = w.Write([]byte(tc.body))
			}, tc.mod)
			seeds, err := p.Seeds(context.Background())
			if tc.failure != "" {
				require.Error(t, err)
				require.Regexp(t, tc.failure, err.Error())
				require.False(t, seedprovider.Partial(err))
				require.Nil(t, seeds)
				return
			}
			var got []string
			for _, s := range seeds {
				got = append(got, s.String())
			}
			require.Equal(t, tc.want, got)
			require.Len(t, seedprovider.Entries(err), tc.bad)
			if tc.bad == 0 {
				require.NoError(t, err)
			}
		})
	}
}

func TestSeedsSendsTheConfiguredRequest(t *testing.T) {
	var got *http.Request
	p := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		_, _ = w.Write([]byte("127.0.0.1:8101:rack1:dc1:100"))
	}, func(c *florida.Config) {
		c.Method, c.Path = "POST", "/REST/v1/admin/get_seeds?dc=dc1"
		c.Header = map[string][]string{"Host": {"florida.internal"}, "user-agent": {"HTMLGET 1.0"}}
	})
	_, err := p.Seeds(context.Background())
	require.NoError(t, err)
	require.Equal(t, "POST", got.Method)
	require.Equal(t, "/REST/v1/admin/get_seeds?dc=dc1", got.URL.RequestURI())
	require.Equal(t, "florida.internal", got.Host)
	require.Equal(t, "HTMLGET 1.0", got.UserAgent())
}

func TestSeedsUnreachableAndCancelled(t *testing.T) {
	// A port nobody listens on: take one and close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	p, err := florida.New(florida.Config{IP: "127.0.0.1", Port: port, Method: "GET", Path: "/"}, nil)
	require.NoError(t, err)
	_, err = p.Seeds(context.Background())
	require.ErrorContains(t, err, "connection refused")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = p.Seeds(ctx)
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
}

// FuzzParseRequest: never panics; an accepted request has a token method and
// an absolute path.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{florida.DefaultRequest, `GET /x\r\nA: b\r\n\r\n`, "GET", "GET /x HTTP/1.0\nbad", "\n\nGET /", "GET //host/x", "GET /%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		m, p, h, err := florida.ParseRequest(raw)
		if err != nil {
			return
		}
		require.NotEmpty(t, m)
		require.True(t, strings.HasPrefix(p, "/"))
		require.NotNil(t, h)
	})
}

func TestSeedsTruncatedReply(t *testing.T) {
	p := serve(t, func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\n127.0.0.1:8101:rack1:dc1:100|127.0.0.2:81")
		_ = buf.Flush()
	}, nil)
	seeds, err := p.Seeds(context.Background())
	require.ErrorContains(t, err, "unexpected EOF")
	require.False(t, seedprovider.Partial(err))
	require.Nil(t, seeds)
}
