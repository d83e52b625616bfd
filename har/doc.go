// Package har reads and writes HAR 1.2 (HTTP Archive) files and converts
// them to and from reprise corpora.
package har
