//go:build !unix

package natsserver

import "os"

// tryLock does not lock where flock(2) does not exist: the data directory is then
// not protected against a second process.
func tryLock(*os.File) (bool, error) { return true, nil }

func unlock(*os.File) error { return nil }
