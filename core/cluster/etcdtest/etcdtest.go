// Package etcdtest starts real etcd servers, embedded in the test process
// (go.etcd.io/etcd/server/v3/embed), on 127.0.0.1 ports of their own, with
// their data in the test's temporary directory.
package etcdtest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Cluster is a running etcd cluster of one or more members.
type Cluster struct {
	mu        sync.Mutex
	Members   []*embed.Etcd // guarded by mu while starting
	Endpoints []string      // one client URL per member
}

// Start starts an etcd cluster of n members and stops it when the test ends.
// The ports are picked free and then bound by etcd, so another process may
// take one in between: such a start is tried again on other ports.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 {
		n = 1
	}
	for try := 1; ; try++ {
		c, err := start(t, n)
		if err == nil {
			t.Cleanup(c.Close)
			return c
		}
		c.Close()
		if try == 3 || !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatal(err)
		}
		t.Logf("etcd: %v; trying other ports", err)
	}
}

func start(t testing.TB, n int) (*Cluster, error) {
	dir := t.TempDir()
	type urls struct{ client, peer url.URL }
	us := make([]urls, n)
	var initial []string
	for i := range us {
		us[i] = urls{client: freeURL(t), peer: freeURL(t)}
		initial = append(initial, fmt.Sprintf("m%d=%s", i, us[i].peer.String()))
	}
	c := &Cluster{Members: make([]*embed.Etcd, n)}
	started := make(chan error, n)
	for i := range us {
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.Dir = fmt.Sprintf("%s/m%d", dir, i)
		cfg.ListenClientUrls = []url.URL{us[i].client}
		cfg.AdvertiseClientUrls = []url.URL{us[i].client}
		cfg.ListenPeerUrls = []url.URL{us[i].peer}
		cfg.AdvertisePeerUrls = []url.URL{us[i].peer}
		cfg.InitialCluster = strings.Join(initial, ",")
		cfg.InitialClusterToken = "warden-test"
		cfg.LogLevel = "error"
		cfg.UnsafeNoFsync = true // a test's throwaway data
		go func() {
			e, err := embed.StartEtcd(cfg)
			if err != nil {
				started <- fmt.Errorf("start etcd member %s: %w", cfg.Name, err)
				return
			}
			c.mu.Lock()
			c.Members[i] = e
			c.mu.Unlock()
			select {
			case <-e.Server.ReadyNotify():
				started <- nil
			case <-time.After(30 * time.Second):
				started <- fmt.Errorf("etcd member %s not ready in 30 s", cfg.Name)
			}
		}()
		c.Endpoints = append(c.Endpoints, us[i].client.String())
	}
	var errs []error
	for range n {
		if err := <-started; err != nil {
			errs = append(errs, err)
		}
	}
	return c, errors.Join(errs...)
}

// Close stops every member.
func (c *Cluster) Close() {
	c.mu.Lock()
	members := append([]*embed.Etcd(nil), c.Members...)
	c.mu.Unlock()
	for _, m := range members {
		if m != nil {
			m.Close()
		}
	}
}

func freeURL(t testing.TB) url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return url.URL{Scheme: "http", Host: addr}
}

// Leader returns the index of the member that leads now.
func (c *Cluster) Leader(t testing.TB) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for i, m := range c.Members {
			if m != nil && m.Server.Leader() == m.Server.MemberID() {
				c.mu.Unlock()
				return i
			}
		}
		c.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no etcd member leads")
	return -1
}

// Stop stops member i, as a crash of its machine would.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	m := c.Members[i]
	c.Members[i] = nil
	c.mu.Unlock()
	if m != nil {
		m.Close()
	}
}
