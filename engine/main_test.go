package engine_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: the
// engine starts workers and flushers, and all of them must end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
