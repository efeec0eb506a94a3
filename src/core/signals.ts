/**
 * Linux signal names by number (x86_64, arm64 and most other Linux ports
 * share these numbers for the signals that produce cores).
 *
 * @module
 */

const SIGNAL_NAMES: Record<number, string> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  4: "SIGILL",
  5: "SIGTRAP",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  10: "SIGUSR1",
  11: "SIGSEGV",
  12: "SIGUSR2",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
  16: "SIGSTKFLT",
  17: "SIGCHLD",
  18: "SIGCONT",
  19: "SIGSTOP",
  20: "SIGTSTP",
  21: "SIGTTIN",
  22: "SIGTTOU",
  23: "SIGURG",
  24: "SIGXCPU",
  25: "SIGXFSZ",
  26: "SIGVTALRM",
  27: "SIGPROF",
  28: "SIGWINCH",
  29: "SIGIO",
  30: "SIGPWR",
  31: "SIGSYS",
};

/**
 * Returns the conventional name of a Linux signal number, such as `SIGSEGV`
 * for 11, `SIGRTMIN+3` for real-time signals, or `signal 99` when unknown.
 */
export function signalName(signo: number): string {
  const known = SIGNAL_NAMES[signo];
  if (known) return known;
  if (signo >= 34 && signo <= 64) return `SIGRTMIN+${signo - 34}`;
  return `signal ${signo}`;
}
