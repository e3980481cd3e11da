# A hostile app's system calls, for test/security/seccomp.test.ts: each
# attack and each piece of ordinary work runs in a forked child (so an
# unshare or a kill ends there), and the result is printed as JSON:
#   {"attacks": {name: result}, "ordinary": {name: result}}
# where a result is 0 (it worked), an errno number, or "signal N" (killed).
# argv[1]: the system call numbers by name (JSON), from berth's table.
import ctypes
import ctypes.util
import json
import mmap
import os
import platform
import signal
import socket
import subprocess
import sys
import threading

NR = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
X86_64 = platform.machine() == 'x86_64'

CLONE_FS = 0x00000200
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
SIGCHLD = 17


def arg(value):
    return ctypes.c_long(value) if isinstance(value, int) else value


def call(nr, *args):
    """A raw system call: 0 when it returned >= 0, else its errno."""
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(nr), *[arg(a) for a in args])
    return ctypes.get_errno() if result == -1 else 0


def sys_(name, *args):
    return call(NR[name], *args)


def in_child(work):
    """Runs work() in a forked child; its result comes back as the exit status."""
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        try:
            code = work()
        except BaseException as error:  # noqa: BLE001 - anything is a failure to report
            sys.stderr.write(f'{work.__name__}: {error!r}\n')
            code = 254
        os._exit(code if isinstance(code, int) and 0 <= code < 256 else 253)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return f'signal {os.WTERMSIG(status)}'
    return os.WEXITSTATUS(status)


def raw_fork(flags):
    """clone(flags) as fork does (no new stack): the child exits at once; 0 or errno."""
    ctypes.set_errno(0)
    pid = libc.syscall(ctypes.c_long(NR['clone']), ctypes.c_long(flags), ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0))
    if pid == 0:
        os._exit(0)
    if pid < 0:
        return ctypes.get_errno()
    os.waitpid(pid, 0)
    return 0


# --- attacks: each works for root without a filter, and must be refused with it ---

def keyctl():
    return sys_('keyctl', 1, None)  # KEYCTL_JOIN_SESSION_KEYRING, anonymous


def add_key():
    return sys_('add_key', b'user', b'berth-probe', b'x', 1, -2)  # into KEY_SPEC_PROCESS_KEYRING


def bpf():
    attr = (ctypes.c_uint32 * 30)(2, 4, 4, 1)  # BPF_MAP_TYPE_ARRAY, key 4, value 4, 1 entry
    return sys_('bpf', 0, attr, ctypes.sizeof(attr))  # BPF_MAP_CREATE


def perf_event_open():
    attr = (ctypes.c_uint8 * 128)()
    ctypes.c_uint32.from_buffer(attr, 0).value = 1  # PERF_TYPE_SOFTWARE
    ctypes.c_uint32.from_buffer(attr, 4).value = 64  # PERF_ATTR_SIZE_VER0
    ctypes.c_uint64.from_buffer(attr, 8).value = 1  # PERF_COUNT_SW_TASK_CLOCK
    return sys_('perf_event_open', attr, 0, -1, -1, 0)


def userfaultfd():
    return sys_('userfaultfd', os.O_CLOEXEC)


def io_uring_setup():
    params = (ctypes.c_uint8 * 120)()
    return sys_('io_uring_setup', 1, params)


def unshare_user():
    return sys_('unshare', CLONE_NEWUSER)


def clone_newns():
    return raw_fork(CLONE_NEWNS | SIGCHLD)


def clone3_newuser():
    args = (ctypes.c_uint64 * 8)(CLONE_NEWUSER, 0, 0, 0, SIGCHLD, 0, 0, 0)
    ctypes.set_errno(0)
    pid = libc.syscall(ctypes.c_long(NR['clone3']), args, ctypes.c_long(ctypes.sizeof(args)))
    if pid == 0:
        os._exit(0)
    if pid < 0:
        return ctypes.get_errno()
    os.waitpid(pid, 0)
    return 0


def mount():
    return sys_('mount', b'berth-probe', b'/tmp', b'tmpfs', 0, None)


def fsopen():
    return call(NR['fsopen'], b'tmpfs', 0)


def open_tree():
    return sys_('open_tree', -100, b'/', 0)  # AT_FDCWD; no OPEN_TREE_CLONE: needs no capability


def setns():
    fd = os.open('/proc/self/ns/uts', os.O_RDONLY)
    return sys_('setns', fd, 0x04000000)  # CLONE_NEWUTS: its own namespace again


def personality_no_aslr():
    return sys_('personality', 0x0040000)  # ADDR_NO_RANDOMIZE


def vsock():
    return sys_('socket', 40, socket.SOCK_STREAM, 0)  # AF_VSOCK; only made, never connected


def kcmp():
    return sys_('kcmp', os.getpid(), os.getpid(), 0, 0, 0)  # KCMP_FILE, fd 0 with itself


def name_to_handle_at():
    handle = (ctypes.c_uint8 * 136)()
    ctypes.c_uint32.from_buffer(handle, 0).value = 128
    mount_id = ctypes.c_int(0)
    return sys_('name_to_handle_at', -100, b'/', handle, ctypes.byref(mount_id), 0)


def pidfd_getfd():
    return sys_('pidfd_getfd', os.pidfd_open(os.getpid()), 0, 0)


def fanotify_init():
    return sys_('fanotify_init', 0, os.O_RDONLY)


def settimeofday_nothing():
    return sys_('settimeofday', None, None)  # checks CAP_SYS_TIME, then sets nothing


def clock_adjtime_read():
    timex = (ctypes.c_uint8 * 256)()  # modes 0: only reads
    return sys_('clock_adjtime', 0, timex)


def syslog_size():
    return sys_('syslog', 10, None, 0)  # SYSLOG_ACTION_SIZE_BUFFER


def x32_getpid():
    return call(0x40000000 | 39)  # x32's getpid (x86_64's number with the x32 bit)


def int80_getpid():
    """32-bit x86's getpid through int 0x80, from a 64-bit process."""
    code = bytes([0xB8, 0x14, 0, 0, 0, 0xCD, 0x80, 0xC3])  # mov eax, 20; int 0x80; ret
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    result = ctypes.CFUNCTYPE(ctypes.c_int)(address)()
    return 0 if result == os.getpid() else 252


ATTACKS = [keyctl, add_key, bpf, perf_event_open, userfaultfd, io_uring_setup, unshare_user, clone_newns, clone3_newuser, mount, fsopen, open_tree, setns,
           personality_no_aslr, vsock, kcmp, name_to_handle_at, pidfd_getfd, fanotify_init, settimeofday_nothing, clock_adjtime_read, syslog_size]
if X86_64:
    ATTACKS += [x32_getpid, int80_getpid]


# --- ordinary work: must keep working under the filter ---

def thread():
    seen = []
    worker = threading.Thread(target=lambda: seen.append(threading.get_native_id()))
    worker.start()
    worker.join()
    return 0 if seen and seen[0] != threading.get_native_id() else 252


def fork():
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    _, status = os.waitpid(pid, 0)
    return 0 if os.WEXITSTATUS(status) == 7 else 252


def files():
    path = f'/tmp/berth-probe-{os.getpid()}'
    with open(path, 'w') as file:
        file.write('hello')
    with open(path) as file:
        text = file.read()
    os.unlink(path)
    return 0 if text == 'hello' else 252


def sockets():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname())
    peer, _ = server.accept()
    client.sendall(b'ping')
    got = peer.recv(4)
    left, right = socket.socketpair()
    left.sendall(b'x')
    return 0 if got == b'ping' and right.recv(1) == b'x' else 252


def execve():
    done = subprocess.run(['/bin/sh', '-c', 'exit 5'], check=False)
    return 0 if done.returncode == 5 else 252


def unshare_fs():
    return sys_('unshare', CLONE_FS)


def personality_query():
    return sys_('personality', 0xFFFFFFFF)


def ptrace_own_child():
    child = os.fork()
    if child == 0:
        signal.pause()
        os._exit(0)
    try:
        attached = sys_('ptrace', 16, child, 0, 0)  # PTRACE_ATTACH
        if attached != 0:
            return attached
        os.waitpid(child, os.WUNTRACED)
        return sys_('ptrace', 17, child, 0, 0)  # PTRACE_DETACH
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


class IoVec(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]


def process_vm_readv_self():
    source = ctypes.create_string_buffer(b'berth', 5)
    target = ctypes.create_string_buffer(5)
    local = IoVec(ctypes.addressof(target), 5)
    remote = IoVec(ctypes.addressof(source), 5)
    failed = sys_('process_vm_readv', os.getpid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    return failed or (0 if target.raw == b'berth' else 252)


def clone_fork():
    return raw_fork(SIGCHLD)  # fork, as the raw clone call


ORDINARY = [thread, fork, files, sockets, execve, unshare_fs, personality_query, ptrace_own_child, process_vm_readv_self, clone_fork]

print(json.dumps({
    'attacks': {work.__name__: in_child(work) for work in ATTACKS},
    'ordinary': {work.__name__: in_child(work) for work in ORDINARY},
}))
