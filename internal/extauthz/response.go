package extauthz

import (
	"net/http"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/answer"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// respond renders d: headers and status from internal/answer, OK only for
// an allow. sent are the X-Provost-* names the client sent.
func respond(d *provost.Decision, sent []string) *authv3.CheckResponse {
	h := make(http.Header, 8)
	answer.Headers(h, d)
	code := answer.Status(d)
	resp := &authv3.CheckResponse{DynamicMetadata: metadata(d, h)}
	if code == http.StatusOK && d.Outcome == verdict.Allow {
		resp.Status = &rpcstatus.Status{Code: int32(codes.OK)}
		resp.HttpResponse = &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers:         options(h),
			HeadersToRemove: toRemove(sent, h),
		}}
		return resp
	}
	if code == http.StatusOK {
		code = http.StatusForbidden // never OK unless allowed
	}
	resp.Status = &rpcstatus.Status{Code: int32(rpcCode(code)), Message: "provost: " + string(d.Outcome) + " (" + h.Get(answer.HeaderReasons) + ")"}
	resp.HttpResponse = &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
		Status:  &typev3.HttpStatus{Code: typev3.StatusCode(code)},
		Headers: options(h),
	}}
	return resp
}

// unread denies a request Provost could not read: 431 when it is too
// large, 400 otherwise.
func unread(err error) *authv3.CheckResponse {
	code, rc := http.StatusBadRequest, reason.Of(err)
	if rc == reason.ExtAuthzTooLarge {
		code = http.StatusRequestHeaderFieldsTooLarge
	}
	return denial(code, codes.InvalidArgument, rc, reason.MessageOf(err))
}

// failed denies when Provost itself failed without a decision.
func failed() *authv3.CheckResponse {
	return denial(http.StatusForbidden, codes.PermissionDenied, reason.InternalError, "Provost failed and denies (fail closed)")
}

func denial(code int, rpc codes.Code, rc reason.Code, msg string) *authv3.CheckResponse {
	h := http.Header{}
	h.Set(answer.HeaderDecision, string(verdict.Deny))
	h.Set(answer.HeaderReasons, string(rc))
	md := &structpb.Struct{Fields: map[string]*structpb.Value{
		"decision": structpb.NewStringValue(string(verdict.Deny)),
		"reasons":  structpb.NewStringValue(string(rc)),
	}}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(rpc), Message: "provost: " + string(rc) + ": " + msg},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(code)},
			Headers: options(h),
		}},
		DynamicMetadata: md,
	}
}

func rpcCode(httpStatus int) codes.Code {
	if httpStatus == http.StatusUnauthorized {
		return codes.Unauthenticated
	}
	return codes.PermissionDenied
}

// options turns h into Envoy header options that replace any value the
// request already has, in a stable order, with lower-case names.
func options(h http.Header) []*corev3.HeaderValueOption {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]*corev3.HeaderValueOption, 0, len(keys))
	for _, k := range keys {
		out = append(out, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: strings.ToLower(k), Value: strings.Join(h[k], ",")},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		})
	}
	return out
}

// toRemove lists the client-sent X-Provost-* headers that the answer does
// not overwrite, so the upstream sees only Provost's. A name Provost sets
// must not be listed: Envoy removes after it sets.
func toRemove(sent []string, set http.Header) []string {
	var out []string
	for _, k := range sent {
		if _, ok := set[http.CanonicalHeaderKey(k)]; !ok && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// metadata is the dynamic metadata of a decision, for Envoy's access logs.
func metadata(d *provost.Decision, h http.Header) *structpb.Struct {
	f := map[string]*structpb.Value{
		"decision":   structpb.NewStringValue(string(d.Outcome)),
		"reasons":    structpb.NewStringValue(h.Get(answer.HeaderReasons)),
		"credential": structpb.NewStringValue(string(d.Credential.Verdict)),
		"provenance": structpb.NewStringValue(string(d.Provenance)),
	}
	set := func(k, v string) {
		if v != "" {
			f[k] = structpb.NewStringValue(v)
		}
	}
	set("fingerprint", d.Credential.Fingerprint)
	set("workload", d.Signals.Workload.ID)
	set("binding", d.Binding)
	if d.Signals.Network.Client.IsValid() {
		f["client"] = structpb.NewStringValue(d.Signals.Network.Client.String())
	}
	return &structpb.Struct{Fields: f}
}
