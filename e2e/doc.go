// Package e2e holds end-to-end tests that build the reprise binaries and
// drive them as a user would, against real third-party programs (nginx, a
// Node client using Node's fetch and the ws package). They run with -tags
// integration and skip when a program is missing.
package e2e
