package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/provost-dev/provost/internal/evidencelog"
)

// Route is one endpoint `provost serve` answers. docs/openapi.yaml
// describes every one, and a test (internal/doccheck) holds the spec and
// this table to the same list.
type Route struct {
	// Path is the path answered.
	Path string
	// Below says every path below Path (Path + "/...") is answered too.
	Below bool
	// Methods are the methods the endpoint takes, as the spec lists them;
	// nil: every method. The table does not enforce them: each handler
	// answers 405 to any other itself (internal/doccheck compares this
	// list with docs/openapi.yaml, not with the handlers).
	Methods []string
	// Needs names the configuration that turns the endpoint on; "": it is
	// always served. Without it the path answers 404.
	Needs string
}

// routeEntry is a Route with its handler.
type routeEntry struct {
	Route
	serve func(s *Server, w *reply, r *http.Request)
	// on reports whether the route is served with the server's Deps; nil:
	// always.
	on func(d *Deps) bool
}

var getHead = []string{http.MethodGet, http.MethodHead}

// routeTable is every route, the ones asked most often first. No two
// routes answer the same path.
var routeTable = []routeEntry{
	{Route{Path: PathCheck, Methods: []string{http.MethodPost}}, (*Server).check, nil},
	{Route{Path: PathForwardAuth, Below: true}, (*Server).forwardAuth, nil},
	{Route{Path: PathHealthz, Methods: getHead}, func(s *Server, w *reply, r *http.Request) { s.health(w, r, false) }, nil},
	{Route{Path: PathReadyz, Methods: getHead}, func(s *Server, w *reply, r *http.Request) { s.health(w, r, true) }, nil},
	{Route{Path: PathLogCheckpoint, Methods: getHead}, logRoute((*Server).logCheckpoint), nil},
	{Route{Path: PathLogKey, Methods: getHead}, logRoute(func(_ *Server, w *reply, _ *http.Request, l evidencelog.Reader) {
		writeText(w, l.VerifierKey()+"\n")
	}), nil},
	{Route{Path: PathLogEntries, Methods: getHead}, logRoute((*Server).logEntries), nil},
	{Route{Path: PathLogInclusionProof, Methods: getHead}, logRoute((*Server).logInclusion), nil},
	{Route{Path: PathLogConsistencyProof, Methods: getHead}, logRoute((*Server).logConsistency), nil},
	{Route{Path: PathLogReceipt, Methods: getHead}, logRoute((*Server).logReceipt), nil},
	// The receiver answers every refusal, a wrong method included, with
	// an RFC 8935 error.
	{Route{Path: PathSSFEvents, Methods: []string{http.MethodPost}, Needs: "ssf.receiver"},
		func(s *Server, w *reply, r *http.Request) { s.deps.SSFEvents.ServeHTTP(w, r) },
		func(d *Deps) bool { return d.SSFEvents != nil }},
	{Route{Path: PathSSFJWKS, Methods: getHead, Needs: "ssf.transmitter"},
		func(s *Server, w *reply, r *http.Request) { s.static(w, r, "application/jwk-set+json", s.deps.SSFJWKS) },
		func(d *Deps) bool { return d.SSFJWKS != nil }},
	{Route{Path: PathSSFConfig, Methods: getHead, Needs: "ssf.transmitter"},
		func(s *Server, w *reply, r *http.Request) {
			s.static(w, r, "application/json", s.deps.SSFConfiguration)
		},
		func(d *Deps) bool { return d.SSFConfiguration != nil }},
}

// Routes lists every endpoint the server can answer, in a new slice.
func Routes() []Route {
	out := make([]Route, len(routeTable))
	for i, rt := range routeTable {
		out[i] = rt.Route
		out[i].Methods = slices.Clone(rt.Methods)
	}
	return out
}

// matches reports whether the route answers path p.
func (rt *Route) matches(p string) bool {
	return p == rt.Path || rt.Below && strings.HasPrefix(p, rt.Path+"/")
}

// route sends a request to its handler.
func (s *Server) route(w *reply, r *http.Request) {
	p := r.URL.Path
	for i := range routeTable {
		rt := &routeTable[i]
		if rt.matches(p) && (rt.on == nil || rt.on(&s.deps)) {
			rt.serve(s, w, r)
			return
		}
	}
	detail := "no such endpoint: see docs/api.md"
	if strings.HasPrefix(p, PathLog) {
		detail = "no such endpoint: see docs/evidence.md"
	}
	s.problem(w, problem{Type: typeNotFound, Title: "Not Found", Status: http.StatusNotFound, Detail: detail})
}

// logRoute serves one endpoint of the evidence log API: GET and HEAD only,
// 503 without a log.
func logRoute(serve func(s *Server, w *reply, r *http.Request, l evidencelog.Reader)) func(*Server, *reply, *http.Request) {
	return func(s *Server, w *reply, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.methodNotAllowed(w, "GET, HEAD")
			return
		}
		l := s.deps.Log
		if l == nil {
			s.problem(w, problem{Type: typeInternal, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
				Detail: "no evidence log"})
			return
		}
		serve(s, w, r, l)
	}
}
