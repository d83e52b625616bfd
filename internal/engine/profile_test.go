package engine

import "github.com/reprise/reprise/internal/happyapi"

// testProfile is the Happy API's profile (calls and replies paired by
// "ackId", messages of type "update" taken for pushes): happyapi imports
// nothing of the engine, so its tests may use it.
type testProfile = happyapi.Profile
