// Package config reads Provost's configuration file: a strict, versioned
// YAML document. Unknown fields are rejected, and every error names the
// file, the line and the field.
package config
