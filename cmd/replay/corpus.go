package main

import (
	"context"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/routes"
)

// learnRoutes reads the corpus once and returns the route templates it
// implies.
func learnRoutes(ctx context.Context, path string) (*routes.Router, error) {
	r, err := corpus.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return routes.Learn(ctx, r, routes.Options{})
}
