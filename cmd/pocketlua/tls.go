package main

import (
	"crypto/tls"
	"fmt"

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
