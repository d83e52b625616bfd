package main

import (
	"context"
	"fmt"
	"io"

	"github.com/reprise/reprise/internal/corpus"
	"github.com/reprise/reprise/internal/traffic"
)

// learnRoutes reads the corpus once and returns the route namer it
// infers.
func learnRoutes(ctx context.Context, path string) (func(method, path string) string, error) {
	r, err := corpus.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var paths [][2]string
	for {
		rec, err := r.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		switch rec.Kind {
		case traffic.KindExchange:
			paths = append(paths, [2]string{rec.Exchange.Request.Method, rec.Exchange.Request.Path()})
		case traffic.KindWSOpen:
			paths = append(paths, [2]string{"WS", rec.WSOpen.Upgrade.Request.Path()})
		}
	}
	return newRouter(paths), nil
}

// newRouter is replaced by the learned route templates once routes lands.
func newRouter(paths [][2]string) func(method, path string) string {
	return func(method, path string) string { return method + " " + path }
}
