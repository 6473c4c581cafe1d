package natsserver_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/internal/natsserver"
)

// A second lock on a held directory fails at once and names the directory and the
// holder's pid; once released the directory can be locked again. (flock locks belong
// to an open file description, so two opens in one process conflict like two
// processes do.)
func TestLockDirIsExclusive(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	first, err := natsserver.LockDir(dir)
	require.NoError(t, err)
	require.Equal(t, dir, first.Dir())

	_, err = natsserver.LockDir(dir)
	require.ErrorIs(t, err, natsserver.ErrDirLocked)
	var locked *natsserver.DirLockedError
	require.True(t, errors.As(err, &locked))
	require.Equal(t, os.Getpid(), locked.PID)
	require.ErrorContains(t, err, fmt.Sprintf("data directory %s is in use by another process (pid %d)", dir, os.Getpid()))

	require.NoError(t, first.Unlock())
	require.NoError(t, first.Unlock(), "a second unlock is harmless")
	again, err := natsserver.LockDir(dir)
	require.NoError(t, err)
	require.NoError(t, again.Unlock())
}

// A directory under a regular file cannot be locked, and the error says why.
func TestLockDirUnusable(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err := natsserver.LockDir(filepath.Join(file, "data"))
	require.ErrorContains(t, err, "cannot be created")
}

// TestLockHelperProcess is not a test: it is the child process that
// TestLockReleasedWhenHolderIsKilled starts. It locks PATCHBAY_LOCK_DIR, says so and
// waits to be killed.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv("PATCHBAY_LOCK_DIR")
	if dir == "" {
		t.Skip("child process for TestLockReleasedWhenHolderIsKilled")
	}
	if _, err := natsserver.LockDir(dir); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	select {}
}

// A process that holds the lock blocks others with its pid in the message; when it is
// killed with SIGKILL the kernel drops the lock and the directory is free at once.
func TestLockReleasedWhenHolderIsKilled(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("flock only")
	}
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), "PATCHBAY_LOCK_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case l := <-lines:
		require.Equal(t, "locked", l)
	case <-exited:
		t.Fatal("the helper process exited before it locked")
	case <-time.After(30 * time.Second):
		t.Fatal("the helper process did not lock")
	}

	_, err = natsserver.LockDir(dir)
	var locked *natsserver.DirLockedError
	require.True(t, errors.As(err, &locked), "%v", err)
	require.Equal(t, cmd.Process.Pid, locked.PID)

	require.NoError(t, cmd.Process.Kill())
	<-exited
	l, err := natsserver.LockDir(dir)
	require.NoError(t, err, "the lock of a killed process is gone")
	require.NoError(t, l.Unlock())
}
