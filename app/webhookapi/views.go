package webhookapi

import (
	"encoding/json"
	"time"

	"warden/core"
	"warden/core/api"
	"warden/core/outbox"
)

// The answers' JSON, and their schemas in the document.

// webhookView is a webhook as the API shows it: never its secret.
type webhookView struct {
	ID       string           `json:"id"`
	URL      string           `json:"url"`
	Accounts []core.AccountID `json:"accounts"`
	Events   []string         `json:"events"`
	Created  time.Time        `json:"created"`
	Last     *resultView      `json:"last,omitempty"`
	Retrying int              `json:"retrying"`
	Failed   int              `json:"failed"`
}

// created is the answer of POST /v1/webhooks: the one time the secret shows.
type created struct {
	webhookView
	Secret  string `json:"secret"`
	Warning string `json:"warning,omitempty"`
}

// resultView is one delivery attempt.
type resultView struct {
	OK      bool      `json:"ok"`
	At      time.Time `json:"at"`
	EventID string    `json:"event_id"`
	Status  int       `json:"status,omitempty"`
	Error   string    `json:"error,omitempty"`
}

// failureView is an event a webhook failed to take.
type failureView struct {
	Event        outbox.Event `json:"event"`
	Attempts     int          `json:"attempts"`
	FirstFailure time.Time    `json:"first_failure"`
	FailedAt     time.Time    `json:"failed_at"`
	Last         resultView   `json:"last"`
}

// retried is the answer of a retry of every failure.
type retried struct {
	Delivered int    `json:"delivered"`
	Failed    int    `json:"failed"`
	Error     string `json:"error,omitempty"`
}

func viewOf(h outbox.WebhookInfo) webhookView {
	v := webhookView{ID: h.ID, URL: h.URL, Accounts: h.Accounts, Events: h.Types, Created: h.Created,
		Retrying: h.Retrying, Failed: h.Failed}
	if v.Accounts == nil {
		v.Accounts = []core.AccountID{}
	}
	if v.Events == nil {
		v.Events = []string{}
	}
	if !h.Last.At.IsZero() {
		r := resultOf(h.Last)
		v.Last = &r
	}
	return v
}

func resultOf(r outbox.Result) resultView {
	return resultView{OK: r.OK(), At: r.At, EventID: r.EventID, Status: r.Status, Error: r.Error}
}

// Schema helpers, as core/api writes its own.

func object(required []string, props map[string]api.Schema) api.Schema {
	if required == nil {
		required = []string{}
	}
	return api.Schema{"type": "object", "additionalProperties": false, "required": required, "properties": props}
}

func text(desc string) api.Schema    { return api.Schema{"type": "string", "description": desc} }
func integer(desc string) api.Schema { return api.Schema{"type": "integer", "description": desc} }
func boolean(desc string) api.Schema { return api.Schema{"type": "boolean", "description": desc} }
func list(of api.Schema) api.Schema  { return api.Schema{"type": "array", "items": of} }
func timestamp(desc string) api.Schema {
	return api.Schema{"type": "string", "format": "date-time", "description": desc}
}

// eventType is the schema of an event type.
var eventType = api.Schema{"type": "string", "enum": outbox.Types}

// withProps returns a copy of an object schema with more properties, some
// required.
func withProps(base api.Schema, required []string, props map[string]api.Schema) api.Schema {
	out := object(append(append([]string{}, base["required"].([]string)...), required...), map[string]api.Schema{})
	for k, v := range base["properties"].(map[string]api.Schema) {
		out["properties"].(map[string]api.Schema)[k] = v
	}
	for k, v := range props {
		out["properties"].(map[string]api.Schema)[k] = v
	}
	return out
}

var (
	createSchema = object([]string{"url"}, map[string]api.Schema{
		"url":      text("the receiver: http:// or https://, e.g. https://crm.example.com/warden"),
		"accounts": api.Schema{"type": "array", "maxItems": maxAccounts, "items": api.Schema{"type": "string"}, "description": "only these accounts' events (default: every account the key may use)"},
		"events":   api.Schema{"type": "array", "items": api.Schema{"type": "string"}, "description": "only these event types (default: all): " + joinTypes()},
	})
	resultSchema = object([]string{"ok", "at", "event_id"}, map[string]api.Schema{
		"ok":       boolean("the receiver took the event (answered 2xx)"),
		"at":       timestamp("when the attempt ended"),
		"event_id": text("the event posted"),
		"status":   integer("the receiver's HTTP status; absent when it did not answer"),
		"error":    text("why the attempt failed, in an operator's words"),
	})
	webhookSchema = object([]string{"id", "url", "accounts", "events", "created", "retrying", "failed"}, map[string]api.Schema{
		"id":       text("the webhook's id"),
		"url":      text("where the events are posted"),
		"accounts": list(text("an account")),
		"events":   list(eventType),
		"created":  timestamp("when it was registered; it gets the events stored since"),
		"last":     resultSchema,
		"retrying": integer("how many accounts' next event failed and waits for another attempt"),
		"failed":   integer("how many events it failed to take for a day: list and retry them under /failures"),
	})
	createdSchema = withProps(webhookSchema, []string{"secret"}, map[string]api.Schema{
		"secret":  text("signs every delivery; shown only here: keep it now"),
		"warning": text("what to know about the URL (plain http:// to another machine)"),
	})
	eventSchema = object([]string{"id", "type", "account", "time", "data"}, map[string]api.Schema{
		"id": text("the event's id, the same on every delivery"), "type": eventType, "account": text("the account"),
		"time": timestamp("when it happened"), "data": api.Schema{"type": "object", "description": "the message or the timeline event"},
	})
	failureSchema = object([]string{"event", "attempts", "first_failure", "failed_at", "last"}, map[string]api.Schema{
		"event": eventSchema, "attempts": integer("the attempts made"), "first_failure": timestamp("the first failed attempt"),
		"failed_at": timestamp("when Warden gave up retrying"), "last": resultSchema,
	})
	retriedSchema = object([]string{"delivered", "failed"}, map[string]api.Schema{
		"delivered": integer("the failures delivered now"), "failed": integer("the failures left"),
		"error": text("why the first still failed"),
	})
)

func joinTypes() string {
	b, _ := json.Marshal(outbox.Types)
	return string(b)
}
