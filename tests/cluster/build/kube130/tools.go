//go:build tools

// Package tools pins the command built here, so that go.sum covers it.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
