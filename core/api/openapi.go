package api

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// APIVersion is the version of the API the document describes.
const APIVersion = "1.0.0"

// document writes the OpenAPI 3.1 document of the routes.
func document(routes []Route) ([]byte, error) {
	paths := map[string]map[string]any{}
	for _, rt := range routes {
		item := paths[rt.Path]
		if item == nil {
			item = map[string]any{}
			paths[rt.Path] = item
		}
		method := strings.ToLower(rt.Method)
		if _, dup := item[method]; dup {
			return nil, fmt.Errorf("api: two routes %s %s", rt.Method, rt.Path)
		}
		item[method] = operation(rt)
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Warden API",
			"version": APIVersion,
			"description": "Warden's HTTP API: the accounts, pairing, sending, the received messages, and (when served) the webhooks and the live event stream. " +
				"Every call but this document's needs an API key: Authorization: Bearer wdn_…; " +
				"create one with: warden api-key create --name NAME. Errors are {\"error\": {\"code\", \"message\"}}.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas":         components(),
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "an API key, wdn_<id>_<secret>"}},
		},
		"security": []any{map[string]any{"bearer": []string{}}},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("api: write the OpenAPI document: %w", err)
	}
	return append(b, '\n'), nil
}

// operation describes one route.
func operation(rt Route) map[string]any {
	var params []any
	for _, name := range pathParams(rt.Path) {
		params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": Schema{"type": "string"}})
	}
	for _, p := range rt.Query {
		params = append(params, map[string]any{"name": p.Name, "in": "query", "description": p.Description, "schema": p.Schema})
	}
	for _, p := range rt.Headers {
		params = append(params, map[string]any{"name": p.Name, "in": "header", "description": p.Description, "schema": p.Schema})
	}
	responses := map[string]any{
		"default": map[string]any{"description": "an error", "content": map[string]any{"application/json": map[string]any{"schema": ref("Error")}}},
	}
	for status, r := range rt.Responses {
		ct := r.ContentType
		if ct == "" {
			ct = "application/json"
		}
		responses[strconv.Itoa(status)] = map[string]any{"description": r.Description, "content": map[string]any{ct: map[string]any{"schema": r.Schema}}}
	}
	op := map[string]any{"operationId": rt.ID, "summary": rt.Summary, "responses": responses}
	if rt.Description != "" {
		op["description"] = rt.Description
	}
	if params != nil {
		op["parameters"] = params
	}
	if rt.Body != nil {
		op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": rt.Body}}}
	}
	if rt.Public {
		op["security"] = []any{}
	}
	return op
}
