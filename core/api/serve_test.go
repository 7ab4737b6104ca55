package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"warden/core"
	"warden/core/api"
	"warden/core/coretest"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "warden test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// The API listens on loopback unless remote access is allowed, and then
// only over TLS or with an explicit insecure, which the log warns about.
func TestServeReach(t *testing.T) {
	m, err := core.NewManager(core.Config{Dialer: coretest.NewDialer(), Store: coretest.NewStore()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	keys := coretest.NewKeys()
	certFile, keyFile, cert := selfSigned(t)
	for _, tc := range []struct {
		name    string
		cfg     api.Config
		err     error
		warning string
	}{
		{"every interface, no remote", api.Config{Addr: "0.0.0.0:0"}, api.ErrNotLoopback, ""},
		{"remote without TLS", api.Config{Addr: "0.0.0.0:0", AllowRemote: true}, api.ErrNoTLS, ""},
		{"remote, insecure", api.Config{Addr: "0.0.0.0:0", AllowRemote: true, Insecure: true}, nil, "plain HTTP"},
		{"remote, TLS", api.Config{Addr: "0.0.0.0:0", AllowRemote: true, TLSCert: certFile, TLSKey: keyFile}, nil, "over TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &syncBuffer{}
			cfg := tc.cfg
			cfg.Controller, cfg.Keys, cfg.Logger = m, keys, slog.New(slog.NewTextHandler(logs, nil))
			srv, err := api.Serve(cfg)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Serve = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			defer srv.Close(context.Background())
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), tc.warning) {
				t.Errorf("the log does not warn %q:\n%s", tc.warning, logs.String())
			}
		})
	}
	if _, err := api.Serve(api.Config{Addr: "127.0.0.1:0", Controller: m, Keys: keys, TLSCert: certFile}); err == nil {
		t.Error("Serve with a certificate and no key succeeded")
	}

	// Over TLS the API answers HTTPS.
	srv, err := api.Serve(api.Config{Addr: "127.0.0.1:0", Controller: m, Keys: keys, TLSCert: certFile, TLSKey: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + srv.Addr() + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET over HTTPS = %d", resp.StatusCode)
	}
}
