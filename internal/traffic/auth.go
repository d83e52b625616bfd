package traffic

import "strings"

// TokenParams are the query parameters that carry a bearer credential
// when a header cannot (browser WebSocket upgrades, EventSource): every
// component that finds, redacts or replaces credentials uses this list.
var TokenParams = []string{"token", "access_token"}

// IsTokenParam reports whether a query parameter name is one of
// TokenParams.
func IsTokenParam(name string) bool {
	for _, p := range TokenParams {
		if name == p {
			return true
		}
	}
	return false
}

// Bearer returns the credential of an Authorization header value of the
// Bearer scheme ("Bearer abc" gives "abc", whatever the scheme's case and
// the spaces around the credential), and false for any other value.
func Bearer(value string) (string, bool) {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(value), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	return cred, cred != ""
}
