package api_test

import (
	"net/http"
	"strings"
	"testing"

	"warden/core"
)

func TestListAndReadAccounts(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id := h.paired("alfa", "15550001111")
	h.start()
	h.waitState(id, core.Connected)

	var list struct {
		Accounts []struct {
			ID, Name, Phone, State string
			MessagesToday          struct{ In, Out int } `json:"messages_today"`
		}
	}
	h.get("/v1/accounts").decode(t, &list)
	if len(list.Accounts) != 1 || list.Accounts[0].ID != string(id) || list.Accounts[0].State != "connected" || list.Accounts[0].Phone != "+15550001111" {
		t.Fatalf("GET /v1/accounts = %+v, want alfa, connected, +15550001111", list)
	}
	a := h.get("/v1/accounts/" + string(id))
	if a.status != http.StatusOK || !strings.Contains(string(a.body), `"state":"connected"`) {
		t.Errorf("GET /v1/accounts/%s = %d %s", id, a.status, a.body)
	}
	if a := h.get("/v1/accounts/nope"); a.status != http.StatusNotFound || a.code(t) != "unknown_account" {
		t.Errorf("GET an unknown account = %d %s, want 404 unknown_account", a.status, a.body)
	}
}

func TestSend(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id := h.paired("alfa", "15550001111")
	h.start()
	h.waitState(id, core.Connected)

	a := h.post("/v1/accounts/"+string(id)+"/messages", map[string]string{"to": "+15550100200", "text": "hello"})
	var sent struct{ ID, To, Status string }
	a.decode(t, &sent)
	if a.status != http.StatusOK || sent.Status != "acknowledged" || sent.To != "+15550100200" || sent.ID == "" {
		t.Fatalf("POST messages = %d %s, want 200 acknowledged", a.status, a.body)
	}
	if got := h.d.Sent(); len(got) != 1 || got[0].Text != "hello" || got[0].To != "15550100200" {
		t.Errorf("the session sent %+v, want one hello", got)
	}
	if strings.Contains(h.logs.String(), "hello") || strings.Contains(h.logs.String(), h.admin) {
		t.Errorf("the log holds the message's text or the key:\n%s", h.logs.String())
	}
}
