package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"warden/core"
)

// maxIDLen bounds account IDs, which are bucket names and keys: core checks
// an imported account's ID against the same bound (core.ValidateAccountID).
const maxIDLen = core.MaxAccountIDLen

// Accounts returns every account, oldest first (by CreatedAt, then ID).
func (db *DB) Accounts(ctx context.Context) ([]core.Account, error) {
	var out []core.Account
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).ForEach(func(k, v []byte) error {
			var a core.Account
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("account %s: %w: %w", k, ErrCorrupt, err)
			}
			a.ID = core.AccountID(k)
			out = append(out, a)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	slices.SortFunc(out, func(a, b core.Account) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(string(a.ID), string(b.ID))
	})
	return out, nil
}

// PutAccount creates or replaces an account. Its CreatedAt is stored in UTC.
func (db *DB) PutAccount(ctx context.Context, a core.Account) error {
	if err := checkID(a.ID); err != nil {
		return fmt.Errorf("put account: %w", err)
	}
	a.CreatedAt = a.CreatedAt.UTC()
	v, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("put account %s: %w", a.ID, err)
	}
	err = db.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).Put([]byte(a.ID), v)
	})
	if err != nil {
		return fmt.Errorf("put account %s: %w", a.ID, err)
	}
	return nil
}

// DeleteAccount removes the account, its events, its logs and its messages in
// one transaction. Deleting an account that does not exist does nothing.
func (db *DB) DeleteAccount(ctx context.Context, id core.AccountID) error {
	if err := checkID(id); err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketAccounts).Delete([]byte(id)); err != nil {
			return err
		}
		for _, root := range [][]byte{bucketEvents, bucketLogs, bucketInbox} {
			err := tx.Bucket(root).DeleteBucket([]byte(id))
			if err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
				return fmt.Errorf("%s: %w", root, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete account %s: %w", id, err)
	}
	return nil
}

func checkID(id core.AccountID) error {
	switch {
	case id == "":
		return errors.New("empty account id")
	case len(id) > maxIDLen:
		return fmt.Errorf("account id longer than %d bytes", maxIDLen)
	case id[0] == 0:
		return errors.New("account id starts with a zero byte")
	}
	return nil
}
