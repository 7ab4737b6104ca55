package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"warden/core"
)

// Every node's window lists every account. The owner of an account publishes
// its status under the node's lease (so that it vanishes with the node), at
// most once per publishEvery per account, and only when it changed: at idle
// nothing is written. Any node reads them all with Statuses.

const publishEvery = 200 * time.Millisecond

// Published is an account's status as its owner published it.
type Published struct {
	Node   string      `json:"node"`
	Token  int64       `json:"token"`
	Status core.Status `json:"status"`
}

func (f *Fleet) statusKey(account string) string { return f.node.key("status", account) }

// publishLoop publishes the statuses of owned accounts as they change.
// updates was subscribed to before the loop started, and the statuses of that
// moment are published first: an account a window adds and pairs right after
// Start (Console.Add) is on every node's window even if this goroutine was
// slow to run. A publish that fails is tried again at the next tick, unless a
// newer status replaced it.
func (f *Fleet) publishLoop(updates <-chan core.Status, cancel func()) {
	defer f.wg.Done()
	defer cancel()
	pending := map[core.AccountID]core.Status{}
	for _, st := range f.m.Statuses() {
		pending[st.Account.ID] = st
	}
	tick := time.NewTicker(publishEvery)
	defer tick.Stop()
	for {
		select {
		case <-f.ctx.Done():
			return
		case st, ok := <-updates:
			if !ok {
				return
			}
			pending[st.Account.ID] = st
		case <-tick.C:
			for id, st := range pending {
				if err := f.publish(st); err != nil {
					f.log.Warn("publishing a status failed; trying again", "account", id, "err", err)
					continue
				}
				delete(pending, id)
			}
		}
	}
}

// publish writes the status for the other nodes' windows if this node owns
// the account; an error says it should be tried again.
func (f *Fleet) publish(st core.Status) error {
	if f.node.cli == nil {
		return nil // no Console without etcd
	}
	account := string(st.Account.ID)
	token := f.node.Owned()[account]
	if token == 0 {
		return nil // not ours: its owner publishes it
	}
	data, err := json.Marshal(Published{Node: f.node.name, Token: token, Status: st})
	if err != nil {
		f.log.Warn("encoding a status failed", "account", account, "err", err)
		return nil
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.node.ttl)
	defer cancel()
	// Only while this node still owns the account with that token.
	ownerKey := f.node.key("owner", account)
	_, err = f.node.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(ownerKey), "=", token)).
		Then(clientv3.OpPut(f.statusKey(account), string(data), clientv3.WithLease(clientv3.LeaseID(f.node.leaseID())))).Commit()
	if err != nil && f.ctx.Err() == nil {
		return err
	}
	return nil
}

// Statuses returns the published status of every account some node runs.
func (f *Fleet) Statuses(ctx context.Context) ([]Published, error) {
	prefix := f.node.prefix + "status/"
	resp, err := f.node.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("cluster: read the fleet's statuses: %w", err)
	}
	out := make([]Published, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var p Published
		if err := json.Unmarshal(kv.Value, &p); err != nil {
			f.log.Warn("an unreadable published status", "key", string(kv.Key), "err", err)
			continue
		}
		out = append(out, p)
	}
	return out, nil
}
