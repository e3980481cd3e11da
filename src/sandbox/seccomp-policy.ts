// What the default seccomp filter refuses an app, as plain data;
// seccomp.ts compiles it to the classic-BPF program bwrap installs.
//
// A denylist, modelled on what Docker's default profile refuses a container
// without CAP_SYS_ADMIN (moby profiles/seccomp/default.json): everything not
// named here is allowed, so a new kernel's new calls keep working. An app
// runs as its own uid with no capabilities and no_new_privs, so the kernel
// already refuses most of these; the filter takes the kernel code behind them
// out of reach (the attack surface a local privilege escalation needs) and
// keeps refusing if a capability ever leaks in.
//
// Before the list, the program checks the architecture: any other ABI
// (32-bit x86 `int 0x80`, AArch32) is killed, as are x86_64's x32 numbers
// (nr | 0x40000000), which would otherwise reach the same calls by other
// numbers. Refusals answer EPERM (ENOSYS for clone3), what a program expects
// from a call it may not make, so it takes its fallback instead of crashing.
//
// | calls | rule | why |
// |---|---|---|
// | init_module finit_module delete_module create_module query_module get_kernel_syms | EPERM | kernel modules (the last three are gone from current kernels) |
// | kexec_load kexec_file_load reboot | EPERM | replace or stop the running kernel |
// | add_key request_key keyctl | EPERM | the kernel keyring is not namespaced: keys are per uid across the machine, and keyctl has a long CVE record |
// | bpf perf_event_open | EPERM | eBPF and perf: large kernel attack surface, host-wide tracing; no app needs them |
// | userfaultfd | EPERM | the usual tool for winning kernel races in exploits |
// | io_uring_setup io_uring_enter io_uring_register | EPERM | a second syscall interface that seccomp cannot see into, and the kernel's most exploited subsystem of late; Docker 25 refuses it too. libuv (Node) and others fall back to their thread pools |
// | mount umount2 pivot_root fsopen fsconfig fsmount fspick move_mount open_tree mount_setattr | EPERM | the sandbox's view of the files is berth's to make (umount2 could uncover what a mount hides) |
// | setns | EPERM | joining another namespace |
// | unshare | EPERM when its flags have CLONE_NEWNS, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWCGROUP or NEWTIME | new namespaces (a user namespace hands back every capability inside it, and with them most of the kernel); unshare(CLONE_FS), CLONE_FILES and CLONE_SYSVSEM stay allowed |
// | clone | EPERM when its flags (first argument, low 32 bits: all the kernel reads) have one of those | same; threads, fork, vfork and posix_spawn set none. (0x80, CLONE_NEWTIME elsewhere, is part of clone's exit signal here; no valid signal has it, so refusing it costs nothing) |
// | clone3 | ENOSYS | its flags are in memory, where a filter cannot look; ENOSYS makes glibc (2.34+) and others fall back to clone, which is filtered. Docker does the same |
// | personality | EPERM unless the persona is 0, 0x8, 0x20000, 0x20008 or 0xffffffff (a query) | Docker's values: PER_LINUX, PER_LINUX32, UNAME26 and the query. Refused: ADDR_NO_RANDOMIZE (turning ASLR off) and READ_IMPLIES_EXEC |
// | socket | EPERM for AF_VSOCK (40) | vsock is not network-namespaced: in a VM it reaches the hypervisor's services, around the app's own network (Docker refuses it too) |
// | kcmp pidfd_getfd process_madvise | EPERM | Docker allows these only with CAP_SYS_PTRACE; checkpoint/restore and memory-manager tools, not debuggers |
// | name_to_handle_at open_by_handle_at | EPERM | open_by_handle_at opens files by handle around every path check (the "shocker" escape); name_to_handle_at is only its other half, and a handle shows an inode's generation number. Docker allows name_to_handle_at; nothing an app runs needs it |
// | settimeofday clock_settime clock_adjtime adjtimex | EPERM | the clock is the machine's. Docker allows clock_adjtime and adjtimex for their read-only use (ntp_gettime), which apps do not need; refusing both keeps one rule: no call that can set the time |
// | acct swapon swapoff syslog sethostname setdomainname vhangup quotactl quotactl_fd lookup_dcookie fanotify_init | EPERM | machine-wide administration (process accounting, swap, the kernel log, host names, terminals, quotas, profiling, watching every file) |
// | iopl ioperm | EPERM | direct hardware I/O ports (x86 only) |
// | move_pages migrate_pages | EPERM | move a process's pages between NUMA nodes, another's too (Docker refuses them as well) |
// | nfsservctl uselib ustat sysfs _sysctl | EPERM | obsolete or removed; nothing current calls them |
//
// Allowed on purpose (Docker refuses some of them):
// - ptrace, process_vm_readv, process_vm_writev: debuggers and profilers
//   (gdb, strace, py-spy, rbspy) need them. The kernel lets a process trace
//   only dumpable processes of its own uid, an app has no capability that
//   would widen that, and its pid namespace leaves only its own processes in
//   sight. Since Linux 4.8 the filter runs after a tracer's stop and sees
//   what the tracer changed, so tracing cannot smuggle a refused call past
//   it (Docker allows these from 4.8 on for that reason; Node 24 itself
//   needs Linux 4.18).
// - get_mempolicy, set_mempolicy, mbind (Docker: CAP_SYS_NICE only): they
//   place the caller's own memory on NUMA nodes, within its cgroup's limits;
//   NUMA-aware runtimes (the JVM's UseNUMA, libnuma users) fail without them.
// - modify_ldt (x86; Wine and some JITs), chroot (needs CAP_SYS_CHROOT, which
//   an app never has), seccomp (an app may add filters of its own: they can
//   only refuse more).
// - Absent from x86_64 and arm64 altogether, so not listed: stime, umount,
//   vm86, vm86old (32-bit x86 only; the architecture check kills that ABI).
import type { SyscallName } from './syscall-table.ts';

export type SeccompRule =
  /** Always refused with EPERM. */
  | { readonly kind: 'eperm' }
  /** Always refused with ENOSYS (the caller falls back to an older call). */
  | { readonly kind: 'enosys' }
  /** EPERM when the first argument's low 32 bits share a bit with `mask`. */
  | { readonly kind: 'eperm-if-any-flag'; readonly mask: number }
  /** EPERM unless the first argument's low 32 bits are one of `values`. */
  | { readonly kind: 'eperm-unless-one-of'; readonly values: readonly number[] }
  /** EPERM when the first argument's low 32 bits are `value`. */
  | { readonly kind: 'eperm-if-equal'; readonly value: number };

export const CLONE_NEWTIME = 0x00000080;
export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
/** Every flag that makes a new namespace. */
export const NAMESPACE_FLAGS = CLONE_NEWTIME | CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

export const AF_VSOCK = 40;
/** The personas Docker's default profile allows: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and 0xffffffff (read the current one). */
export const ALLOWED_PERSONAS: readonly number[] = Object.freeze([0x0, 0x8, 0x20000, 0x20008, 0xffffffff]);

const EPERM: SeccompRule = { kind: 'eperm' };

/** The default policy: each named call's rule; every other call is allowed. */
export const DEFAULT_SECCOMP_POLICY: Readonly<Partial<Record<SyscallName, SeccompRule>>> = Object.freeze({
  init_module: EPERM,
  finit_module: EPERM,
  delete_module: EPERM,
  create_module: EPERM,
  query_module: EPERM,
  get_kernel_syms: EPERM,
  kexec_load: EPERM,
  kexec_file_load: EPERM,
  reboot: EPERM,
  add_key: EPERM,
  request_key: EPERM,
  keyctl: EPERM,
  bpf: EPERM,
  perf_event_open: EPERM,
  userfaultfd: EPERM,
  io_uring_setup: EPERM,
  io_uring_enter: EPERM,
  io_uring_register: EPERM,
  mount: EPERM,
  umount2: EPERM,
  pivot_root: EPERM,
  fsopen: EPERM,
  fsconfig: EPERM,
  fsmount: EPERM,
  fspick: EPERM,
  move_mount: EPERM,
  open_tree: EPERM,
  mount_setattr: EPERM,
  setns: EPERM,
  unshare: { kind: 'eperm-if-any-flag', mask: NAMESPACE_FLAGS },
  clone: { kind: 'eperm-if-any-flag', mask: NAMESPACE_FLAGS },
  clone3: { kind: 'enosys' },
  personality: { kind: 'eperm-unless-one-of', values: ALLOWED_PERSONAS },
  socket: { kind: 'eperm-if-equal', value: AF_VSOCK },
  kcmp: EPERM,
  pidfd_getfd: EPERM,
  process_madvise: EPERM,
  name_to_handle_at: EPERM,
  open_by_handle_at: EPERM,
  settimeofday: EPERM,
  clock_settime: EPERM,
  clock_adjtime: EPERM,
  adjtimex: EPERM,
  acct: EPERM,
  swapon: EPERM,
  swapoff: EPERM,
  syslog: EPERM,
  sethostname: EPERM,
  setdomainname: EPERM,
  vhangup: EPERM,
  quotactl: EPERM,
  quotactl_fd: EPERM,
  lookup_dcookie: EPERM,
  fanotify_init: EPERM,
  iopl: EPERM,
  ioperm: EPERM,
  move_pages: EPERM,
  migrate_pages: EPERM,
  nfsservctl: EPERM,
  uselib: EPERM,
  ustat: EPERM,
  sysfs: EPERM,
  _sysctl: EPERM,
});
