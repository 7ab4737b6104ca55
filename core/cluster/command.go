package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"warden/core"
)

// Commands for an account that another node runs travel through etcd: the
// caller puts a request under the owner's command prefix, bound to its own
// lease (so that it vanishes if the caller dies), and watches for the reply;
// the owner runs it on its Manager, puts the reply bound to its lease, and
// deletes the request. Nothing of this is written at idle.

// CommandTimeout bounds how long a caller waits for another node's reply.
const CommandTimeout = 90 * time.Second

// Ops of a routed command.
const (
	opConnect    = "connect"
	opDisconnect = "disconnect"
	opLogout     = "logout"
	opDelete     = "delete"
	opPairPhone  = "pair-phone"
	opRename     = "rename"
	opSetProxy   = "set-proxy"
	opSend       = "send"
	opMove       = "move" // hand the account over to Arg's node
	opTake       = "take" // acquire the account handed over to this node
)

type request struct {
	Op      string         `json:"op"`
	Account core.AccountID `json:"account"`
	Arg     string         `json:"arg,omitempty"`
	Arg2    string         `json:"arg2,omitempty"`
	From    string         `json:"from"`
}

type reply struct {
	Err  string           `json:"err,omitempty"`
	Code string           `json:"code,omitempty"` // the sentinel the error wraps
	Text string           `json:"text,omitempty"` // a pairing code
	Sent *core.SendResult `json:"sent,omitempty"`
}

// sentinels are the errors callers branch on, by code, so that errors.Is
// holds across nodes. In order: an error that wraps two gets the first.
var sentinels = []struct {
	code string
	err  error
}{
	{"unknown", core.ErrUnknownAccount},
	{"not-connected", core.ErrNotConnected},
	{"already", core.ErrAlreadyConnected},
	{"busy", core.ErrBusy},
	{"name", core.ErrInvalidName},
	{"phone", core.ErrInvalidPhone},
	{"not-pairing", core.ErrNotPairing},
	{"closed", core.ErrClosed},
	{"not-on-whatsapp", core.ErrNotOnWhatsApp},
	{"no-devices", core.ErrNoDevices},
	{"rate-limited", core.ErrRateLimited},
	{"no-ack", core.ErrNoAck},
	{"still-linked", core.ErrStillLinked},
	{"not-owned", core.ErrNotOwned},
	{"invalid-proxy", core.ErrInvalidProxy},
	{"orphan-wait", ErrOrphanWait},
	{"owned", ErrOwned},
	{"fenced", ErrFenced},
	{"duplicate", core.ErrDuplicateAccount},
	{"deadline", context.DeadlineExceeded},
	{"unknown-node", ErrUnknownNode},
	{"no-answer", ErrNoAnswer},
	{"unknown-command", errUnknownOp},
	{"moved-meanwhile", errMoved},
	{"handover-refused", errHandover},
}

// Errors of routed commands.
var (
	// ErrUnknownNode is wrapped when a command names a node that is not in
	// the fleet.
	ErrUnknownNode = errors.New("no such node in the fleet")
	// ErrNoAnswer is wrapped when the owner did not answer in time.
	ErrNoAnswer  = errors.New("the node that runs the account did not answer")
	errUnknownOp = errors.New("unknown command")
	errMoved     = errors.New("the account moved to another node meanwhile: try again")
	errHandover  = errors.New("the node refused the handover")
)

// remoteError is an error that happened on another node.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

func encodeError(err error) reply {
	if err == nil {
		return reply{}
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return reply{Err: err.Error(), Code: s.code}
		}
	}
	return reply{Err: err.Error()}
}

func (r reply) err() error {
	if r.Err == "" {
		return nil
	}
	var sentinel error
	for _, s := range sentinels {
		if s.code == r.Code {
			sentinel = s.err
		}
	}
	return &remoteError{msg: r.Err, sentinel: sentinel}
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (f *Fleet) cmdPrefix(node string) string { return f.node.prefix + "cmd/" + node + "/" }
func (f *Fleet) replyKey(id string) string    { return f.node.prefix + "reply/" + id }

// call sends a command to node and waits for its reply.
func (f *Fleet) call(ctx context.Context, node string, req request) (reply, error) {
	req.From = f.node.name
	data, _ := json.Marshal(req)
	id := newRequestID()
	ctx, cancel := context.WithTimeout(ctx, CommandTimeout)
	defer cancel()
	replyKey := f.replyKey(id)
	// Watch before the request can be answered.
	put, err := f.node.cli.Put(ctx, f.cmdPrefix(node)+id, string(data), clientv3.WithLease(clientv3.LeaseID(f.node.leaseID())))
	if err != nil {
		return reply{}, fmt.Errorf("send the command to node %s: %w", node, err)
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer dcancel()
		_, _ = f.node.cli.Delete(dctx, f.cmdPrefix(node)+id)
		_, _ = f.node.cli.Delete(dctx, replyKey)
	}()
	watch := f.node.cli.Watch(clientv3.WithRequireLeader(ctx), replyKey, clientv3.WithRev(put.Header.Revision+1))
	for {
		select {
		case <-ctx.Done():
			return reply{}, fmt.Errorf("%w: node %s, %s of %s (%v)", ErrNoAnswer, node, req.Op, req.Account, ctx.Err())
		case resp, ok := <-watch:
			if !ok {
				return reply{}, fmt.Errorf("%w: node %s, %s of %s", ErrNoAnswer, node, req.Op, req.Account)
			}
			if err := resp.Err(); err != nil {
				return reply{}, fmt.Errorf("%w: node %s: %v", ErrNoAnswer, node, err)
			}
			for _, ev := range resp.Events {
				if ev.Type != clientv3.EventTypePut {
					continue
				}
				var r reply
				if err := json.Unmarshal(ev.Kv.Value, &r); err != nil {
					return reply{}, fmt.Errorf("node %s sent an unreadable reply: %w", node, err)
				}
				return r, nil
			}
		}
	}
}

// serveCommands runs the commands other nodes send to this node, until the
// Fleet stops.
func (f *Fleet) serveCommands() {
	defer f.wg.Done()
	prefix := f.cmdPrefix(f.node.name)
	for f.ctx.Err() == nil {
		// Requests sent while no watch ran (a restart of the watch).
		if resp, err := f.node.cli.Get(f.ctx, prefix, clientv3.WithPrefix()); err == nil {
			for _, kv := range resp.Kvs {
				f.serveOne(string(kv.Key), kv.Value)
			}
			watch := f.node.cli.Watch(clientv3.WithRequireLeader(f.ctx), prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
			for resp := range watch {
				if resp.Err() != nil {
					break
				}
				for _, ev := range resp.Events {
					if ev.Type == clientv3.EventTypePut {
						f.serveOne(string(ev.Kv.Key), ev.Kv.Value)
					}
				}
			}
		}
		select {
		case <-f.ctx.Done():
		case <-time.After(f.every):
		}
	}
}

func (f *Fleet) serveOne(key string, data []byte) {
	f.served.Lock()
	if f.seen[key] {
		f.served.Unlock()
		return
	}
	f.seen[key] = true
	f.served.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		var req request
		var r reply
		if err := json.Unmarshal(data, &req); err != nil {
			r = reply{Err: "an unreadable command: " + err.Error()}
		} else {
			f.log.Info("running a command from another node", "op", req.Op, "account", req.Account, "from", req.From)
			r = f.execute(req)
		}
		id := key[len(f.cmdPrefix(f.node.name)):]
		out, _ := json.Marshal(r)
		ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
		defer cancel()
		if _, err := f.node.cli.Txn(ctx).Then(
			clientv3.OpPut(f.replyKey(id), string(out), clientv3.WithLease(clientv3.LeaseID(f.node.leaseID()))),
			clientv3.OpDelete(key),
		).Commit(); err != nil {
			f.log.Warn("answering a command failed", "op", req.Op, "from", req.From, "err", err)
		}
		f.served.Lock()
		delete(f.seen, key)
		f.served.Unlock()
	}()
}

// execute runs a command sent to this node.
func (f *Fleet) execute(req request) reply {
	ctx, cancel := context.WithTimeout(f.ctx, CommandTimeout-5*time.Second)
	defer cancel()
	id := req.Account
	if req.Op == opTake {
		return encodeError(f.take(ctx, id))
	}
	if _, ok := f.Allowed(id); !ok {
		return encodeError(fmt.Errorf("%w: %s", errMoved, id))
	}
	m := f.m
	switch req.Op {
	case opConnect:
		return encodeError(m.Connect(ctx, id))
	case opDisconnect:
		return encodeError(m.Disconnect(ctx, id))
	case opLogout:
		return encodeError(m.Logout(ctx, id))
	case opDelete:
		return encodeError(f.deleteOwned(ctx, id))
	case opPairPhone:
		code, err := m.PairPhone(ctx, id, req.Arg)
		r := encodeError(err)
		r.Text = code
		return r
	case opRename:
		return encodeError(m.Rename(ctx, id, req.Arg))
	case opSetProxy:
		return encodeError(m.SetProxy(ctx, id, req.Arg))
	case opSend:
		res, err := m.SendText(ctx, id, req.Arg, req.Arg2)
		r := encodeError(err)
		if err == nil {
			r.Sent = &res
		}
		return r
	case opMove:
		return encodeError(f.moveOwned(ctx, id, req.Arg))
	}
	return encodeError(fmt.Errorf("%w: %q", errUnknownOp, req.Op))
}
