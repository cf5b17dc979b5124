package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/metrics"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dynomite-cmd")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "dynomite")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building dynomite: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runBin(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return o.String(), e.String(), code
}

func writeConf(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "node.yml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func TestFlags(t *testing.T) {
	good := writeConf(t, "dyn_o_mite:\n  listen: 127.0.0.1:8102\n  servers:\n  - 127.0.0.1:22122:1\n  tokens: '101134286'\n")
	bad := writeConf(t, "dyn_o_mite:\n  listen: 127.0.0.1:8102\n  timeout: soon\n  hash: sha1\n  servers:\n  - 127.0.0.1:22122:1\n")
	cases := []struct {
		name       string
		args       []string
		code       int
		wantOut    string
		wantErr    []string
		notWantOut string
		notWantErr string
	}{
		{name: "-V prints upstream's version line", args: []string{"-V"}, wantOut: "This is dynomite-"},
		{name: "--version is the long form", args: []string{"--version"}, wantOut: "This is dynomite-"},
		{name: "-h prints usage with every flag", args: []string{"-h"}, wantOut: "--conf-file"},
		{name: "-t accepts a valid file and prints its keys", args: []string{"-t", "-c", good}, wantOut: "syntax is valid"},
		{name: "--test-conf with --conf-file= works", args: []string{"--test-conf", "--conf-file=" + good}, wantOut: "timeout: 5000"},
		{name: "-t rejects a bad file naming each key, value and line", args: []string{"-t", "-c", bad}, code: 1,
			wantErr: []string{"syntax is invalid", ":3: timeout: \"soon\"", ":4: hash: \"sha1\""}},
		{name: "a missing file is an error", args: []string{"-t", "-c", "/nonexistent/x.yml"}, code: 1, wantErr: []string{"/nonexistent/x.yml"}},
		{name: "-t with a missing file gives the real cause only", args: []string{"-t", "-c", "/nonexistent/x.yml"}, code: 1,
			wantErr: []string{"dynomite: cannot read configuration file /nonexistent/x.yml: no such file or directory\n"}, notWantErr: "syntax"},
		{name: "starting with a missing file gives the real cause only", args: []string{"-c", "/nonexistent/x.yml"}, code: 1,
			wantErr: []string{"dynomite: cannot read configuration file /nonexistent/x.yml: no such file or directory\n"}, notWantErr: "syntax"},
		{name: "a directory for a file is refused with its cause", args: []string{"-t", "-c", os.TempDir()}, code: 1,
			wantErr: []string{"cannot read configuration file " + os.TempDir() + ": is a directory"}, notWantErr: "syntax"},
		{name: "help lists the subcommands", args: []string{"help"}, wantOut: "dynomite owner KEY"},
		{name: "-h lists the subcommands after the flags", args: []string{"-h"}, wantOut: "dynomite ready"},
		{name: "-v out of range is refused", args: []string{"-v", "12", "-c", good}, code: 1, wantErr: []string{"-v"}},
		{name: "-m must be a multiple of 16", args: []string{"-m", "1000", "-c", good}, code: 1, wantErr: []string{"-m"}},
		{name: "an unknown flag is refused with usage", args: []string{"-g"}, code: 1, wantErr: []string{"unknown shorthand flag", "Usage"}},
		{name: "-D describes the stats", args: []string{"-D"}, wantOut: "client_connections"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runBin(t, tc.args...)
			require.Equal(t, tc.code, code, "stdout=%s stderr=%s", out, errOut)
			if tc.wantOut != "" {
				require.Contains(t, out, tc.wantOut)
			}
			for _, w := range tc.wantErr {
				require.Contains(t, errOut, w)
			}
			if tc.notWantErr != "" {
				require.NotContains(t, errOut, tc.notWantErr)
			}
		})
	}
}

func TestNodeServesReopensItsLogAndStopsCleanlyOnSIGTERM(t *testing.T) {
	ds := proxytest.StartFakeRedis(t).Addr
	listen, stats := proxytest.FreeAddr(t), proxytest.FreeAddr(t)
	dir := t.TempDir()
	logPath, pidPath := filepath.Join(dir, "dynomite.log"), filepath.Join(dir, "dynomite.pid")
	conf := writeConf(t, fmt.Sprintf("dyn_o_mite:\n  listen: %s\n  stats_listen: %s\n  servers:\n  - %s:1\n", listen, stats, ds))
	cmd := exec.Command(binary, "-c", conf, "-o", logPath, "-p", pidPath, "-v", "6")
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { _ = cmd.Process.Kill() }()

	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + stats + "/health")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	}, 10*time.Second, 20*time.Millisecond)
	pid, err := os.ReadFile(pidPath)
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(cmd.Process.Pid)+"\n", string(pid))

	c, err := net.Dial("tcp", listen)
	require.NoError(t, err)
	_, err = c.Write([]byte("*1\r\n$4\r\nPING\r\n"))
	require.NoError(t, err)
	reply := make([]byte, 7)
	_, err = c.Read(reply)
	require.NoError(t, err)
	require.Equal(t, "+PONG\r\n", string(reply))
	c.Close()

	out, _, code := runBin(t, "health", "--addr", stats)
	require.Equal(t, 0, code)
	require.Contains(t, out, "healthy")

	// Log rotation: move the file away, SIGHUP, and the node writes a new one.
	require.NoError(t, os.Rename(logPath, logPath+".1"))
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(logPath)
		return err == nil && strings.Contains(string(b), "log file reopened")
	}, 5*time.Second, 20*time.Millisecond)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "SIGTERM must exit 0")
	case <-time.After(15 * time.Second):
		t.Fatal("node did not stop on SIGTERM")
	}
	_, err = os.Stat(pidPath)
	require.True(t, os.IsNotExist(err), "pid file removed at exit")
	b, err := os.ReadFile(logPath)
	require.NoError(t, err)
	require.Contains(t, string(b), "stopped")
}

func TestHealthFailsWhenNothingListens(t *testing.T) {
	_, errOut, code := runBin(t, "health", "--addr", proxytest.FreeAddr(t), "--timeout", "500ms")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "unhealthy")
}

func TestDescribeStatsIncludesMetrics(t *testing.T) {
	var b bytes.Buffer
	metrics.Describe(&b, version)
	out := b.String()
	require.True(t, strings.HasPrefix(out, "This is dynomite-"+version+"\n"))
	for _, want := range []string{"client_connections", "dynomite_client_requests_total{proto,class,outcome}", "server_timedout"} {
		require.Contains(t, out, want)
	}
}
