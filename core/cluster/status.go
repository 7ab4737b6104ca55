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
func (f *Fleet) publishLoop() {
	defer f.wg.Done()
	updates, cancel := f.m.Subscribe()
	defer cancel()
	pending := map[core.AccountID]core.Status{}
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
				f.publish(st)
				delete(pending, id)
			}
		}
	}
}

func (f *Fleet) publish(st core.Status) {
	if f.node.cli == nil {
		return // no Console without etcd
	}
	account := string(st.Account.ID)
	token := f.node.Owned()[account]
	if token == 0 {
		return // not ours: its owner publishes it
	}
	data, err := json.Marshal(Published{Node: f.node.name, Token: token, Status: st})
	if err != nil {
		f.log.Warn("encoding a status failed", "account", account, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.node.ttl)
	defer cancel()
	// Only while this node still owns the account with that token.
	ownerKey := f.node.key("owner", account)
	if _, err := f.node.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(ownerKey), "=", token)).
		Then(clientv3.OpPut(f.statusKey(account), string(data), clientv3.WithLease(clientv3.LeaseID(f.node.leaseID())))).Commit(); err != nil {
		f.log.Warn("publishing a status failed", "account", account, "err", err)
	}
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
