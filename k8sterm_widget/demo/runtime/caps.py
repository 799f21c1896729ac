"""Drop a container process's privileges to what containerd gives a container by default.

containerd's CRI plugin starts every container with 14 capabilities in its bounding, permitted and
effective sets (``defaultUnixCaps`` in containerd's ``pkg/oci/spec.go``; the smaller set proposed for
containerd 2 was withdrawn, containerd/containerd#10435), an empty ambient set, and — as this runtime
always does, like ``allowPrivilegeEscalation: false`` — ``no_new_privs``, so no setuid program or file
capability can give anything back. Without ``CAP_SYS_ADMIN`` a ``mount`` fails with "permission denied",
as in a real container.

Called in the container's own processes right before ``execve`` (the main process and every exec).
Stdlib only: ``_init.py`` and ``_enter.py`` load this file by path.
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["CAPABILITIES", "DEFAULT", "drop_privileges"]

CAPABILITIES = {
    "CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4, "KILL": 5,
    "SETGID": 6, "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9, "NET_BIND_SERVICE": 10,
    "NET_BROADCAST": 11, "NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14, "IPC_OWNER": 15,
    "SYS_MODULE": 16, "SYS_RAWIO": 17, "SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_PACCT": 20,
    "SYS_ADMIN": 21, "SYS_BOOT": 22, "SYS_NICE": 23, "SYS_RESOURCE": 24, "SYS_TIME": 25,
    "SYS_TTY_CONFIG": 26, "MKNOD": 27, "LEASE": 28, "AUDIT_WRITE": 29, "AUDIT_CONTROL": 30,
    "SETFCAP": 31, "MAC_OVERRIDE": 32, "MAC_ADMIN": 33, "SYSLOG": 34, "WAKE_ALARM": 35,
    "BLOCK_SUSPEND": 36, "AUDIT_READ": 37, "PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40,
}  # fmt: skip

#: containerd's default set (``CapEff: 00000000a80425fb`` in ``/proc/self/status`` of a kind pod).
DEFAULT = (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
    "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
)  # fmt: skip

PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _fail(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")


#: What a container may add to :data:`DEFAULT` (``capabilities.add``): ``SYS_PTRACE``, which
#: ``kubectl debug``'s default profile asks for. Nothing else, whatever the pod says: Pod Security
#: admission refuses the rest (``demo/podsecurity.py``), and this is the runtime's own line behind it.
GRANTABLE = ("SYS_PTRACE",)


def mask(names: tuple[str, ...] = DEFAULT) -> int:
    value = 0
    for name in names:
        value |= 1 << CAPABILITIES[name]
    return value


def effective(add: list[str] | tuple[str, ...] = (), drop: list[str] | tuple[str, ...] = ()) -> int:
    """containerd's capability set for a container's ``capabilities`` (the CRI plugin's order: ``ALL``
    added, ``ALL`` dropped, then each one added, then each one dropped; names with or without ``CAP_``),
    except that nothing beyond :data:`DEFAULT` and :data:`GRANTABLE` is ever granted."""
    grantable = set(DEFAULT) | set(GRANTABLE)
    added = {str(v).upper().removeprefix("CAP_") for v in add}
    dropped = {str(v).upper().removeprefix("CAP_") for v in drop}
    keep = set() if "ALL" in dropped else set(DEFAULT)
    keep |= added & grantable
    keep -= dropped
    return mask(tuple(sorted(keep)))


def drop_privileges(
    last_cap: int, keep: int = mask(), user: tuple[int, int, list[int]] | None = None
) -> None:
    """Bounding set, ambient set, the user, then permitted/effective/inheritable to ``keep``; no_new_privs.

    ``last_cap`` is ``/proc/sys/kernel/cap_last_cap`` of the host (read before the container's root
    replaced ``/proc``). The bounding set goes first: dropping from it needs ``CAP_SETPCAP``, which the
    ``capset`` below may remove. ``user``: ``(uid, gid, supplementary gids)`` to become (``runAsUser``,
    ``runAsGroup``, ``supplementalGroups`` + ``fsGroup``), in runc's order (``finalizeNamespace``): with
    ``PR_SET_KEEPCAPS`` across the switch, so a capability the pod dropped (``SETUID`` …) is not needed for
    it. A process that is not root then keeps its capabilities only until ``execve``, as on containerd
    (no ambient capabilities): ``CapEff`` of a ``runAsUser: 1000`` container is 0.
    """
    for cap in range(last_cap + 1):
        dropped = keep & (1 << cap) or _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0
        if not dropped and ctypes.get_errno() != 22:  # EINVAL: a capability this kernel does not have
            raise _fail("drop capability from the bounding set")
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)  # EINVAL before 4.3: nothing to clear
    if user is not None:
        uid, gid, groups = user
        _libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)
        try:
            os.setgroups(sorted({gid, *groups}))
        except PermissionError:  # a user namespace whose maker denied setgroups (rootless): only gid 0
            if set(groups) - {gid, 0}:
                raise
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        _libc.prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)
    header = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    low, high = keep & 0xFFFFFFFF, keep >> 32
    data = (_Data * 2)(_Data(low, low, 0), _Data(high, high, 0))
    if _libc.capset(ctypes.byref(header), data) != 0:
        raise _fail("capset")
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise _fail("no_new_privs")


def last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 40
