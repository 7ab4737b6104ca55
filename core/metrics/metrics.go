// Package metrics serves a core.Manager's health to ops tools over HTTP:
// Prometheus metrics on /metrics, a yes/no health answer on /healthz, and a
// short index on /.
//
// Everything is derived from the Manager's public API. Gauges are computed at
// scrape time from Statuses and Counters; the other counters and histograms
// come from the timeline events (SubscribeEvents) seen since Serve was called,
// so call Serve before Manager.Start to count the start-up too.
//
// The metrics:
//
//	warden_accounts{state}                 accounts in each state, every state listed (0 included)
//	warden_accounts_needing_action         accounts waiting for the operator (Status.NeedsAction)
//	warden_keepalive_failing_accounts      Connected accounts whose keepalives go unanswered now
//	warden_quiet_accounts                  Connected accounts that receive nothing while their peers do (core.QuietAccounts)
//	warden_messages_today{direction}       messages received ("in") and sent ("out") today, over every account
//	warden_reconnect_attempts_total        dials to recover from a drop (see below)
//	warden_conflicts_total                 conflicts: another client took an account (440, Replaced)
//	warden_parks_total                     times Warden stopped trying by itself (see below)
//	warden_time_to_recover_seconds         from a drop to Connected again, per account
//	warden_keepalive_failures_total        sessions closed because keepalives failed too long
//	warden_sends_total{result}             test messages: "sent" (acknowledged) or "failed"
//	warden_send_latency_seconds            send → WhatsApp's ack of the sent ones
//	warden_self_check_failures_total       periodic self-checks that failed
//	warden_stale_events_dropped_total      session events of an older epoch, dropped
//	warden_reconnects_skipped_total        reconnection requests skipped: one was running
//
// plus Go's and the process's own (go_*, process_*) and the handler's
// (promhttp_*).
//
// How the event-driven ones read the state machine:
//   - A reconnect attempt is a transition into Connecting out of Waiting with
//     an attempt number (the reconnect schedule, or the operator's Retry now),
//     out of Replaced (the one takeover, or the operator's Take over) or out of
//     Banned (the ban expired, or the operator connected early). The start-up
//     dial (Waiting with attempt 0) and an operator's Connect from Idle or
//     LoggedOut are not reconnects.
//   - A park is a transition into a state that waits for the operator with
//     nothing scheduled: LoggedOut, Outdated, Failed, or Replaced or Banned
//     with no next dial (the event's Delay is 0: the conflict breaker parked
//     it, or the ban has no known expiry). The operator's own Log out is not
//     counted: Warden did not give up, the operator chose it.
//   - A drop is leaving Connected for Waiting, Replaced or Banned, the states
//     Warden can come back from. Time to recover runs from the drop to the
//     account's next Connected. The clock is abandoned when the account
//     becomes Idle (the operator stopped it, or Warden closed), LoggedOut,
//     Outdated or Failed (a new pairing or an update, not a recovery), or is
//     deleted.
//   - A keepalive failure is the zombie check firing: keepalives went
//     unanswered for Policy.ZombieAfter, so Warden closed the session and
//     reconnects. A failing spell that recovers in time is not counted; it
//     shows in warden_keepalive_failing_accounts while it lasts.
//   - Sends count the operator's test messages (CauseSent, CauseSendFailed).
//     A self-check that passed leaves no timeline event, so self-checks have
//     their own failure counter and are not in warden_sends_total.
package metrics

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"warden/core"
)

// Buckets of the histograms, in seconds.
var (
	// recoverBuckets span a reconnect on the schedule's first delay (3 s), the
	// takeover (30 s) and a long outage.
	recoverBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}
	// latencyBuckets span a fast ack to one WhatsApp barely gave in time.
	latencyBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
)

// exporter holds the registry and the goroutine that turns timeline events
// into counters. It serves no network itself: Server does.
type exporter struct {
	m       *core.Manager
	runs    func(core.AccountID) bool // Options.Runs; nil: every account
	reg     *prometheus.Registry
	ev      *eventMetrics
	handler http.Handler

	cancel func()        // ends the event subscription
	done   chan struct{} // closed when the event goroutine returns
}

// newExporter registers every metric and starts reading m's events. Call
// close to stop.
func newExporter(m *core.Manager, log *slog.Logger, runs func(core.AccountID) bool) *exporter {
	e := &exporter{m: m, runs: runs}
	reg := prometheus.NewRegistry()
	ev := newEventMetrics()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newAccountsCollector(e.statuses),
		ev.reconnects, ev.conflicts, ev.parks, ev.recover, ev.keepalive,
		ev.sends, ev.latency, ev.selfCheckFailures,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "warden_stale_events_dropped_total",
			Help: "Session events of an older session (epoch) that were dropped, so a dying client could not move the state.",
		}, func() float64 { return float64(m.Counters().StaleDropped) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "warden_reconnects_skipped_total",
			Help: "Reconnection requests skipped because one was already running for the account.",
		}, func() float64 { return float64(m.Counters().Skipped) }),
	)
	e.reg, e.ev, e.done = reg, ev, make(chan struct{})
	metricsHandler := promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError),
		Registry: reg,
	}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler)
	mux.HandleFunc("GET /healthz", e.healthz)
	mux.HandleFunc("GET /{$}", index)
	e.handler = mux

	events, cancel := m.SubscribeEvents()
	e.cancel = cancel
	go func() {
		defer close(e.done)
		for evt := range events {
			ev.observe(evt)
		}
	}()
	return e
}

// close stops reading events and waits for the goroutine. Safe to call twice.
func (e *exporter) close() {
	e.cancel()
	<-e.done
}

// statuses are the accounts this node counts: all of them, or in a fleet
// those it runs.
func (e *exporter) statuses() []core.Status {
	all := e.m.Statuses()
	if e.runs == nil {
		return all
	}
	out := all[:0]
	for _, st := range all {
		if e.runs(st.Account.ID) {
			out = append(out, st)
		}
	}
	return out
}

// accountsCollector computes the per-state gauges from Statuses at scrape
// time, so they are never stale and need no loop of their own.
type accountsCollector struct {
	statuses         func() []core.Status
	accounts         *prometheus.Desc
	needsAction      *prometheus.Desc
	keepaliveFailing *prometheus.Desc
	quiet            *prometheus.Desc
	today            *prometheus.Desc
}

func newAccountsCollector(statuses func() []core.Status) *accountsCollector {
	return &accountsCollector{
		statuses: statuses,
		accounts: prometheus.NewDesc("warden_accounts",
			"Accounts in each state; every state is listed, with 0 when no account is in it.", []string{"state"}, nil),
		needsAction: prometheus.NewDesc("warden_accounts_needing_action",
			"Accounts that wait for the operator and will not recover by themselves (what /healthz reports).", nil, nil),
		keepaliveFailing: prometheus.NewDesc("warden_keepalive_failing_accounts",
			"Connected accounts whose keepalives WhatsApp leaves unanswered right now.", nil, nil),
		quiet: prometheus.NewDesc("warden_quiet_accounts",
			"Connected accounts that received nothing for an hour while most of the others did: a hint that they no longer receive.", nil, nil),
		today: prometheus.NewDesc("warden_messages_today",
			`Messages of today (local time), over every account: "in" received from others, "out" sent by Warden or the accounts' phones.`, []string{"direction"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *accountsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.accounts
	ch <- c.needsAction
	ch <- c.keepaliveFailing
	ch <- c.quiet
	ch <- c.today
}

// Collect implements prometheus.Collector.
func (c *accountsCollector) Collect(ch chan<- prometheus.Metric) {
	counts := make(map[core.State]int, len(core.States))
	var needs, failing, in, out int
	now := time.Now()
	sts := c.statuses()
	for _, st := range sts {
		counts[st.State]++
		i, o := st.Traffic.Today(now)
		in, out = in+i, out+o
		if st.NeedsAction() {
			needs++
		}
		if st.State == core.Connected && !st.KeepAliveFailingSince.IsZero() {
			failing++
		}
	}
	for _, s := range core.States {
		ch <- prometheus.MustNewConstMetric(c.accounts, prometheus.GaugeValue, float64(counts[s]), s.String())
	}
	ch <- prometheus.MustNewConstMetric(c.needsAction, prometheus.GaugeValue, float64(needs))
	ch <- prometheus.MustNewConstMetric(c.keepaliveFailing, prometheus.GaugeValue, float64(failing))
	ch <- prometheus.MustNewConstMetric(c.quiet, prometheus.GaugeValue, float64(len(core.QuietAccounts(sts, now))))
	ch <- prometheus.MustNewConstMetric(c.today, prometheus.GaugeValue, float64(in), "in")
	ch <- prometheus.MustNewConstMetric(c.today, prometheus.GaugeValue, float64(out), "out")
}

// eventMetrics are the counters and histograms fed by timeline events.
type eventMetrics struct {
	reconnects        prometheus.Counter
	conflicts         prometheus.Counter
	parks             prometheus.Counter
	recover           prometheus.Histogram
	keepalive         prometheus.Counter
	sends             *prometheus.CounterVec
	latency           prometheus.Histogram
	selfCheckFailures prometheus.Counter

	// droppedAt holds, per account, when it dropped out of Connected and has
	// not recovered yet. Only observe touches it, from one goroutine.
	droppedAt map[core.AccountID]time.Time
}

func newEventMetrics() *eventMetrics {
	e := &eventMetrics{
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "warden_reconnect_attempts_total",
			Help: "Dials to recover from a drop: out of Waiting on the reconnect schedule (or Retry now), out of Replaced (takeover) or out of Banned (expiry).",
		}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "warden_conflicts_total",
			Help: "Conflicts: another client took an account (stream error 440), which became Replaced.",
		}),
		parks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "warden_parks_total",
			Help: "Times an account stopped by itself in a state that waits for the operator with nothing scheduled (LoggedOut, Outdated, Failed, parked Replaced or Banned).",
		}),
		recover: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "warden_time_to_recover_seconds",
			Help:    "Time from an account's drop out of Connected (to Waiting, Replaced or Banned) to Connected again.",
			Buckets: recoverBuckets,
		}),
		keepalive: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "warden_keepalive_failures_total",
			Help: "Sessions Warden closed and reconnected because WhatsApp left keepalives unanswered for too long (the zombie check).",
		}),
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "warden_sends_total",
			Help: `Test messages sent by the operator: result "sent" when WhatsApp acknowledged them, "failed" otherwise. Self-checks are not included.`,
		}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "warden_send_latency_seconds",
			Help:    "Time from handing a test message to the session to WhatsApp's acknowledgement, for the sent ones.",
			Buckets: latencyBuckets,
		}),
		selfCheckFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "warden_self_check_failures_total",
			Help: "Periodic self-checks (a message to the account's own number) that failed.",
		}),
		droppedAt: make(map[core.AccountID]time.Time),
	}
	// Both results are listed from the start, so a rate reads 0, not absent.
	e.sends.WithLabelValues("sent")
	e.sends.WithLabelValues("failed")
	return e
}

// observe counts one timeline event. See the package comment for the rules.
func (e *eventMetrics) observe(ev core.Event) {
	switch ev.Cause {
	case core.CauseSent:
		e.sends.WithLabelValues("sent").Inc()
		e.latency.Observe(ev.Latency.Seconds())
		return
	case core.CauseSendFailed:
		e.sends.WithLabelValues("failed").Inc()
		return
	case core.CauseSelfCheckFailed:
		e.selfCheckFailures.Inc()
		return
	case core.CauseDelete:
		delete(e.droppedAt, ev.Account)
		return
	}
	if ev.From == ev.To {
		return // a note: a skip, a stale event, a delivery...
	}

	if ev.To == core.Connecting && (ev.From == core.Waiting && ev.Attempt > 0 || ev.From == core.Replaced || ev.From == core.Banned) {
		e.reconnects.Inc()
	}
	if ev.To == core.Replaced && ev.Cause == core.SessionReplaced.String() {
		e.conflicts.Inc()
	}
	if parked(ev) {
		e.parks.Inc()
	}
	if ev.Cause == core.CauseZombie {
		e.keepalive.Inc()
	}

	switch ev.To {
	case core.Waiting, core.Replaced, core.Banned:
		if ev.From == core.Connected {
			e.droppedAt[ev.Account] = ev.At
		}
	case core.Connected:
		if at, ok := e.droppedAt[ev.Account]; ok {
			delete(e.droppedAt, ev.Account)
			e.recover.Observe(max(ev.At.Sub(at), 0).Seconds())
		}
	case core.Idle, core.LoggedOut, core.Outdated, core.Failed:
		delete(e.droppedAt, ev.Account)
	}
}

// parked reports whether a transition left the account waiting for the
// operator with nothing scheduled, by Warden's own decision.
func parked(ev core.Event) bool {
	if ev.Cause == core.CauseLogout {
		return false // the operator's Log out
	}
	switch ev.To {
	case core.LoggedOut, core.Outdated, core.Failed:
		return true
	case core.Replaced, core.Banned:
		return ev.Delay == 0 // no takeover, no known expiry
	}
	return false
}
