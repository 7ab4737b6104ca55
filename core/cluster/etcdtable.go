package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdTable is the Table on etcd. Under its prefix:
//
//	nodes/<node>      the node's record, bound to its lease
//	owner/<account>   the owning node, bound to its lease; its create revision is the token
//	device/<device>   the account holding the device, bound to the same lease
//	last/<account>    the latest ownership of the account (lastRecord), not bound
//	devlast/<device>  the latest ownership of the device (lastRecord), not bound
//	handoff/<account> the node an account is being moved to, bound to the mover's lease
//	status/…, cmd/…, reply/…  the Console's (status.go, command.go)
type etcdTable struct {
	cli    *clientv3.Client
	prefix string
}

var _ Table = (*etcdTable)(nil)

func (t *etcdTable) key(kind, name string) string { return t.prefix + kind + "/" + name }

func (t *etcdTable) Grant(ctx context.Context, node string, ttl time.Duration, info []byte) (LeaseID, time.Duration, error) {
	grant, err := t.cli.Grant(ctx, int64((ttl+time.Second-1)/time.Second))
	if err != nil {
		return 0, 0, fmt.Errorf("cluster: grant the node's lease: %w", err)
	}
	if _, err := t.cli.Put(ctx, t.key("nodes", node), string(info), clientv3.WithLease(grant.ID)); err != nil {
		_, _ = t.cli.Revoke(context.Background(), grant.ID)
		return 0, 0, fmt.Errorf("cluster: register node %s: %w", node, err)
	}
	return LeaseID(grant.ID), time.Duration(grant.TTL) * time.Second, nil
}

func (t *etcdTable) KeepAlive(ctx context.Context, lease LeaseID) (time.Duration, error) {
	resp, err := t.cli.KeepAliveOnce(ctx, clientv3.LeaseID(lease))
	if err != nil {
		return 0, err
	}
	return time.Duration(resp.TTL) * time.Second, nil
}

func (t *etcdTable) Revoke(ctx context.Context, lease LeaseID) error {
	_, err := t.cli.Revoke(ctx, clientv3.LeaseID(lease))
	return err
}

func (t *etcdTable) Look(ctx context.Context, account, device string) (Look, error) {
	ops := []clientv3.Op{clientv3.OpGet(t.key("owner", account)), clientv3.OpGet(t.key("last", account))}
	if device != "" {
		ops = append(ops, clientv3.OpGet(t.key("device", device)), clientv3.OpGet(t.key("devlast", device)))
	}
	resp, err := t.cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return Look{}, fmt.Errorf("cluster: look up %s: %w", account, err)
	}
	var l Look
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		l.Owner = string(kvs[0].Value)
	}
	if l.Last, l.LastRev, err = readLast(resp.Responses[1].GetResponseRange().Kvs); err != nil {
		return Look{}, fmt.Errorf("cluster: %s: unreadable ownership record: %w", account, err)
	}
	if device != "" {
		if kvs := resp.Responses[2].GetResponseRange().Kvs; len(kvs) > 0 {
			l.DeviceOwner = string(kvs[0].Value)
		}
		if l.DevLast, l.DevLastRev, err = readLast(resp.Responses[3].GetResponseRange().Kvs); err != nil {
			return Look{}, fmt.Errorf("cluster: the device of %s: unreadable ownership record: %w", account, err)
		}
	}
	return l, nil
}

// readLast decodes a last record from a range response's key-values.
func readLast[KV interface {
	GetValue() []byte
	GetModRevision() int64
}](kvs []KV) (*lastRecord, int64, error) {
	if len(kvs) == 0 {
		return nil, 0, nil
	}
	var rec lastRecord
	if err := json.Unmarshal(kvs[0].GetValue(), &rec); err != nil {
		return nil, 0, err
	}
	return &rec, kvs[0].GetModRevision(), nil
}

func (t *etcdTable) Claim(ctx context.Context, lease LeaseID, node, account, device string, look Look) (int64, error) {
	ownerKey, lastKey := t.key("owner", account), t.key("last", account)
	cmps := []clientv3.Cmp{
		clientv3.Compare(clientv3.CreateRevision(ownerKey), "=", 0),
		clientv3.Compare(clientv3.ModRevision(lastKey), "=", look.LastRev),
	}
	rec, _ := json.Marshal(lastRecord{Node: node})
	ops := []clientv3.Op{
		clientv3.OpPut(ownerKey, node, clientv3.WithLease(clientv3.LeaseID(lease))),
		clientv3.OpPut(lastKey, string(rec)),
	}
	if device != "" {
		devKey, devLastKey := t.key("device", device), t.key("devlast", device)
		cmps = append(cmps,
			clientv3.Compare(clientv3.CreateRevision(devKey), "=", 0),
			clientv3.Compare(clientv3.ModRevision(devLastKey), "=", look.DevLastRev))
		drec, _ := json.Marshal(lastRecord{Node: node, Account: account})
		ops = append(ops,
			clientv3.OpPut(devKey, account, clientv3.WithLease(clientv3.LeaseID(lease))),
			clientv3.OpPut(devLastKey, string(drec)))
	}
	txn, err := t.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return 0, fmt.Errorf("cluster: acquire %s: %w", account, err)
	}
	if !txn.Succeeded {
		return 0, nil
	}
	token := txn.Header.Revision
	// The last records name their token: fix them up (no race: only the
	// owner writes them while it owns the account).
	rec, _ = json.Marshal(lastRecord{Node: node, Token: token})
	ops = []clientv3.Op{clientv3.OpPut(lastKey, string(rec))}
	if device != "" {
		drec, _ := json.Marshal(lastRecord{Node: node, Token: token, Account: account})
		ops = append(ops, clientv3.OpPut(t.key("devlast", device), string(drec)))
	}
	if _, err := t.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(ownerKey), "=", token)).Then(ops...).Commit(); err != nil {
		return token, fmt.Errorf("cluster: record the token of %s: %w", account, err)
	}
	return token, nil
}

func (t *etcdTable) Release(ctx context.Context, node, account, device string, token int64) (bool, error) {
	ownerKey := t.key("owner", account)
	rec, _ := json.Marshal(lastRecord{Node: node, Token: token, Released: true})
	ops := []clientv3.Op{
		clientv3.OpDelete(ownerKey),
		clientv3.OpPut(t.key("last", account), string(rec)),
		clientv3.OpDelete(t.key("status", account)),
	}
	if device != "" {
		drec, _ := json.Marshal(lastRecord{Node: node, Token: token, Released: true, Account: account})
		ops = append(ops, clientv3.OpDelete(t.key("device", device)), clientv3.OpPut(t.key("devlast", device), string(drec)))
	}
	txn, err := t.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(ownerKey), "=", token)).Then(ops...).Commit()
	if err != nil {
		return false, fmt.Errorf("cluster: release %s: %w", account, err)
	}
	return txn.Succeeded, nil
}

func (t *etcdTable) Owners(ctx context.Context) (map[string]Ownership, map[string]string, error) {
	ownerPrefix, handoffPrefix := t.prefix+"owner/", t.prefix+"handoff/"
	resp, err := t.cli.Txn(ctx).Then(
		clientv3.OpGet(ownerPrefix, clientv3.WithPrefix()),
		clientv3.OpGet(handoffPrefix, clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return nil, nil, err
	}
	owners := map[string]Ownership{}
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		owners[string(kv.Key[len(ownerPrefix):])] = Ownership{Node: string(kv.Value), Token: kv.CreateRevision}
	}
	handoffs := map[string]string{}
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		handoffs[string(kv.Key[len(handoffPrefix):])] = string(kv.Value)
	}
	return owners, handoffs, nil
}

func (t *etcdTable) Owner(ctx context.Context, account string) (Ownership, error) {
	resp, err := t.cli.Get(ctx, t.key("owner", account))
	if err != nil {
		return Ownership{}, fmt.Errorf("cluster: owner of %s: %w", account, err)
	}
	if len(resp.Kvs) == 0 {
		return Ownership{}, nil
	}
	return Ownership{Node: string(resp.Kvs[0].Value), Token: resp.Kvs[0].CreateRevision}, nil
}

func (t *etcdTable) Nodes(ctx context.Context) ([]string, error) {
	prefix := t.prefix + "nodes/"
	resp, err := t.cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("cluster: list nodes: %w", err)
	}
	out := make([]string, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, strings.TrimPrefix(string(kv.Key), prefix))
	}
	return out, nil
}

func (t *etcdTable) Handoff(ctx context.Context, lease LeaseID, account, node string) error {
	_, err := t.cli.Put(ctx, t.key("handoff", account), node, clientv3.WithLease(clientv3.LeaseID(lease)))
	return err
}

func (t *etcdTable) EndHandoff(ctx context.Context, account string) error {
	_, err := t.cli.Delete(ctx, t.key("handoff", account))
	return err
}
