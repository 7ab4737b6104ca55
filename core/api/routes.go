package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"warden/core"
)

// Route is one operation of the API. The same value registers the handler
// and describes the operation in the OpenAPI document.
type Route struct {
	Method string // GET, POST, PATCH, DELETE
	// Path is a net/http pattern path under /v1, such as
	// /v1/accounts/{id}. A route whose path has {id} serves one account:
	// a key that does not list it gets 403 before the handler runs.
	Path    string
	ID      string // the OpenAPI operationId
	Summary string
	// Description says more than Summary: who may call it, what it refuses.
	Description string
	// Write marks a route that changes something or sends: read-only keys
	// get 403.
	Write bool
	// Public routes need no key (the OpenAPI document).
	Public bool
	// Query and Headers are the parameters the route reads.
	Query   []Param
	Headers []Param
	// Body is the schema of the request body; nil: none.
	Body Schema
	// Responses are the statuses the route answers with besides errors,
	// which every route may answer with the Error schema.
	Responses map[int]Response
	Handler   http.Handler
}

// Param is a query or header parameter.
type Param struct {
	Name        string
	Description string
	Schema      Schema
}

// Response describes one status of a route.
type Response struct {
	Description string
	ContentType string // "": application/json
	Schema      Schema
}

// Schema is a JSON Schema, as the OpenAPI document holds it.
type Schema = map[string]any

// keyContext is the context key of the caller's API key.
type keyContext struct{}

// KeyFrom returns the API key of the request whose context this is.
func KeyFrom(ctx context.Context) (core.APIKey, bool) {
	k, ok := ctx.Value(keyContext{}).(core.APIKey)
	return k, ok
}

// ServeHTTP answers every request: the routes through the mux, anything
// else with a JSON 404 or 405.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	// The mux's own answer says 404 or 405 (with Allow); say it in JSON.
	start := s.now()
	probe := &statusWriter{ResponseWriter: discardWriter{header: make(http.Header)}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.Header().Get("Allow"))
		s.write(w, fail(http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+probe.Header().Get("Allow")))
	} else {
		s.write(w, fail(http.StatusNotFound, "not_found", "no route "+r.URL.Path+"; the routes are listed at /v1/openapi.json"))
	}
	s.logRequest(r, "", "", probe.status, s.now().Sub(start))
}

// wrap puts the checks every route shares before its handler: the key, its
// rate limit, its rights; and logs the request.
func (s *Server) wrap(rt Route) http.Handler {
	pattern := rt.Method + " " + rt.Path
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		sw := &statusWriter{ResponseWriter: w}
		name := ""
		if !rt.Public {
			k, rep := s.admit(r, rt)
			name = k.Name
			if rep != nil {
				s.write(sw, rep)
				s.logRequest(r, name, pattern, sw.status, s.now().Sub(start))
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), keyContext{}, k))
		}
		r.Body = http.MaxBytesReader(sw, r.Body, s.maxBody)
		rt.Handler.ServeHTTP(sw, r)
		s.logRequest(r, name, pattern, sw.status, s.now().Sub(start))
	})
}

// logRequest logs one request: never the key nor a message's text.
func (s *Server) logRequest(r *http.Request, key, pattern string, status int, took time.Duration) {
	if pattern == "" {
		pattern = "(none)"
	}
	log := s.log
	if id := r.PathValue("id"); id != "" {
		log = log.With("account", id)
	}
	log.Info("api request", "key", key, "method", r.Method, "route", pattern, "status", status, "duration", took)
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets a streaming handler (server-sent events) flush through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// discardWriter takes the mux's plain-text 404 and 405 answers.
type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// accountID is the {id} of a request.
func accountID(r *http.Request) core.AccountID { return core.AccountID(r.PathValue("id")) }

// queryInt reads an integer query parameter from lo to hi, def when absent.
func queryInt(r *http.Request, name string, def, lo, hi uint64) (uint64, *reply) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fail(http.StatusBadRequest, "invalid_query", fmt.Sprintf("%s must be a whole number from %d to %d, not %q", name, lo, hi, v))
	}
	return n, nil
}

// pathParams lists the {names} of a path.
func pathParams(path string) []string {
	var out []string
	for part := range strings.SplitSeq(path, "/") {
		if name, ok := strings.CutPrefix(part, "{"); ok {
			out = append(out, strings.TrimSuffix(name, "}"))
		}
	}
	return out
}
