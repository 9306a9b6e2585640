package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ,
// 100 on every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// ProcSample is what /proc says about a process at one moment.
type ProcSample struct {
	// CPU is user plus system time since the process started.
	CPU time.Duration
	// RSS is the resident set now (VmRSS); HWM its peak so far (VmHWM).
	RSS, HWM int64
	// Anon is the anonymous part of RSS (RssAnon: heap, stacks), without
	// the mapped files (Badger's tables) the kernel can drop at will.
	Anon int64
}

// ReadProc samples process pid from /proc.
func ReadProc(pid int) (ProcSample, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return ProcSample{}, fmt.Errorf("read proc stat: %w", err)
	}
	cpu, err := ParseStatCPU(string(stat))
	if err != nil {
		return ProcSample{}, err
	}
	f, err := os.Open(dir + "/status")
	if err != nil {
		return ProcSample{}, fmt.Errorf("read proc status: %w", err)
	}
	defer f.Close()
	m, err := ParseStatusMemory(f)
	if err != nil {
		return ProcSample{}, err
	}
	return ProcSample{CPU: cpu, RSS: m["VmRSS"], HWM: m["VmHWM"], Anon: m["RssAnon"]}, nil
}

// ParseStatCPU returns utime+stime from the text of /proc/PID/stat. The
// command name (field 2) is in parentheses and may hold spaces and
// parentheses itself, so fields are counted after its last ')'.
func ParseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("parse proc stat: no command name")
	}
	// After ')' come field 3 (state) onwards; utime is field 14, stime 15.
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("parse proc stat: %d fields after the command name, want at least 13", len(f))
	}
	utime, err := strconv.ParseInt(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse proc stat utime: %w", err)
	}
	stime, err := strconv.ParseInt(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse proc stat stime: %w", err)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// ParseStatusMemory returns VmRSS, VmHWM and RssAnon in bytes from the
// text of /proc/PID/status, keyed by those names.
func ParseStatusMemory(r io.Reader) (map[string]int64, error) {
	out := map[string]int64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM" && key != "RssAnon") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return nil, fmt.Errorf("parse proc status %s: %q", key, val)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parse proc status %s: %w", key, err)
		}
		out[key] = kb << 10
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read proc status: %w", err)
	}
	for _, k := range []string{"VmRSS", "VmHWM", "RssAnon"} {
		if _, ok := out[k]; !ok {
			return nil, fmt.Errorf("parse proc status: no %s (a kernel thread or a zombie?)", k)
		}
	}
	return out, nil
}
