package cluster

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkFence measures, in real time, how long after the fence the last
// session of a node is closed, when every polite close takes 150 ms: it must
// stay under the margin (a fifth of the TTL, 1 s at the default 5 s) at
// every size, so that nobody can take an account over while its old
// session lives. Reported as ms/fence, beside the margin.
func BenchmarkFence(b *testing.B) {
	for _, n := range []int{10, 100, 500} {
		b.Run(fmt.Sprint(n, " accounts"), func(b *testing.B) {
			var worst time.Duration
			var total time.Duration
			for range b.N {
				b.StopTimer()
				sm := newSim(DefaultTTL)
				sm.table.latency = 0
				for i := range n {
					sm.account(i)
				}
				a := sm.start("a")
				deadline := time.Now().Add(time.Minute)
				for len(a.m.Running()) < n || sm.connectedOn(a) < n {
					if time.Now().After(deadline) {
						b.Fatalf("only %d of %d accounts connected", sm.connectedOn(a), n)
					}
					time.Sleep(10 * time.Millisecond)
				}
				sm.d.Lock()
				sm.d.CloseDelay = 150 * time.Millisecond
				sm.d.Unlock()
				b.StartTimer()
				sm.table.setCut("a", true)
				<-a.node.Lost()
				lost := a.node.LostAt()
				for len(a.m.Running()) > 0 {
					time.Sleep(time.Millisecond)
				}
				took := time.Since(lost)
				b.StopTimer()
				total += took
				worst = max(worst, took)
				sm.table.setCut("a", false)
				sm.stopAll()
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/fence")
			b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
			b.ReportMetric(float64((DefaultTTL / 5).Milliseconds()), "margin-ms")
		})
	}
}
