package natsserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockFileName is the lock file DirLock keeps in a data directory.
const LockFileName = "patchbay.lock"

// ErrDirLocked matches (errors.Is) a *DirLockedError.
var ErrDirLocked = errors.New("data directory in use")

// DirLockedError says that another process holds a data directory.
type DirLockedError struct {
	Dir string
	// PID is the process that holds the directory, as written in the lock file (0 when
	// the file does not say).
	PID int
}

func (e *DirLockedError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = fmt.Sprintf("another process (pid %d)", e.PID)
	}
	return fmt.Sprintf("data directory %s is in use by %s: one data directory serves one patchbay at a time", e.Dir, who)
}

// Is matches ErrDirLocked.
func (e *DirLockedError) Is(target error) bool { return target == ErrDirLocked }

// DirLock is an exclusive hold on a data directory: an flock(2) on
// <dir>/patchbay.lock that holds the process id. The kernel drops the lock when the
// process ends, however it ends, so a killed process never leaves a stale lock; the
// pid in the file is only for the message a second process gets.
type DirLock struct {
	dir  string
	file *os.File
}

// LockDir creates dir if needed and takes its lock. When another process holds it,
// the error is a *DirLockedError naming the directory and that process.
func LockDir(dir string) (*DirLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory %s cannot be created: %w", dir, err)
	}
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data directory %s is not writable: %w", dir, err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !held {
		pid := readPID(f)
		f.Close()
		return nil, &DirLockedError{Dir: dir, PID: pid}
	}
	if err := writePID(f, os.Getpid()); err != nil {
		_ = unlock(f)
		f.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return &DirLock{dir: dir, file: f}, nil
}

// Dir is the locked directory.
func (l *DirLock) Dir() string { return l.dir }

// Unlock releases the directory. It is safe to call twice.
func (l *DirLock) Unlock() error {
	if l == nil || l.file == nil {
		return nil
	}
	f := l.file
	l.file = nil
	// The file stays: removing it would let a process that opened it just before
	// lock an unlinked file while a third one creates and locks a new one.
	_ = f.Truncate(0)
	err := unlock(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func writePID(f *os.File, pid int) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(pid)+"\n"), 0); err != nil {
		return err
	}
	return f.Sync()
}

// readPID reads the pid the holder wrote (0 when there is none yet).
func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
