module coredog.dev/bench/load_client

go 1.26
