// Command load_client posts one body to an HTTPS URL from a fixed number of
// connections for a fixed time, the way kube-apiserver calls an admission
// webhook: Go net/http over HTTP/1.1, keep-alive, TCP_NODELAY, and one
// request in flight per connection (each worker waits for its answer before
// it sends the next request). It prints one JSON object with the figures.
//
// Usage: load_client -url https://127.0.0.1:8443/mutate -body review.json -cacert ca.crt -connections 16 -seconds 10
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	Requests          int     `json:"requests"`
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	P50Ms             float64 `json:"p50Ms"`
	P90Ms             float64 `json:"p90Ms"`
	P99Ms             float64 `json:"p99Ms"`
	MaxMs             float64 `json:"maxMs"`
	Errors            int     `json:"errors"`
	// Connections opened: equal to the workers when keep-alive held.
	Connections int64  `json:"connections"`
	Protocol    string `json:"protocol"`
	FirstError  string `json:"firstError,omitempty"`
}

func main() {
	url := flag.String("url", "", "HTTPS URL to POST to")
	bodyFile := flag.String("body", "", "file whose bytes every request carries")
	caFile := flag.String("cacert", "", "PEM CA the server certificate must chain to")
	connections := flag.Int("connections", 1, "connections, each with one request in flight")
	seconds := flag.Float64("seconds", 5, "how long to send requests")
	flag.Parse()
	if *url == "" || *bodyFile == "" || *caFile == "" || *connections < 1 {
		fmt.Fprintln(os.Stderr, "usage: load_client -url <https url> -body <file> -cacert <file> [-connections n] [-seconds s]")
		os.Exit(2)
	}
	body, err := os.ReadFile(*bodyFile)
	check(err)
	caPem, err := os.ReadFile(*caFile)
	check(err)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPem) {
		check(fmt.Errorf("no certificate in %s", *caFile))
	}

	var opened atomic.Int64
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err == nil {
				opened.Add(1)
				// Go sets this by default; said here because it is the point of the client.
				check(conn.(*net.TCPConn).SetNoDelay(true))
			}
			return conn, err
		},
		TLSClientConfig:     &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1 only
		MaxConnsPerHost:     *connections,
		MaxIdleConnsPerHost: *connections,
		IdleConnTimeout:     90 * time.Second,
	}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}

	deadline := time.Now().Add(time.Duration(*seconds * float64(time.Second)))
	latencies := make([][]time.Duration, *connections)
	errors := make([]int, *connections)
	var firstError atomic.Value
	var protocol atomic.Value
	var wg sync.WaitGroup
	started := time.Now()
	for worker := 0; worker < *connections; worker++ {
		wg.Add(1)
		go func(worker int) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				request, err := http.NewRequest("POST", *url, bytes.NewReader(body))
				check(err)
				request.Header.Set("Content-Type", "application/json")
				sent := time.Now()
				response, err := client.Do(request)
				if err == nil {
					_, err = io.Copy(io.Discard, response.Body)
					response.Body.Close()
					protocol.Store(response.Proto)
					if err == nil && (response.StatusCode < 200 || response.StatusCode > 299) {
						err = fmt.Errorf("status %d", response.StatusCode)
					}
				}
				if err != nil {
					errors[worker]++
					firstError.CompareAndSwap(nil, err.Error())
					continue
				}
				latencies[worker] = append(latencies[worker], time.Since(sent))
			}
		}(worker)
	}
	wg.Wait()
	elapsed := time.Since(started)

	all := []time.Duration{}
	for _, l := range latencies {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	out := result{Requests: len(all), RequestsPerSecond: float64(len(all)) / elapsed.Seconds(), Connections: opened.Load()}
	for _, e := range errors {
		out.Errors += e
	}
	if len(all) > 0 {
		out.P50Ms = ms(percentile(all, 0.50))
		out.P90Ms = ms(percentile(all, 0.90))
		out.P99Ms = ms(percentile(all, 0.99))
		out.MaxMs = ms(all[len(all)-1])
	}
	if p, ok := protocol.Load().(string); ok {
		out.Protocol = p
	}
	if e, ok := firstError.Load().(string); ok {
		out.FirstError = e
	}
	check(json.NewEncoder(os.Stdout).Encode(out))
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(p*float64(len(sorted))+0.999999) - 1
	if rank < 0 {
		rank = 0
	}
	if rank >= len(sorted) {
		rank = len(sorted) - 1
	}
	return sorted[rank]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "load_client:", err)
		os.Exit(1)
	}
}
