package routes_test

import (
	"fmt"

	"github.com/reprise/reprise/internal/routes"
)

func ExampleLearner() {
	l := routes.NewLearner(routes.Options{})
	for _, p := range []string{
		"/v1/sessions/3f2a9c1e77b0d4a1/messages?limit=50",
		"/v1/sessions/9b1c2d3e4f5a6b7c/messages",
		"/v1/machines/machine-1/status",
		"/v1/machines/machine-2/status",
	} {
		l.Add("GET", p)
	}
	r := l.Router()
	fmt.Println(r.Templates())
	fmt.Println(r.Route("GET", "/v1/sessions/0123456789abcdef/messages"))
	fmt.Println(r.Route("GET", "/v1/machines/laptop-7/status"))
	// Output:
	// [GET /v1/machines/{id}/status GET /v1/sessions/{id}/messages]
	// GET /v1/sessions/{id}/messages
	// GET /v1/machines/{id}/status
}
