package metrics

import (
	"fmt"
	"net/http"
	"strings"

	"warden/core"
)

// healthz answers 200 when no account needs the operator and 503 when some
// do, with a short plain-text body saying how many, in which states, and
// which accounts.
//
// "Needs the operator" is core's own rule, Status.NeedsAction, the one the
// window sorts and notifies by: LoggedOut, Outdated and Failed, and Replaced
// or Banned with nothing scheduled (the conflict breaker parked it, or the ban
// has no known expiry), and an account whose dials its proxy refused
// core.RefusalLimit times in a row (Status.Stuck), though Warden retries. Idle is not in it: an account is Idle because the
// operator stopped it, Warden was closed, or the operator's pairing lapsed.
// Accounts still on their way back (Waiting, Connecting, a pending takeover
// or ban expiry) are not in it either: Warden is handling them.
func (e *exporter) healthz(w http.ResponseWriter, r *http.Request) {
	statuses := e.statuses()
	var need []core.Status
	for _, st := range statuses {
		if st.NeedsAction() {
			need = append(need, st)
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if len(need) == 0 {
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "ok: %s, none needs the operator\n", plural(len(statuses), "account", "accounts"))
		return
	}

	counts := make(map[core.State]int)
	stuck := 0
	for _, st := range need {
		if st.Stuck() {
			stuck++
			continue
		}
		counts[st.State]++
	}
	var groups []string
	for _, s := range core.States {
		if n := counts[s]; n > 0 {
			groups = append(groups, fmt.Sprintf("%d %s", n, stateLabel(s)))
		}
	}
	if stuck > 0 {
		groups = append(groups, fmt.Sprintf("%d %s", stuck, stuckLabel))
	}
	var b strings.Builder
	verb := "needs"
	if len(need) > 1 {
		verb = "need"
	}
	fmt.Fprintf(&b, "%d of %s %s the operator: %s\n", len(need), plural(len(statuses), "account", "accounts"), verb, strings.Join(groups, ", "))
	for _, st := range need {
		label := stateLabel(st.State)
		if st.Stuck() {
			label = stuckLabel
		}
		fmt.Fprintf(&b, "- %s (%s): %s", st.Account.Name, st.Account.ID, label)
		if st.Reason != "" {
			fmt.Fprintf(&b, ": %s", st.Reason)
		}
		b.WriteByte('\n')
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(b.String()))
}

// stuckLabel names the accounts whose dials keep being refused
// (Status.Stuck): Warden keeps trying, but the operator must fix it.
const stuckLabel = "refused every time (still retrying)"

// stateLabel names a state that needs the operator; Replaced and Banned say
// why they are in the list.
func stateLabel(s core.State) string {
	switch s {
	case core.Replaced:
		return "Replaced (parked)"
	case core.Banned:
		return "Banned (no expiry)"
	}
	return s.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// index lists the paths.
func index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("Warden\n" +
		"/metrics  Prometheus metrics\n" +
		"/healthz  200 when no account needs the operator, 503 (and which) when some do\n"))
}
