package clients

import "fmt"

// expectEqual turns a client's (value, error) into an error: the client's
// own, or a mismatch with want.
func expectEqual[T comparable](got T, err error) func(want T) error {
	return func(want T) error {
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("got %v, want %v", got, want)
		}
		return nil
	}
}
