package dashboard

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Session cookies.
const (
	sessionCookie = "provost_ui"
	// loginCookie is the login form's own CSRF token (double submit).
	loginCookie = "provost_ui_login"
	cookiePath  = "/ui"
	sessionTTL  = 8 * time.Hour
	loginTTL    = time.Hour
	// maxCookieBytes bounds a session cookie read.
	maxCookieBytes = 1024
	// maxEnded bounds the sessions remembered as logged out.
	maxEnded = 10000
)

// claims are what a session cookie says, signed with HMAC-SHA256 under a
// key derived from the server secret and the hash of the token the session
// was opened with: a session ends when its role's token is changed.
type claims struct {
	Role    role   `json:"role"`
	Name    string `json:"name"`
	ID      string `json:"sid"`
	CSRF    string `json:"csrf"`
	Expires int64  `json:"exp"` // Unix seconds
}

// sessions signs and opens session cookies. It remembers the sessions
// logged out on this process until they expire.
type sessions struct {
	keys map[role][]byte // nil for a role without a token
	now  func() time.Time

	mu    sync.Mutex
	ended map[string]int64 // session id → its expiry
}

func newSessions(secret []byte, hashes map[role][]byte, now func() time.Time) *sessions {
	s := &sessions{keys: map[role][]byte{}, now: now, ended: map[string]int64{}}
	for r, h := range hashes {
		if h != nil {
			s.keys[r] = derive(secret, "provost dashboard session v1\x00"+string(r)+"\x00"+hex.EncodeToString(h))
		}
	}
	return s
}

// randomText is n random bytes in base64url.
func randomText(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// issue returns a new session's cookie value for role r.
func (s *sessions) issue(r role, name string) (string, *claims) {
	c := &claims{Role: r, Name: name, ID: randomText(16), CSRF: randomText(32), Expires: s.now().Add(sessionTTL).Unix()}
	payload, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(s.sign(r, payload)), c
}

func (s *sessions) sign(r role, payload []byte) []byte {
	m := hmac.New(sha256.New, s.keys[r])
	m.Write(payload)
	return m.Sum(nil)
}

// open checks a cookie value and returns its user.
func (s *sessions) open(v string) (*user, bool) {
	if len(v) > maxCookieBytes {
		return nil, false
	}
	p64, m64, ok := strings.Cut(v, ".")
	if !ok {
		return nil, false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	var c claims
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if dec.Decode(&c) != nil || s.keys[c.Role] == nil {
		return nil, false
	}
	if !hmac.Equal(mac, s.sign(c.Role, payload)) {
		return nil, false
	}
	now := s.now().Unix()
	if now >= c.Expires || c.Expires > now+int64(sessionTTL/time.Second) {
		return nil, false
	}
	s.mu.Lock()
	_, gone := s.ended[c.ID]
	s.mu.Unlock()
	if gone {
		return nil, false
	}
	return &user{Name: c.Name, Role: c.Role, Method: "session", CSRF: c.CSRF, session: &c}, true
}

// end forgets a session on this process (logout); expired ones are
// pruned, and when maxEnded are remembered the oldest expiry goes.
func (s *sessions) end(c *claims) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().Unix()
	for id, exp := range s.ended {
		if exp <= now {
			delete(s.ended, id)
		}
	}
	if len(s.ended) >= maxEnded {
		var oldest string
		for id, exp := range s.ended {
			if oldest == "" || exp < s.ended[oldest] {
				oldest = id
			}
		}
		delete(s.ended, oldest)
	}
	s.ended[c.ID] = c.Expires
}

// setCookie sets a cookie of the dashboard: Path=/ui, HttpOnly,
// SameSite=Strict, Secure over TLS. maxAge < 0 deletes it.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: cookiePath, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: int(maxAge / time.Second)}
	if maxAge < 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}
