//go:build tools

// Package tools pins the MinIO server command the test tier builds, so that go.sum covers it.
package tools

import _ "github.com/minio/minio"
