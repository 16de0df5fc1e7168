package evidencelog

import (
	"strings"
	"testing"
)

func TestParseCheckpoint(t *testing.T) {
	const root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" // SHA-256 of nothing
	tests := []struct {
		name string
		text string
		size int64
		ok   bool
	}{
		{"empty tree", "example.com/log\n0\n" + root + "\n", 0, true},
		{"size", "example.com/log\n123456\n" + root + "\n", 123456, true},
		{"extension lines", "example.com/log\n5\n" + root + "\nx\ny z\n", 5, true},
		{"no final newline", "example.com/log\n5\n" + root, 0, false},
		{"two lines", "example.com/log\n5\n", 0, false},
		{"empty origin", "\n5\n" + root + "\n", 0, false},
		{"leading zero", "o\n05\n" + root + "\n", 0, false},
		{"plus sign", "o\n+5\n" + root + "\n", 0, false},
		{"negative", "o\n-5\n" + root + "\n", 0, false},
		{"space", "o\n5 \n" + root + "\n", 0, false},
		{"empty size", "o\n\n" + root + "\n", 0, false},
		{"overflow", "o\n9223372036854775808\n" + root + "\n", 0, false},
		{"short root", "o\n5\nAAAA\n", 0, false},
		{"unpadded root", "o\n5\n" + strings.TrimSuffix(root, "=") + "\n", 0, false},
		{"non-canonical root", "o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n", 0, false},
		{"url-safe root", "o\n5\n47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=\n", 0, false},
		{"empty extension line", "o\n5\n" + root + "\n\nx\n", 0, false},
		{"too many extension lines", "o\n5\n" + root + "\n" + strings.Repeat("x\n", maxExtensionLines+1), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCheckpoint(tt.text)
			if !tt.ok {
				wantProblem(t, err, ErrMalformedCheckpoint, -1)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Size != tt.size || c.Root != refRoot(nil) {
				t.Fatalf("parsed %+v", c)
			}
			if !strings.Contains(tt.name, "extension") && formatCheckpoint(c) != tt.text {
				t.Fatalf("format(parse(%q)) = %q", tt.text, formatCheckpoint(c))
			}
		})
	}
}
