package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The last WhatsApp Web version fetched from WhatsApp is kept beside the
// settings (but is not one: the operator never sets it), so that a Warden
// started offline announces the newest version it ever learnt.

const keyWebVersion = "web_version"

type webVersionRecord struct {
	Version   string    `json:"version"`
	FetchedAt time.Time `json:"fetched_at"`
}

// WebVersion returns the last saved WhatsApp Web version ("2.3000.N") and
// when it was fetched; "" if none was saved. An unreadable record is logged
// and reads as none.
func (db *DB) WebVersion(ctx context.Context) (string, time.Time, error) {
	db.mu.Lock()
	held := db.heldVersion
	db.mu.Unlock()
	if held != nil {
		return held.Version, held.FetchedAt, nil
	}
	var raw []byte
	err := db.view(ctx, func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketSettings).Get([]byte(keyWebVersion)); v != nil {
			raw = append([]byte(nil), v...)
		}
		return nil
	})
	if err != nil || raw == nil {
		return "", time.Time{}, err
	}
	var rec webVersionRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		db.log.Warn("the saved WhatsApp Web version is unreadable; ignoring it", "err", err)
		return "", time.Time{}, nil
	}
	return rec.Version, rec.FetchedAt, nil
}

// SaveWebVersion keeps the WhatsApp Web version fetched at at. Under
// WithWritesHeld, it is kept in memory and written by ReleaseWrites: the
// dialer fetches it in the background, while the start may still fail.
func (db *DB) SaveWebVersion(ctx context.Context, version string, at time.Time) error {
	rec := webVersionRecord{Version: version, FetchedAt: at.UTC()}
	db.mu.Lock()
	select {
	case <-db.released: // closed under mu
		db.mu.Unlock()
		return db.saveWebVersion(ctx, rec)
	default:
		db.heldVersion = &rec
		db.mu.Unlock()
		return nil
	}
}

func (db *DB) saveWebVersion(ctx context.Context, rec webVersionRecord) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	err = db.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSettings).Put([]byte(keyWebVersion), v)
	})
	if err != nil {
		return fmt.Errorf("save the web version: %w", err)
	}
	return nil
}
