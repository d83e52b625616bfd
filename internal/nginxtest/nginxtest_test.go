//go:build integration

package nginxtest

import (
	"context"
	"net/http"
	"testing"
)

func TestStartAndLog(t *testing.T) {
	s := Start(t, "")
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest("GET", s.URL+"/x?i=1", nil)
		req.Header.Set("X-Flow", "f1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	log, err := s.Log(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 3 || log[0].URI != "/x?i=1" || log[0].Flow != "f1" || log[0].Status != 200 {
		t.Fatalf("log = %+v", log)
	}
}
