package main_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfile checks the image's promises that can be read from the
// Dockerfile itself (no Docker daemon here): a multi-stage build of a
// static binary, a non-root user, a data volume, and a health check that
// calls the binary's healthcheck command (the image has no shell or curl).
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^FROM \S+ AS build$`),
		regexp.MustCompile(`CGO_ENABLED=0 go build`),
		regexp.MustCompile(`(?m)^FROM gcr.io/distroless/static\S*:nonroot$`),
		regexp.MustCompile(`(?m)^COPY --from=build `),
		regexp.MustCompile(`(?m)^USER nonroot`),
		regexp.MustCompile(`(?m)^VOLUME \["/var/lib/chatbridge"\]`),
		regexp.MustCompile(`(?m)^HEALTHCHECK .*\n?.*CMD \["/usr/local/bin/chatbridge", "healthcheck"`),
	} {
		if !want.MatchString(df) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	if strings.Contains(df, "USER root") {
		t.Error("the image runs as root")
	}
}
