package api

import (
	"net/http"

	"warden/core"
)

// table is the API's route table: it registers the handlers and writes the
// OpenAPI document, so a route cannot exist without its description.
func (s *Server) table() []Route {
	account := func(desc string) map[int]Response {
		return map[int]Response{http.StatusOK: {Description: desc, Schema: ref("Account")}}
	}
	limit := Param{Name: "limit", Description: "at most this many, 1 to 1000 (default 100)", Schema: Schema{"type": "integer", "minimum": 1, "maximum": maxLimit}}
	cmd := func(path, id, summary string, run func(r *http.Request) *reply) Route {
		return Route{Method: http.MethodPost, Path: path, ID: id, Summary: summary, Write: true,
			Responses: account("the account after the command"), Handler: s.handle(run)}
	}
	return []Route{
		{Method: http.MethodGet, Path: "/v1/accounts", ID: "listAccounts", Summary: "list the accounts",
			Responses: map[int]Response{http.StatusOK: {Description: "the accounts the key may see", Schema: ref("AccountList")}},
			Handler:   s.handle(s.listAccounts)},
		{Method: http.MethodPost, Path: "/v1/accounts", ID: "createAccount", Summary: "add an account", Write: true,
			Body:      ref("CreateAccount"),
			Responses: map[int]Response{http.StatusCreated: {Description: "the new account; it is pairing: show its QR code", Schema: ref("Account")}},
			Handler:   s.handle(s.createAccount)},
		{Method: http.MethodGet, Path: "/v1/accounts/{id}", ID: "getAccount", Summary: "read an account",
			Responses: account("the account"), Handler: s.handle(s.getAccount)},
		{Method: http.MethodPatch, Path: "/v1/accounts/{id}", ID: "updateAccount", Summary: "rename an account or change its proxy", Write: true,
			Body: ref("UpdateAccount"), Responses: account("the account"), Handler: s.handle(s.patchAccount)},
		{Method: http.MethodDelete, Path: "/v1/accounts/{id}", ID: "deleteAccount", Summary: "delete an account", Write: true,
			Responses: map[int]Response{http.StatusOK: {Description: "deleted; a warning says when the device must be unlinked on the phone", Schema: ref("Deleted")}},
			Handler:   s.handle(s.deleteAccount)},
		{Method: http.MethodGet, Path: "/v1/accounts/{id}/qr", ID: "getQR", Summary: "read the pairing QR code",
			Responses: map[int]Response{http.StatusOK: {Description: "the QR code to scan, while the account is pairing", Schema: ref("QR")}},
			Handler:   s.handle(s.getQR)},
		{Method: http.MethodGet, Path: "/v1/accounts/{id}/qr.png", ID: "getQRImage", Summary: "read the pairing QR code as an image",
			Responses: map[int]Response{http.StatusOK: {Description: "the QR code, a PNG image", ContentType: "image/png", Schema: Schema{"type": "string", "contentMediaType": "image/png"}}},
			Handler:   s.handle(s.getQRPNG)},
		{Method: http.MethodPost, Path: "/v1/accounts/{id}/pair-phone", ID: "pairPhone", Summary: "pair with a code typed on the phone", Write: true,
			Body:      ref("PairPhone"),
			Responses: map[int]Response{http.StatusOK: {Description: "the code to type on the phone", Schema: ref("PairCode")}},
			Handler:   s.handle(s.pairPhone)},
		cmd("/v1/accounts/{id}/connect", "connectAccount", "connect an account", s.command(s.ctl.Connect)),
		cmd("/v1/accounts/{id}/disconnect", "disconnectAccount", "disconnect an account", s.command(s.ctl.Disconnect)),
		cmd("/v1/accounts/{id}/logout", "logoutAccount", "log an account out (unlink the device)", s.command(s.ctl.Logout)),
		cmd("/v1/accounts/{id}/takeover", "takeOverAccount", "take a replaced account back from the other client", s.command(s.takeover)),
		{Method: http.MethodGet, Path: "/v1/accounts/{id}/timeline", ID: "getTimeline", Summary: "read an account's timeline",
			Query:     []Param{limit, {Name: "before", Description: "only events with a seq below this one (default: the newest)", Schema: Schema{"type": "integer", "minimum": 0}}},
			Responses: map[int]Response{http.StatusOK: {Description: "the events, oldest first", Schema: ref("Timeline")}},
			Handler:   s.handle(s.timeline)},
		{Method: http.MethodPost, Path: "/v1/accounts/{id}/messages", ID: "sendMessage", Summary: "send a text message", Write: true,
			Headers: []Param{{Name: "Idempotency-Key", Description: "a retry with the same key (per API key and account, for 24 h, across restarts of Warden) returns the first answer and never sends twice",
				Schema: Schema{"type": "string", "maxLength": MaxIdempotencyKey}}},
			Body:      ref("SendMessage"),
			Responses: map[int]Response{http.StatusOK: {Description: "WhatsApp's server acknowledged the message", Schema: ref("Sent")}},
			Handler:   s.handle(s.sendMessage)},
		{Method: http.MethodGet, Path: "/v1/accounts/{id}/messages", ID: "listMessages", Summary: "read the messages an account received",
			Query:     []Param{{Name: "after", Description: "only messages with a seq above this one (default 0: from the oldest kept)", Schema: Schema{"type": "integer", "minimum": 0}}, limit},
			Responses: map[int]Response{http.StatusOK: {Description: "the messages, oldest first", Schema: ref("Messages")}},
			Handler:   s.handle(s.listMessages)},
		{Method: http.MethodGet, Path: "/v1/accounts/{id}/messages/{msgid}", ID: "getMessage", Summary: "read the status of a sent message",
			Responses: map[int]Response{http.StatusOK: {Description: "what became of the message", Schema: ref("MessageStatus")}},
			Handler:   s.handle(s.getMessage)},
		{Method: http.MethodGet, Path: "/v1/health", ID: "getHealth", Summary: "check whether accounts need the operator",
			Responses: map[int]Response{
				http.StatusOK:                 {Description: "no account needs the operator", Schema: ref("Health")},
				http.StatusServiceUnavailable: {Description: "some accounts need the operator", Schema: ref("Health")},
			},
			Handler: s.handle(s.health)},
		{Method: http.MethodGet, Path: "/v1/openapi.json", ID: "getOpenAPI", Summary: "read this document", Public: true,
			Responses: map[int]Response{http.StatusOK: {Description: "the OpenAPI 3.1 document", Schema: Schema{"type": "object"}}},
			Handler: s.handle(func(*http.Request) *reply {
				return &reply{status: http.StatusOK, contentType: "application/json", body: s.doc}
			})},
	}
}

// Schema helpers.

func ref(name string) Schema { return Schema{"$ref": "#/components/schemas/" + name} }

func object(required []string, props map[string]Schema) Schema {
	if required == nil {
		required = []string{}
	}
	return Schema{"type": "object", "additionalProperties": false, "required": required, "properties": props}
}

func text(desc string) Schema { return Schema{"type": "string", "description": desc} }

func integer(desc string) Schema { return Schema{"type": "integer", "description": desc} }

func boolean(desc string) Schema { return Schema{"type": "boolean", "description": desc} }

func timestamp(desc string) Schema {
	return Schema{"type": "string", "format": "date-time", "description": desc}
}

func list(items Schema) Schema { return Schema{"type": "array", "items": items} }

// stateNames lists the states as the API writes them.
func stateNames() []string {
	var out []string
	for _, st := range core.States {
		out = append(out, stateName(st))
	}
	return out
}

// components are the schemas the routes refer to.
func components() map[string]Schema {
	state := Schema{"type": "string", "enum": stateNames()}
	return map[string]Schema{
		"Error": object([]string{"error"}, map[string]Schema{"error": object([]string{"code", "message"}, map[string]Schema{
			"code":    text("what went wrong, for programs: not_connected, unknown_account, rate_limited…"),
			"message": text("what went wrong, for people"),
			"state":   state,
			"reason":  text("why the account is in its state"),
		})}),
		"State": state,
		"Account": object([]string{"id", "name", "state", "needs_action", "messages_today"}, map[string]Schema{
			"id":              text("the account's id; it never changes"),
			"name":            text("the operator's name for it"),
			"phone":           text("its number, +digits, once paired"),
			"state":           ref("State"),
			"reason":          text("why it is in its state, in an operator's words"),
			"since":           timestamp("when it entered its state"),
			"attempt":         integer("the next (waiting) or current (connecting) reconnect attempt"),
			"next_attempt":    timestamp("when the next dial happens"),
			"needs_action":    boolean("it waits for the operator: it will not recover by itself"),
			"node":            text("in a fleet, the Warden node that runs it"),
			"messages_today":  object([]string{"in", "out"}, map[string]Schema{"in": integer("received today"), "out": integer("sent today")}),
			"last_message_at": timestamp("when the last message came in"),
		}),
		"AccountList":   object([]string{"accounts"}, map[string]Schema{"accounts": list(ref("Account"))}),
		"CreateAccount": object([]string{"name"}, map[string]Schema{"name": text("a name for the account"), "proxy": text("its own proxy URL (socks5:// or http://), or direct")}),
		"UpdateAccount": object(nil, map[string]Schema{"name": text("a new name"), "proxy": text("a proxy URL, direct for none, empty for the default")}),
		"Deleted": object([]string{"id", "deleted"}, map[string]Schema{
			"id": text("the account's id"), "deleted": boolean("always true"),
			"warning": text("the device is still linked: remove it on the phone"),
		}),
		"QR": object([]string{"code", "index", "total", "expires_at"}, map[string]Schema{
			"code": text("the QR code's text: render it, or use qr.png"), "index": integer("which code of the series, from 1"),
			"total": integer("how many codes the series has"), "expires_at": timestamp("when this code gives way to the next"),
		}),
		"PairPhone":   object([]string{"phone"}, map[string]Schema{"phone": text("the phone's number, with its country code")}),
		"PairCode":    object([]string{"code"}, map[string]Schema{"code": text("the code to type on the phone")}),
		"SendMessage": object([]string{"to", "text"}, map[string]Schema{"to": text("the recipient's number, with its country code: +15550100200"), "text": text("the message")}),
		"Sent": object([]string{"id", "to", "status", "sent_at", "acked_at"}, map[string]Schema{
			"id": text("WhatsApp's message id"), "to": text("the recipient, +digits"),
			"status":  Schema{"type": "string", "enum": []string{statusAcknowledged}},
			"sent_at": timestamp("when Warden handed it to WhatsApp"), "acked_at": timestamp("when WhatsApp's server acknowledged it"),
		}),
		"MessageStatus": object([]string{"id", "status"}, map[string]Schema{
			"id":           text("WhatsApp's message id"),
			"status":       Schema{"type": "string", "enum": []string{statusAcknowledged, statusDelivered, statusFailed}},
			"at":           timestamp("when it reached its status"),
			"reason":       text("why it failed"),
			"delivered_at": timestamp("when the recipient's phone received it"),
		}),
		"Message": object([]string{"seq", "account", "id", "chat", "sender", "kind", "at", "received"}, map[string]Schema{
			"seq": integer("the account's number of the message: page with after=seq"), "account": text("the account that received it"),
			"id": text("WhatsApp's message id"), "chat": text("the chat's JID"), "sender": text("the sender's JID"),
			"sender_lid": text("the sender's LID, when WhatsApp gave both"), "push_name": text("the name the sender gave themselves"),
			"from_me": boolean("the account's own phone sent it"),
			"kind": Schema{"type": "string", "enum": []string{core.KindText, core.KindImage, core.KindVideo, core.KindAudio, core.KindDocument,
				core.KindSticker, core.KindLocation, core.KindContact, core.KindReaction, core.KindOther}},
			"text": text("the text, or media's caption"), "size": integer("the media's size in bytes"), "mime_type": text("the media's type"),
			"at": timestamp("WhatsApp's time of the message"), "received": timestamp("when Warden got it"),
			"offline": boolean("WhatsApp kept it while the account was away"),
		}),
		"Messages": object([]string{"messages"}, map[string]Schema{"messages": list(ref("Message"))}),
		"Event": object([]string{"seq", "at", "from", "to", "cause"}, map[string]Schema{
			"seq": integer("the event's number: page back with before=seq"), "at": timestamp("when it happened"),
			"from": ref("State"), "to": ref("State"), "cause": text("what triggered it"), "reason": text("why, in an operator's words"),
			"attempt": integer("the reconnect attempt"), "message_id": text("the message a send note is about"),
		}),
		"Timeline": object([]string{"events"}, map[string]Schema{"events": list(ref("Event"))}),
		"Health": object([]string{"status", "accounts", "needs_action"}, map[string]Schema{
			"status":       Schema{"type": "string", "enum": []string{"ok", "needs_action"}},
			"accounts":     integer("how many accounts the key sees"),
			"needs_action": list(ref("Account")),
		}),
	}
}
