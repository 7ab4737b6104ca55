package fakewa

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/socket"
	"go.mau.fi/whatsmeow/util/keys"
	"golang.org/x/crypto/curve25519"
	"google.golang.org/protobuf/proto"
)

// noiseState is the server's half of WhatsApp's Noise_XX_25519_AESGCM_SHA256
// handshake. It mirrors whatsmeow's socket.NoiseHandshake step for step; only the
// direction of the final keys differs.
type noiseState struct {
	hash    []byte
	salt    []byte
	key     cipher.AEAD
	counter uint32
}

func newNoiseState(header []byte) (*noiseState, error) {
	ns := &noiseState{hash: []byte(socket.NoiseStartPattern)} // exactly 32 bytes: used as is
	ns.salt = ns.hash
	var err error
	if ns.key, err = newGCM(ns.hash); err != nil {
		return nil, err
	}
	ns.authenticate(header)
	return ns, nil
}

func (ns *noiseState) authenticate(data []byte) {
	h := sha256.Sum256(append(ns.hash, data...))
	ns.hash = h[:]
}

func (ns *noiseState) encrypt(plaintext []byte) []byte {
	ciphertext := ns.key.Seal(nil, frameIV(ns.counter), plaintext, ns.hash)
	ns.counter++
	ns.authenticate(ciphertext)
	return ciphertext
}

func (ns *noiseState) decrypt(ciphertext []byte) ([]byte, error) {
	plaintext, err := ns.key.Open(nil, frameIV(ns.counter), ciphertext, ns.hash)
	ns.counter++
	if err != nil {
		return nil, err
	}
	ns.authenticate(ciphertext)
	return plaintext, nil
}

// mixDH mixes the Diffie-Hellman secret of priv and pub into the key.
func (ns *noiseState) mixDH(priv, pub [32]byte) error {
	secret, err := curve25519.X25519(priv[:], pub[:])
	if err != nil {
		return fmt.Errorf("x25519: %w", err)
	}
	write, read, err := expand(ns.salt, secret)
	if err != nil {
		return err
	}
	ns.counter = 0
	ns.salt = write
	ns.key, err = newGCM(read)
	return err
}

// split derives the transport ciphers. The client writes with the first key,
// so the server reads with it and writes with the second.
func (ns *noiseState) split() (read, write cipher.AEAD, err error) {
	k1, k2, err := expand(ns.salt, nil)
	if err != nil {
		return nil, nil, err
	}
	if read, err = newGCM(k1); err != nil {
		return nil, nil, err
	}
	if write, err = newGCM(k2); err != nil {
		return nil, nil, err
	}
	return read, write, nil
}

func expand(salt, secret []byte) (first, second []byte, err error) {
	out, err := hkdf.Key(sha256.New, secret, salt, "", 64)
	if err != nil {
		return nil, nil, fmt.Errorf("hkdf: %w", err)
	}
	return out[:32], out[32:], nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	return cipher.NewGCM(block)
}

// frameIV is the nonce of the n-th frame: 8 zero bytes and n, big-endian.
func frameIV(n uint32) []byte {
	iv := make([]byte, 12)
	binary.BigEndian.PutUint32(iv[8:], n)
	return iv
}

// handshakeResult is what the server learns from a completed handshake.
type handshakeResult struct {
	clientStatic [32]byte
	payload      *waWa6.ClientPayload
	read, write  cipher.AEAD
}

// serverHandshake runs the server side of the handshake. next returns the
// client's next frame; send writes one frame.
func serverHandshake(static *keys.KeyPair, chain []byte, next func() ([]byte, error), send func([]byte) error) (*handshakeResult, error) {
	ns, err := newNoiseState(socket.WAConnHeader)
	if err != nil {
		return nil, err
	}

	frame, err := next()
	if err != nil {
		return nil, fmt.Errorf("read client hello: %w", err)
	}
	var hello waWa6.HandshakeMessage
	if err := proto.Unmarshal(frame, &hello); err != nil {
		return nil, fmt.Errorf("unmarshal client hello: %w", err)
	}
	clientEphemeral := hello.GetClientHello().GetEphemeral()
	if len(clientEphemeral) != 32 {
		return nil, errors.New("client hello without a 32-byte ephemeral key")
	}
	ns.authenticate(clientEphemeral)

	ephemeral := keys.NewKeyPair()
	ns.authenticate(ephemeral.Pub[:])
	if err := ns.mixDH(*ephemeral.Priv, [32]byte(clientEphemeral)); err != nil {
		return nil, err
	}
	encStatic := ns.encrypt(static.Pub[:])
	if err := ns.mixDH(*static.Priv, [32]byte(clientEphemeral)); err != nil {
		return nil, err
	}
	encChain := ns.encrypt(chain)
	reply, err := proto.Marshal(&waWa6.HandshakeMessage{ServerHello: &waWa6.HandshakeMessage_ServerHello{
		Ephemeral: ephemeral.Pub[:],
		Static:    encStatic,
		Payload:   encChain,
	}})
	if err != nil {
		return nil, fmt.Errorf("marshal server hello: %w", err)
	}
	if err := send(reply); err != nil {
		return nil, fmt.Errorf("send server hello: %w", err)
	}

	frame, err = next()
	if err != nil {
		return nil, fmt.Errorf("read client finish: %w", err)
	}
	var finish waWa6.HandshakeMessage
	if err := proto.Unmarshal(frame, &finish); err != nil {
		return nil, fmt.Errorf("unmarshal client finish: %w", err)
	}
	clientStatic, err := ns.decrypt(finish.GetClientFinish().GetStatic())
	if err != nil {
		return nil, fmt.Errorf("decrypt client static key: %w", err)
	}
	if len(clientStatic) != 32 {
		return nil, fmt.Errorf("client static key has %d bytes, want 32", len(clientStatic))
	}
	if err := ns.mixDH(*ephemeral.Priv, [32]byte(clientStatic)); err != nil {
		return nil, err
	}
	rawPayload, err := ns.decrypt(finish.GetClientFinish().GetPayload())
	if err != nil {
		return nil, fmt.Errorf("decrypt client payload: %w", err)
	}
	var payload waWa6.ClientPayload
	if err := proto.Unmarshal(rawPayload, &payload); err != nil {
		return nil, fmt.Errorf("unmarshal client payload: %w", err)
	}
	read, write, err := ns.split()
	if err != nil {
		return nil, err
	}
	return &handshakeResult{clientStatic: [32]byte(clientStatic), payload: &payload, read: read, write: write}, nil
}
