package main

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/pflag"

	"pocketlua/engine"
	"pocketlua/transport"
)

// parseTLSFlags checks the --tls-* flags; the files are read later, by
// transport.New, so a bad one is reported with its name.
func parseTLSFlags(fs *pflag.FlagSet, cfg *engine.Config, o *cliOptions, certs, keys []string, minVersion, clientCA, clientAuth, startups string, workers int) error {
	st, err := engine.ParseStartups("tls-max-startups", startups)
	if err != nil {
		return err
	}
	cfg.TLSStartups = st
	if cfg.TLSHandshakeTimeout <= 0 {
		return fmt.Errorf("--tls-handshake-timeout must be positive")
	}
	if workers < 1 {
		return fmt.Errorf("--tls-crypto-workers must be positive")
	}
	if len(certs) != len(keys) {
		return fmt.Errorf("%w: %d --tls-cert but %d --tls-key: give them in pairs", errUsage, len(certs), len(keys))
	}
	if _, ok := transport.ClientAuthModes[clientAuth]; !ok {
		return fmt.Errorf("--tls-client-auth %q: want none, optional or required", clientAuth)
	}
	if clientAuth != "none" && clientCA == "" {
		return fmt.Errorf("%w: --tls-client-auth %s needs --tls-client-ca", errUsage, clientAuth)
	}
	var minV uint16
	switch minVersion {
	case "1.2":
		minV = tls.VersionTLS12
	case "1.3":
		minV = tls.VersionTLS13
	default:
		return fmt.Errorf("--tls-min-version %q: want 1.2 or 1.3", minVersion)
	}
	if len(certs) == 0 {
		for _, name := range []string{"tls-required", "tls-client-ca", "tls-client-auth", "tls-min-version"} {
			if fs.Changed(name) {
				return fmt.Errorf("%w: --%s needs --tls-cert and --tls-key", errUsage, name)
			}
		}
		return nil
	}
	opts := &transport.Options{ClientCA: clientCA, ClientAuth: clientAuth, MinVersion: minV, CryptoWorkers: workers}
	for i := range certs {
		opts.Pairs = append(opts.Pairs, transport.Pair{Cert: certs[i], Key: keys[i]})
	}
	o.tls = opts
	return nil
}

// parseProxyFlags checks --proxy-from and --proxy-header-timeout.
func parseProxyFlags(fs *pflag.FlagSet, cfg *engine.Config, from string) error {
	if !cfg.ProxyProtocol {
		for _, name := range []string{"proxy-from", "proxy-header-timeout"} {
			if fs.Changed(name) {
				return fmt.Errorf("%w: --%s needs --proxy-protocol", errUsage, name)
			}
		}
		return nil
	}
	if cfg.ProxyHeaderTimeout <= 0 {
		return fmt.Errorf("--proxy-header-timeout must be positive")
	}
	for _, s := range strings.Split(from, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("--proxy-from %q: want CIDR prefixes, comma-separated (127.0.0.0/8,::1/128)", from)
		}
		cfg.ProxyFrom = append(cfg.ProxyFrom, p.Masked())
	}
	return nil
}
