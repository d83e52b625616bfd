package workload_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/reprise/reprise/internal/happyapi"
	"github.com/reprise/reprise/internal/workload"
)

// Drive the built-in server with two users for a fixed number of
// operations each.
func ExampleRun() {
	srv, err := happyapi.New(happyapi.Config{})
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()

	rep, err := workload.Run(context.Background(), workload.Config{
		BaseURL:    ts.URL,
		Users:      2,
		OpsPerUser: 10,
		Seed:       1,
		ThinkMin:   time.Millisecond,
		ThinkMax:   2 * time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("operations:", rep.TotalOps(), "logins:", rep.Requests["POST /v1/auth"], "errors:", rep.Errors+rep.Unexpected)
	fmt.Println("server saw them all:", srv.Stats().Requests == int64(rep.TotalRequests()))
	// Output:
	// operations: 20 logins: 2 errors: 0
	// server saw them all: true
}
