package console

import "fmt"

// writeError wraps a failed write to Out. A terminal has no rate limits,
// length refusals or markup errors, so nothing maps to an engine sentinel;
// the engine treats the error as a failed send.
func writeError(err error) error {
	return fmt.Errorf("console: write: %w", err)
}

// readError wraps a failed read from In; it ends Run.
func readError(err error) error {
	return fmt.Errorf("console: read: %w", err)
}
