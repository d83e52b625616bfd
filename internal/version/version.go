// Package version names this build of reprise: one string for both
// binaries' --version, the results documents' "tool" and the creator of
// exported HAR files.
package version

// Number is the release number of reprise.
const Number = "0.1.0"

// Name is the program name written beside Number.
const Name = "reprise"

// Tool is Name and Number, "reprise 0.1.0": what --version prints and
// what results documents record as their tool.
const Tool = Name + " " + Number
