/*
 * A process that fills memory the way a crashing service holds it, then
 * dies of SIGSEGV so that the kernel writes its core (bench/support/real_core.ts).
 *
 *   crash_fill <data MiB> <reserved MiB> <seed>
 *
 * Touches <data MiB> of anonymous memory: half zero pages (touched, so the
 * kernel writes them), a quarter repetitive structs, a quarter random
 * bytes; then maps <reserved MiB> it never touches (the kernel leaves those
 * pages as holes in the core, as in a sparse core: a heap arena reserved
 * and barely used). The seed makes the
 * bytes the same on every run.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

struct order {
  uint64_t id;
  uint32_t customer;
  uint32_t items;
  char sku[24];
  double price;
  uint64_t created;
};

static uint64_t state;

static uint64_t next(void) {
  /* xorshift64*: fast, seeded, good enough to defeat zstd. */
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 2685821657736338717ULL;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s <data MiB> <reserved MiB> <seed>\n", argv[0]);
    return 2;
  }
  size_t mib = 1024 * 1024;
  size_t data = strtoull(argv[1], 0, 10) * mib;
  size_t reserved = strtoull(argv[2], 0, 10) * mib;
  state = strtoull(argv[3], 0, 10) | 1;
  struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
  setrlimit(RLIMIT_CORE, &unlimited);

  unsigned char *memory = mmap(0, data, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return perror("mmap"), 1;
  size_t zeros = data / 2, structs = data / 4;
  /* Zero pages the process really touched: present, so they are dumped. */
  for (size_t at = 0; at < zeros; at += 4096) memory[at] = 0;
  struct order *orders = (struct order *)(memory + zeros);
  for (size_t i = 0; i < structs / sizeof(struct order); i++) {
    orders[i].id = 1000000 + i;
    orders[i].customer = (uint32_t)(i % 977);
    orders[i].items = (uint32_t)(i % 7) + 1;
    snprintf(orders[i].sku, sizeof orders[i].sku, "SKU-%06zu", i % 4096);
    orders[i].price = (double)(i % 10000) / 100.0;
    orders[i].created = 1764547200 + i / 16;
  }
  uint64_t *random = (uint64_t *)(memory + zeros + structs);
  for (size_t i = 0; i < (data - zeros - structs) / 8; i++) random[i] = next();

  if (reserved > 0) {
    void *untouched = mmap(0, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (untouched == MAP_FAILED) return perror("mmap reserved"), 1;
    /* One touched page gives the mapping its anon_vma; without one the kernel leaves the mapping out of the core
       altogether. The pages never touched become holes. */
    *(volatile char *)untouched = 1;
  }
  /* Tell the parent the memory is ready, then crash. */
  if (write(1, "ready\n", 6) != 6) return 1;
  *(volatile int *)0 = 1;
  return 0;
}
