#!/usr/bin/env python3
"""Sort the samples of a `perf record -g` profile of the hive process into cost classes (kernel
write, its loopback receive side, kernel read, epoll, futex, tokio's scheduler, its IO readiness,
ractor messaging, Hive's queues and connection task, allocation, ...) and print each class's share,
and its cost in µs per operation when given the measured server CPU per operation.

usage: perf script -i perf.data | python3 benches/profile/classify.py [US_PER_OP]

User-space stacks of the release build carry no frame pointers, so a user sample is classed by its
leaf symbol; kernel samples by their whole chain (a send's softirq is the loopback receive side).
"""
import sys, re, collections
# perf script output: sample header line, then stack lines (leaf first), blank line between samples
cats = collections.Counter(); total = 0
def classify(stack):
    syms = [l.split(None,1)[1] if len(l.split(None,1))>1 else l for l in stack]
    joined = "\n".join(syms)
    leaf = syms[0] if syms else ""
    if "__sys_sendto" in joined or "sys_write" in joined or "sys_writev" in joined:
        if "do_softirq" in joined or "net_rx_action" in joined: return "kernel write: loopback receive side (softirq, reader wake-up)"
        return "kernel write: sender side (tcp_sendmsg, xmit)"
    if "__sys_recvfrom" in joined or "sys_read" in joined: return "kernel read"
    if "epoll_wait" in joined: return "epoll_wait (IO driver poll / park)"
    if "futex" in joined: return "futex (park/unpark threads)"
    if "sched_yield" in joined: return "sched_yield"
    if "kernel.kallsyms" in leaf: return "kernel other (interrupts, scheduling, other syscalls)"
    if re.search(r"ws_queue|shortcut::|Subscriber>::deliver|PollFn", leaf): return "hive: connection queue and shortcut (lock, push, pop, wake)"
    if re.search(r"tokio::runtime::(scheduler|task)|wake_by|clone_waker|drop_waker", leaf): return "tokio scheduler (wake, run queue, task polls)"
    if re.search(r"tokio::runtime::io|poll_read_priv|poll_write_priv|TcpStream", leaf): return "tokio IO readiness (registration)"
    if re.search(r"ractor|mailbox|oneshot|mpsc|MailboxSender", leaf): return "ractor messaging (actor hops)"
    if re.search(r"malloc|free|memmove|memcpy|realloc|cfree", leaf): return "allocation and copies (libc)"
    if re.search(r"clock_gettime|Instant|Handle::current|time::", leaf): return "clock and timers"
    if re.search(r"websocket|ws_reader|ws_write|FrameReader|queued|text_frames|encode_frame|codec::|eio", leaf): return "hive: connection task (select, framing, read poll)"
    if re.search(r"pubsub|channel|Published|encoded", leaf): return "hive: channel fan-out"
    if re.search(r"client::|session|hooks|router|events|wire|serde|json", leaf): return "hive: session actor, hooks, codec"
    return "other user: " + leaf[:60]
stack = []
for line in sys.stdin:
    line = line.rstrip("\n")
    if not line.strip():
        if stack:
            cats[classify(stack)] += 1; total += 1; stack = []
        continue
    if line.startswith("\t") or line.startswith(" "):
        parts = line.strip().split(None, 1)
        stack.append(line.strip())
if stack: cats[classify(stack)] += 1; total += 1
per = float(sys.argv[1]) if len(sys.argv) > 1 else 0
agg = collections.Counter()
for k, v in cats.items():
    agg[k if not k.startswith("other user") else "other user space"] += v
for k, v in agg.most_common():
    print("%-66s %5.1f%%  %s" % (k, 100.0*v/total, ("%.2f µs" % (per*v/total)) if per else ""))
print("samples", total)
