package dpop

import "testing"

func TestNormalizeURI(t *testing.T) {
	tests := []struct {
		in, want string // want "" means rejected
	}{
		{"https://api.example.com/res", "https://api.example.com/res"},
		{"HTTPS://API.Example.COM/res", "https://api.example.com/res"},
		{"https://api.example.com:443/res", "https://api.example.com/res"},
		{"https://api.example.com:/res", "https://api.example.com/res"},
		{"http://api.example.com:80/res", "http://api.example.com/res"},
		{"http://api.example.com:443/res", "http://api.example.com:443/res"},
		{"https://api.example.com:00443/res", "https://api.example.com/res"},
		{"https://api.example.com:8443/res", "https://api.example.com:8443/res"},
		{"https://api.example.com", "https://api.example.com/"},
		{"https://api.example.com/res?q=1#f", "https://api.example.com/res"},
		{"https://api.example.com#f?q", "https://api.example.com/"},
		{"https://api.example.com/%7euser/%2f%41", "https://api.example.com/~user/%2FA"},
		{"https://api.example.com/a/./b/../c", "https://api.example.com/a/c"},
		{"https://api.example.com/a/b/..", "https://api.example.com/a/"},
		{"https://api.example.com/../../x", "https://api.example.com/x"},
		{"https://api.example.com/a//b", "https://api.example.com/a//b"},
		{"https://api.example.com/%2E%2E/x", "https://api.example.com/x"},
		{"https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"},
		{"https://[2001:db8::1]:8443/x", "https://[2001:db8::1]:8443/x"},
		{"https://api.example.com/a:b@c!$&'()*+,;=", "https://api.example.com/a:b@c!$&'()*+,;="},

		{"", ""},
		{"/res", ""},
		{"ftp://api.example.com/res", ""},
		{"https:///res", ""},
		{"https://user@api.example.com/res", ""},
		{"https://api.example.com:65536/res", ""},
		{"https://api.example.com:x/res", ""},
		{"https://api.example.com:123456/res", ""},
		{"https://api.exa mple.com/res", ""},
		{"https://api.example.com/re s", ""},
		{"https://api.example.com/res%", ""},
		{"https://api.example.com/res%4", ""},
		{"https://api.example.com/res%zz", ""},
		{"https://api%2Eexample.com/res", ""},
		{"https://api.example.com\\@evil.com/res", ""},
		{"https://[::1/res", ""},
		{"https://[::1]x/res", ""},
		{"https://api.example.com/r\u00e9s", ""},
	}
	for _, tt := range tests {
		got, ok := normalizeURI(tt.in)
		if !ok {
			got = ""
		}
		if got != tt.want {
			t.Errorf("normalizeURI(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func TestHTUMatches(t *testing.T) {
	v := &Verifier{origins: []string{"https://api.example.com", "http://localhost:8080"}}
	tests := []struct {
		htu, path string
		want      bool
	}{
		{"https://api.example.com/res", "/res", true},
		{"https://api.example.com/res", "/res?x=1", true},
		{"https://api.example.com/res?x=1", "/res", true},
		{"http://localhost:8080/res", "/res", true},
		{"http://LOCALHOST:8080/res", "/%72es", true},
		{"https://api.example.com/", "/", true},
		{"https://api.example.com", "/", true},
		{"http://localhost/res", "/res", false},
		{"https://localhost:8080/res", "/res", false},
		{"https://api.example.com/res", "/RES", false},
		{"https://api.example.com/res", "res", false},
		{"https://api.example.com/res", "", false},
		{"https://api.example.com/res", "*", false},
		{"https://api.example.com.evil.com/res", "/res", false},
		{"https://api.example.comres", "res", false},
	}
	for _, tt := range tests {
		if got := v.htuMatches(tt.htu, tt.path); got != tt.want {
			t.Errorf("htuMatches(%q, %q) = %v, want %v", tt.htu, tt.path, got, tt.want)
		}
	}
}
