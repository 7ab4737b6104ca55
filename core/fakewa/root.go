package fakewa

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCert"
	"go.mau.fi/whatsmeow/util/keys"
	"google.golang.org/protobuf/proto"
)

// rootKey is the fake server's certificate authority. It is derived from a fixed
// string, so every process and every Server share it.
var rootKey = keyPairFromSeed([]byte("warden fakewa test root key, not WhatsApp's"))

// RootPublicKey is the fake server's fixed test root key: the key whatsmeow must
// trust (whatsmeow.WACertPubKey) to accept this server's certificate chain. It is
// the same for every Server in the process. Treat it as read-only.
var RootPublicKey = *rootKey.Pub

var installOnce sync.Once

// InstallRootKey makes whatsmeow trust the fake server by copying RootPublicKey
// into whatsmeow.WACertPubKey. The change is process-wide: from then on no
// whatsmeow client in this process can talk to the real WhatsApp. New calls it.
func InstallRootKey() {
	installOnce.Do(func() { whatsmeow.WACertPubKey = RootPublicKey })
}

// keyPairFromSeed derives a Curve25519 key pair from seed, deterministically.
func keyPairFromSeed(seed []byte) *keys.KeyPair {
	priv := sha256.Sum256(seed)
	priv[0] &= 248
	priv[31] &= 127
	priv[31] |= 64
	return keys.NewKeyPairFromPrivateKey(priv)
}

// The serial numbers whatsmeow's verifyServerCert expects: the root issues the
// intermediate, the intermediate issues the leaf.
const (
	intermediateSerial = 1
	leafSerial         = 2
)

// certChain builds the certificate chain a server with the given static Noise key
// presents during the handshake: root → intermediate → leaf (the static key),
// each certificate signed with XEdDSA by its issuer.
func certChain(intermediate *keys.KeyPair, static [32]byte, now time.Time) ([]byte, error) {
	notBefore := uint64(now.Add(-time.Hour).Unix())
	notAfter := uint64(now.Add(365 * 24 * time.Hour).Unix())
	interDetails, err := proto.Marshal(&waCert.CertChain_NoiseCertificate_Details{
		Serial:       proto.Uint32(intermediateSerial),
		IssuerSerial: proto.Uint32(whatsmeow.WACertIssuerSerial),
		Key:          intermediate.Pub[:],
		NotBefore:    proto.Uint64(notBefore),
		NotAfter:     proto.Uint64(notAfter),
	})
	if err != nil {
		return nil, fmt.Errorf("marshal intermediate certificate: %w", err)
	}
	leafDetails, err := proto.Marshal(&waCert.CertChain_NoiseCertificate_Details{
		Serial:       proto.Uint32(leafSerial),
		IssuerSerial: proto.Uint32(intermediateSerial),
		Key:          static[:],
		NotBefore:    proto.Uint64(notBefore),
		NotAfter:     proto.Uint64(notAfter),
	})
	if err != nil {
		return nil, fmt.Errorf("marshal leaf certificate: %w", err)
	}
	interSig := sign(rootKey, interDetails)
	leafSig := sign(intermediate, leafDetails)
	chain, err := proto.Marshal(&waCert.CertChain{
		Intermediate: &waCert.CertChain_NoiseCertificate{Details: interDetails, Signature: interSig},
		Leaf:         &waCert.CertChain_NoiseCertificate{Details: leafDetails, Signature: leafSig},
	})
	if err != nil {
		return nil, fmt.Errorf("marshal certificate chain: %w", err)
	}
	return chain, nil
}

// sign returns the XEdDSA signature of msg by kp, as WhatsApp signs certificates
// and device identities.
func sign(kp *keys.KeyPair, msg []byte) []byte {
	sig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(*kp.Priv), msg)
	return sig[:]
}

// verify checks an XEdDSA signature of msg by the Curve25519 public key pub.
func verify(pub []byte, msg, sig []byte) bool {
	if len(pub) != 32 || len(sig) != 64 {
		return false
	}
	return ecc.VerifySignature(ecc.NewDjbECPublicKey([32]byte(pub)), msg, [64]byte(sig))
}
