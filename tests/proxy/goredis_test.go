// Package proxy_test runs go-redis, a test-only dependency kept out of the
// dynomite module, against nodes built with the proxy package's exported
// API.
package proxy_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/tlsconf"
	"github.com/dynomite-go/dynomite/proxy/tlsconf/tlstest"
)

// go-redis, as an application would use it, against the client TLS
// listener with requirepass and client certificates: the right password
// and certificates work; a wrong password, none, an untrusted CA, an
// expired server certificate and a missing or expired client certificate
// each fail with their own error, and the node keeps serving.
func TestGoRedisOverTLSWithAuth(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlstest.GenerateCA(dir)
	require.NoError(t, err)
	other, err := tlstest.GenerateCA(t.TempDir())
	require.NoError(t, err)
	srvCert, err := tlstest.GenerateLeaf(ca, "127.0.0.1")
	require.NoError(t, err)
	clientCert, err := tlstest.GenerateLeaf(ca, "app")
	require.NoError(t, err)
	now := time.Now()
	expired, err := ca.Issue(tlstest.Options{Names: []string{"127.0.0.1"}, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)})
	require.NoError(t, err)

	rd := proxytest.StartRedis(t)
	listener := func(cert *tlstest.Leaf, clientCA string) string {
		cfg, _, err := tlsconf.ClientListenerConfig(cert.CertFile, cert.KeyFile, clientCA)
		require.NoError(t, err)
		addr := proxytest.FreeAddr(t)
		proxytest.StartNode(t, msg.Redis, rd.Addr, func(o *proxy.Options) {
			o.ClientTLSListen, o.ClientTLS, o.RequirePass = addr, cfg, "s3cret"
			o.Users = []proxy.User{{Name: "app", Digest: sha256.Sum256([]byte("app-pw"))}}
		})
		return addr
	}
	good := listener(srvCert, ca.CertFile)
	stale := listener(expired, "")

	ctx := context.Background()
	client := func(addr, password string, tc *tls.Config) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: addr, Password: password, TLSConfig: tc, MaxRetries: -1, DialTimeout: 2 * time.Second})
		t.Cleanup(func() { c.Close() })
		return c
	}
	mtls := &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", Certificates: []tls.Certificate{clientCert.TLSCertificate()}}

	app := client(good, "s3cret", mtls)
	require.NoError(t, app.Set(ctx, "k", "over tls", 0).Err())
	got, err := app.Get(ctx, "k").Result()
	require.NoError(t, err)
	require.Equal(t, "over tls", got)

	// a named user (client_users), as go-redis sends it: HELLO 3 AUTH, then AUTH
	named := redis.NewClient(&redis.Options{Addr: good, Username: "app", Password: "app-pw", TLSConfig: mtls, MaxRetries: -1})
	t.Cleanup(func() { named.Close() })
	got, err = named.Get(ctx, "k").Result()
	require.NoError(t, err)
	require.Equal(t, "over tls", got)
	wrongUser := redis.NewClient(&redis.Options{Addr: good, Username: "app", Password: "s3cret", TLSConfig: mtls, MaxRetries: -1})
	t.Cleanup(func() { wrongUser.Close() })
	require.ErrorContains(t, wrongUser.Get(ctx, "k").Err(), "WRONGPASS", "requirepass is not app's password")

	for name, tc := range map[string]struct {
		addr, password string
		tls            *tls.Config
		want           string
	}{
		"wrong password":         {good, "nope", mtls, "WRONGPASS"},
		"no password":            {good, "", mtls, "NOAUTH"},
		"untrusted server CA":    {good, "s3cret", &tls.Config{RootCAs: other.Pool(), ServerName: "127.0.0.1", Certificates: mtls.Certificates}, "certificate signed by unknown authority"},
		"no client certificate":  {good, "s3cret", &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}, "certificate required"},
		"expired server cert":    {stale, "s3cret", &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}, "expired"},
		"plain client, TLS port": {good, "s3cret", nil, ""},
	} {
		t.Run(name, func(t *testing.T) {
			err := client(tc.addr, tc.password, tc.tls).Get(ctx, "k").Err()
			require.Error(t, err)
			require.NotEqual(t, redis.Nil, err)
			if tc.want != "" {
				require.Contains(t, err.Error(), tc.want)
			}
			// the application's connection is unaffected
			got, err := app.Get(ctx, "k").Result()
			require.NoError(t, err)
			require.Equal(t, "over tls", got)
		})
	}
}
