package fakewa

import (
	"encoding/binary"
	"testing"
)

// clientFrame builds a masked client frame with the given opcode and payload.
func clientFrame(opcode byte, payload []byte) []byte {
	f := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n <= 0xffff:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, 1, 2, 3, 4) // the mask key; the watcher never unmasks
	return append(f, payload...)
}

func TestFrameWatcherSeesCloseOnlyInHeaders(t *testing.T) {
	// Payloads full of bytes that look like close headers must not count.
	fake := make([]byte, 70_000)
	for i := range fake {
		fake[i] = 0x88
	}
	var stream []byte
	stream = append(stream, clientFrame(0x2, fake[:10])...)
	stream = append(stream, clientFrame(0x2, fake[:300])...)
	stream = append(stream, clientFrame(0x2, fake)...)
	stream = append(stream, clientFrame(0x9, nil)...) // a ping
	beforeClose := len(stream)
	stream = append(stream, clientFrame(opClose, []byte{0x03, 0xe8})...)
	stream = append(stream, clientFrame(opClose, nil)...) // a second close is not a new event

	for _, chunk := range []int{1, 3, 7, 4096, len(stream)} {
		closes := 0
		fw := frameWatcher{onClose: func() { closes++ }}
		for off := 0; off < len(stream); off += chunk {
			end := min(off+chunk, len(stream))
			if off < beforeClose && end > beforeClose {
				end = beforeClose // stop right before the close header once
			}
			fw.feed(stream[off:end])
			if end <= beforeClose && closes != 0 {
				t.Fatalf("chunks of %d: close seen after %d bytes, before any close frame", chunk, end)
			}
			off = end - chunk
		}
		if closes != 1 {
			t.Fatalf("chunks of %d: onClose called %d times, want 1", chunk, closes)
		}
	}
}

func TestFrameWatcherEndsOnceAtEOF(t *testing.T) {
	closes := 0
	fw := frameWatcher{onClose: func() { closes++ }}
	fw.feed(clientFrame(0x2, []byte("hello")))
	if closes != 0 {
		t.Fatalf("onClose called %d times by a data frame", closes)
	}
	fw.end()
	fw.feed(clientFrame(opClose, nil))
	fw.end()
	if closes != 1 {
		t.Fatalf("onClose called %d times, want 1", closes)
	}
}
