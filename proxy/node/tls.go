package node

import (
	"fmt"
	"log/slog"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/tlsconf"
)

// reloadable certificates, reloaded on SIGHUP without dropping connections.
type reloaders []*tlsconf.Reloader

func (rs reloaders) reload(log *slog.Logger) {
	for _, r := range rs {
		if err := r.Reload(); err != nil {
			log.Error("certificate reload failed; keeping the current one", "err", err)
		} else {
			log.Info("certificates reloaded")
		}
	}
}

// setupTLS fills the TLS parts of opts from the configuration.
func setupTLS(cfg *config.Config, opts *proxy.Options) (reloaders, error) {
	var rs reloaders
	if !cfg.ClientTLSListen.IsZero() {
		if cfg.ClientTLSCertFile == "" || cfg.ClientTLSKeyFile == "" {
			return nil, fmt.Errorf("client_tls_listen: %s needs client_tls_cert_file and client_tls_key_file", cfg.ClientTLSListen)
		}
		c, r, err := tlsconf.ClientListenerConfig(cfg.ClientTLSCertFile, cfg.ClientTLSKeyFile, cfg.ClientTLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("client_tls_*: %w", err)
		}
		opts.ClientTLSListen, opts.ClientTLS = cfg.ClientTLSListen.String(), c
		rs = append(rs, r)
	}
	opts.SecureOption = cfg.SecureServerOption.String()
	if cfg.SecureServerOption == config.SecureNone {
		return rs, nil
	}
	if cfg.PeerTLSCertFile != "" || cfg.PeerTLSKeyFile != "" || cfg.PeerTLSCAFile != "" {
		if cfg.PeerTLSCertFile == "" || cfg.PeerTLSKeyFile == "" || cfg.PeerTLSCAFile == "" {
			return nil, fmt.Errorf("peer_tls_cert_file, peer_tls_key_file and peer_tls_ca_file go together (secure_server_option: %s)", opts.SecureOption)
		}
		srv, cli, r, err := tlsconf.PeerConfigs(cfg.PeerTLSCertFile, cfg.PeerTLSKeyFile, cfg.PeerTLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("peer_tls_*: %w", err)
		}
		opts.PeerTLSServer, opts.PeerTLSClient = srv, cli
		return append(rs, r), nil
	}
	// upstream's form: one RSA key shared by every node
	srv, cli, err := tlsconf.SharedKeyConfigs(cfg.PemKeyFile)
	if err != nil {
		return nil, fmt.Errorf("pem_key_file: %q (secure_server_option: %s): %w", cfg.PemKeyFile, opts.SecureOption, err)
	}
	opts.PeerTLSServer, opts.PeerTLSClient = srv, cli
	return rs, nil
}
