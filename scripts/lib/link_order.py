"""scripts/link-order's list making: native ifunc picks, and the order files.

  link_order.py ifunc BINARY PID
      print `@ADDRESS` (hex) for each ifunc of BINARY (static, x86-64) as
      resolved in the running process PID: the variant of a glibc string
      function that this CPU uses, read from the IRELATIVE slots in
      /proc/PID/mem
  link_order.py trace OUT STOP BINARY [ARGS...]
      run BINARY natively, one instruction at a time, until it exits or
      reaches one of the functions STOP (comma-separated; '' for none), and write what it ran to OUT as
      callgrind's addresses
  link_order.py write BINARY MAP OUT STAMP --tier ITEM... [--tier ITEM...]...
      write OUT: STAMP (a comment line), then each tier's input sections,
      then tier 4 (see scripts/link-order).  An ITEM is a callgrind output
      file written with --dump-instr=yes --dump-line=no --compress-pos=no
      (every instruction address it names) or `@ADDRESS`.

lld orders input sections, named by a symbol they define, and matches local
symbols by name too: `read_int` is static in vfprintf-internal.o and in
vfscanf-internal.o.  So each executed address is mapped to its input section
through GNU ld's map of the profiled BINARY (MAP), and each section is named
by the symbol in it that is defined in no other section (a global one when
there is a choice); only a section without one is named by a shared name.
The code of CPU-specific variants of glibc functions comes only from
`@ADDRESS` items, since valgrind's CPU is not this one (their resolvers,
which share some of their sections, run on every CPU).
"""
import bisect
import collections
import ctypes
import os
import re
import signal
import subprocess
import sys
import time

# ptrace(2) on x86-64: requests, and where rip is in struct user_regs_struct.
PTRACE_TRACEME, PTRACE_PEEKUSER, PTRACE_SINGLESTEP, PTRACE_DETACH = 0, 3, 9, 17
RIP_OFFSET = 16 * 8
PR_SET_PDEATHSIG = 1  # prctl(2)
# trace's bounds: a native swimd reaches its loop in about 15 s here.
TRACE_STEPS_MAX = 200_000_000
TRACE_SECONDS_MAX = 600

# glibc's multiarch variants: __memchr_evex, __memmove_avx_unaligned_erms,
# __strcasecmp_l_sse42, __ieee754_log_fma, ...
VARIANT = re.compile(
    r'^__[a-z0-9_]+?_(sse2|sse42|sse4_1|sse4_2|ssse3|avx|avx2|evex|evex512|avx512|'
    r'erms|fma|fma4)(_[a-z0-9_]*)?$')
# Tier 4's groups, in this order; a variant joins the first whose
# instruction set its name mentions, else the last.
ISA_GROUPS = [('avx512', ('evex', 'evex512', 'avx512')),
              ('avx2', ('avx2', 'avx', 'fma', 'fma4')),
              ('sse', ())]
# An input section in GNU ld's map: ` NAME ADDRESS SIZE FILE`, or NAME
# alone on a line and the rest on the next.
MAP_SECTION = re.compile(r'^ (\S+)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*))?$')
MAP_CONTINUED = re.compile(r'^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$')


def symbols(binary):
    """[(address, name, is_global)] of BINARY's functions.  Not its ifunc
    symbols (memcpy): lld resolves those to their PLT stubs."""
    out = subprocess.run(['nm', '--defined-only', binary], check=True,
                         capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in 'tTwW':
            syms.append((int(f[0], 16), f[2], f[1] in 'TW'))
    return syms


def ifunc(binary, pid):
    out = subprocess.run(['readelf', '-rW', binary], check=True,
                         capture_output=True, text=True).stdout
    slots = [int(l.split()[0], 16) for l in out.splitlines() if 'R_X86_64_IRELATIVE' in l]
    try:
        with open('/proc/%s/mem' % pid, 'rb') as mem:
            for slot in slots:
                mem.seek(slot)
                print('@%x' % int.from_bytes(mem.read(8), 'little'))
    except OSError as e:
        print('link_order.py: cannot read the ifunc slots of %s (%s): '
              'the order lacks this CPU\'s string functions' % (pid, e), file=sys.stderr)


def trace(out, stop, argv):
    """Single-step ARGV natively (ptrace) until it exits or first reaches
    one of the functions STOP (comma-separated, '' for none), and write the
    address of every instruction it ran to OUT, one `0x...` a line as
    callgrind's.  What valgrind cannot show: glibc's start in a real process
    (the vDSO's set-up, this CPU's cache geometry).  Bounded by
    TRACE_STEPS_MAX steps and TRACE_SECONDS_MAX seconds; the child is
    killed on every way out."""
    stops = set(a for a, n, _ in symbols(argv[0]) if n in stop.split(',')) if stop else set()
    if stop and not stops:
        sys.exit('link_order.py: %s defines none of %s' % (argv[0], stop))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]

    def call(req, pid, addr, data):
        ctypes.set_errno(0)
        r = libc.ptrace(req, pid, addr, data)
        if r == -1 and ctypes.get_errno() != 0:
            raise OSError(ctypes.get_errno(), 'ptrace(%d): %s' %
                          (req, os.strerror(ctypes.get_errno())))
        return r

    pid = os.fork()
    if pid == 0:
        try:
            # Killed with this process, however it ends (the traced swimd
            # would run on untraced otherwise).
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if libc.ptrace(PTRACE_TRACEME, 0, None, None) == 0:
                os.execv(argv[0], argv)
        finally:
            os._exit(127)
    seen = set()
    exited = False
    try:
        _, status = os.waitpid(pid, 0)
        if not os.WIFSTOPPED(status):
            exited = True
            sys.exit('link_order.py: %s did not stop at exec (not traceable here?)' % argv[0])
        deadline = time.monotonic() + TRACE_SECONDS_MAX
        sig = 0
        for step in range(TRACE_STEPS_MAX + 1):
            rip = call(PTRACE_PEEKUSER, pid, RIP_OFFSET, None) & (2**64 - 1)
            seen.add(rip)
            if rip in stops:
                break
            if step == TRACE_STEPS_MAX or (step % 65536 == 0 and time.monotonic() > deadline):
                sys.exit('link_order.py: %s ran past %d steps or %d s without reaching %s' %
                         (argv[0], step, TRACE_SECONDS_MAX, stop or 'its exit'))
            call(PTRACE_SINGLESTEP, pid, None, sig)
            _, status = os.waitpid(pid, 0)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                exited = True
                break
            sig = os.WSTOPSIG(status)
            sig = 0 if sig == signal.SIGTRAP else sig
    finally:
        if not exited:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    with open(out, 'w') as f:
        f.writelines('0x%x\n' % a for a in sorted(seen))


def map_sections(path):
    """[(address, size)] of the non-empty input sections in GNU ld's map."""
    sections = []
    pending = None
    started = False
    with open(path) as f:
        for line in f:
            if not started:
                started = line.startswith('Linker script and memory map')
                continue
            m = MAP_CONTINUED.match(line) if pending else None
            if m:
                addr, size = int(m.group(1), 16), int(m.group(2), 16)
            else:
                pending = None
                m = MAP_SECTION.match(line)
                if not m or m.group(1).startswith('*'):
                    continue
                if not m.group(2):
                    pending = m.group(1)
                    continue
                addr, size = int(m.group(2), 16), int(m.group(3), 16)
            pending = None
            if addr and size:
                sections.append((addr, size))
    return sorted(set(sections))


def callgrind_addresses(path):
    addrs = set()
    with open(path, errors='replace') as f:
        for line in f:
            if line.startswith('0x'):
                addrs.add(int(line.split()[0], 16))
    return addrs


def isa_group(name):
    for group, sets in ISA_GROUPS:
        if not sets or set(name.split('_')) & set(sets):
            return group
    return ISA_GROUPS[-1][0]


class Layout:
    """The profiled binary's input sections and the symbols in each."""

    def __init__(self, binary, mapfile):
        self.sections = map_sections(mapfile)
        self.starts = [a for a, _ in self.sections]
        self.names = collections.defaultdict(list)  # section index -> names
        count = collections.Counter()
        globals_ = set()
        self.sym_names = collections.defaultdict(list)  # address -> names
        for addr, name, is_global in symbols(binary):
            self.sym_names[addr].append(name)
            i = self.find(addr)
            if i is not None and name not in self.names[i]:
                self.names[i].append(name)
                count[name] += 1
                if is_global:
                    globals_.add(name)
        self.sym_addrs = sorted(self.sym_names)
        # The name lld is told: unique first, then global, then shortest.
        self.label = {i: min(names, key=lambda n: (count[n] > 1, n not in globals_, len(n), n))
                      for i, names in self.names.items()}

    def find(self, addr):
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0 and addr < self.sections[i][0] + self.sections[i][1]:
            return i
        return None

    def is_variant(self, i):
        return any(VARIANT.match(n) for n in self.names[i])

    def in_variant(self, addr):
        """Whether ADDR is in a variant's code (not, say, its resolver)."""
        j = bisect.bisect_right(self.sym_addrs, addr) - 1
        return j >= 0 and all(VARIANT.match(n) for n in self.sym_names[self.sym_addrs[j]])


def write(binary, mapfile, out, stamp, tiers):
    layout = Layout(binary, mapfile)
    seen = set()
    parts = []
    for t, items in enumerate(tiers, 1):
        found = set()
        for item in items:
            if item.startswith('@'):
                found.add(layout.find(int(item[1:], 16)))
            else:
                found |= {layout.find(a) for a in callgrind_addresses(item)
                          if not layout.in_variant(a)}
        found = {i for i in found if i is not None and i in layout.label} - seen
        seen |= found
        parts.append(('tier %d' % t, found))
    for group, _ in ISA_GROUPS:
        found = {i for i in layout.label
                 if i not in seen and layout.is_variant(i)
                 and isa_group(layout.label[i]) == group}
        seen |= found
        parts.append(('tier 4, the %s variants' % group, found))
    with open(out, 'w') as f:
        f.write('# %s: its link order (-Dlink_order, meson.build).  Written by\n'
                '# scripts/link-order, which says what each tier holds; do not edit.\n'
                % binary.rsplit('/', 1)[-1])
        f.write(stamp + '\n')
        for title, found in parts:
            names = sorted(layout.label[i] for i in found)
            size = sum(layout.sections[i][1] for i in found)
            f.write('# %s: %d sections, %d bytes\n' % (title, len(names), size))
            f.writelines(n + '\n' for n in names)


def main(argv):
    if len(argv) == 4 and argv[1] == 'ifunc':
        ifunc(argv[2], argv[3])
        return 0
    if len(argv) > 4 and argv[1] == 'trace':
        trace(argv[2], argv[3], argv[4:])
        return 0
    if len(argv) > 6 and argv[1] == 'write' and argv[6] == '--tier':
        tiers = []
        for arg in argv[6:]:
            if arg == '--tier':
                tiers.append([])
            else:
                tiers[-1].append(arg)
        write(argv[2], argv[3], argv[4], argv[5], tiers)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
