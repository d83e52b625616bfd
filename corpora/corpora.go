// Package corpora embeds the corpora shipped with reprise. Each was
// recorded, never written by hand, by the command given in its
// description; see README.md in this folder.
package corpora

import (
	_ "embed"
)

// HappyDev is happy-dev.rpz: about two minutes of six simulated Happy
// users (the k6 full-API mix, the sessions flow, WebSocket clients on
// /v1/updates) recorded through the recording proxy in front of the
// built-in Happy-compatible server. The clients ask for compression as
// browsers and Node's fetch do (Accept-Encoding: gzip, deflate, br) and the
// server answers brotli, so every recorded body is compressed and the
// replay reads them through their coding. Regenerate it with
//
//	go run ./corpora/gen -out corpora/happy-dev.rpz
//
//go:embed happy-dev.rpz
var HappyDev []byte

// HappyDevName is HappyDev's file name.
const HappyDevName = "happy-dev.rpz"
