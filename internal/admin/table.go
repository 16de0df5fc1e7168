package admin

import (
	"net/http"
	"strings"
)

// Route is one admin API endpoint: a method and a net/http.ServeMux path
// pattern ({id} is a path segment). docs/openapi.yaml describes every one,
// and a test (internal/doccheck) holds the spec and this table to the same
// list.
type Route struct {
	Method string
	Path   string
}

// routeTable is every admin route and its handler; routes registers them
// from here.
var routeTable = []struct {
	Route
	serve func(s *Server, w http.ResponseWriter, r *http.Request)
}{
	{Route{http.MethodGet, "/v1/revocations"}, (*Server).listRevocations},
	{Route{http.MethodPost, "/v1/revocations"}, (*Server).createRevocation},
	{Route{http.MethodDelete, "/v1/revocations/{id}"}, (*Server).deleteRevocation},
	{Route{http.MethodPost, "/v1/reload"}, (*Server).reload},
	{Route{http.MethodGet, "/v1/status"}, (*Server).status},
	{Route{http.MethodGet, "/metrics"}, (*Server).serveMetrics},
}

// Routes lists every admin endpoint, in a new slice. A GET route also
// answers HEAD (net/http.ServeMux does), so each is listed with HEAD too.
func Routes() []Route {
	var out []Route
	for _, rt := range routeTable {
		out = append(out, rt.Route)
		if rt.Method == http.MethodGet {
			out = append(out, Route{http.MethodHead, rt.Path})
		}
	}
	return out
}

// register adds every route of routeTable to mux, and for each path a
// fallback that answers any other method with 405 and an Allow header
// naming the path's methods.
func (s *Server) register(mux *http.ServeMux) {
	var paths []string
	allow := map[string][]string{}
	for _, rt := range routeTable {
		mux.HandleFunc(rt.Method+" "+rt.Path, func(w http.ResponseWriter, r *http.Request) { rt.serve(s, w, r) })
		if allow[rt.Path] == nil {
			paths = append(paths, rt.Path)
		}
		allow[rt.Path] = append(allow[rt.Path], rt.Method)
	}
	for _, p := range paths {
		mux.HandleFunc(p, methodNotAllowed(strings.Join(allow[p], ", ")))
	}
}
