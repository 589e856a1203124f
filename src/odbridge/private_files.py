"""Checks that a file holding secrets (or deciding where secrets go) is its owner's alone.

Three questions, asked of the config file, the key files and the store's folder:

- **Who owns it?** A file another user owns was written by them: they know (or chose) what
  it holds. Root may own files and folders (system locations); nobody else but us.
- **Who can change it?** A file others can write, or any folder on its path others can write
  (so that they can rename the file away and put their own in its place), is not ours
  alone, whatever it holds today. A world-writable folder with the sticky bit (``/tmp``) is
  safe for the entries we own: others cannot rename or remove them.
- **Who can read it?** A secret others can read is no longer secret.

Only on POSIX systems: Windows protects files with ACLs, which mode bits do not describe.
This module imports nothing of odbridge, so every layer may use it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from odbridge.errors import OdbridgeError

__all__ = [
    "GROUP_OTHER_READ",
    "GROUP_OTHER_WRITE",
    "Finding",
    "NotPrivateError",
    "check_secret_file",
    "checks_apply",
    "current_uid",
    "make_private",
    "path_findings",
]

GROUP_OTHER_WRITE = stat.S_IWGRP | stat.S_IWOTH
"""Bits that let other users change a file, or add, rename and remove a folder's entries."""

GROUP_OTHER_READ = stat.S_IRGRP | stat.S_IROTH
"""Bits that let other users read a file."""

ROOT_UID = 0


def checks_apply() -> bool:
    """True where mode bits and owners mean something (POSIX)."""
    return os.name == "posix"


def current_uid() -> int:
    """The effective user id of this process (-1 where there is none)."""
    geteuid = getattr(os, "geteuid", None)
    return int(geteuid()) if geteuid is not None else -1


@dataclass(frozen=True)
class Finding:
    """One reason a file is not private: what is wrong (a phrase that reads after "but",
    e.g. "other users can read it (mode 644)"), and the command that fixes it."""

    path: Path
    problem: str
    fix: str
    kind: Literal["owner", "mode", "folder"]

    def __str__(self) -> str:
        return f"{self.problem}: fix it with `{self.fix}`"


def _owner_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def _check_owner(
    path: Path, info: os.stat_result, uid: int, *, allow_root: bool, folder: bool
) -> Finding | None:
    if info.st_uid == uid or (allow_root and info.st_uid == ROOT_UID):
        return None
    what = f"its folder {path}" if folder else "it"
    return Finding(
        path,
        f"{what} belongs to another user ({_owner_name(info.st_uid)}), who could have written it",
        f"chown {_owner_name(uid)} {path}",
        "folder" if folder else "owner",
    )


def _folder_findings(folder: Path, uid: int, *, own_folder_sticky_ok: bool) -> list[Finding]:
    """Every folder from ``folder`` up to the root that another user could change."""
    found: list[Finding] = []
    for current in (folder, *folder.parents):
        try:
            info = current.stat()
        except OSError:
            continue  # cannot be inspected; the file's own check will fail to open it
        owner = _check_owner(current, info, uid, allow_root=True, folder=True)
        if owner is not None:
            found.append(owner)
        if not info.st_mode & GROUP_OTHER_WRITE:
            continue
        mode = stat.S_IMODE(info.st_mode)
        if not info.st_mode & stat.S_ISVTX:
            problem = (
                f"other users can change its folder {current} (mode {mode:03o}) and so replace it"
            )
        elif current == folder and not own_folder_sticky_ok:
            problem = f"other users can create files in its folder {current} (mode {mode:03o})"
        else:
            continue  # sticky: others cannot rename or remove what we own
        found.append(Finding(current, problem, f"chmod go-w {current}", "folder"))
    return found


def path_findings(
    path: Path,
    *,
    info: os.stat_result | None = None,
    secret: bool,
    uid: int | None = None,
    companions: bool = False,
) -> list[Finding]:
    """Why ``path`` is not private to this user; empty when it is (or off POSIX).

    Checks the file's owner, that nobody else can write it, and (when ``secret``) that
    nobody else can read it; then every folder above it (the real one, symbolic links
    resolved) for its owner and for write access by others. ``info`` is the file's
    ``stat`` when the caller already has it from the open file (no race). With
    ``companions`` (SQLite's ``-wal`` and ``-shm`` files are made beside the database) the
    file's own folder must not be writable by others even with the sticky bit: they could
    create those files first.
    """
    if not checks_apply():
        return []
    uid = current_uid() if uid is None else uid
    path = Path(os.path.abspath(path))
    found: list[Finding] = []
    try:
        info = info or path.stat()
    except OSError:
        info = None
    if info is not None:
        owner = _check_owner(path, info, uid, allow_root=not secret, folder=False)
        if owner is not None:
            found.append(owner)
        mode = stat.S_IMODE(info.st_mode)
        if mode & GROUP_OTHER_WRITE:
            found.append(
                Finding(
                    path,
                    f"other users can change it (mode {mode:03o})",
                    f"chmod 600 {path}",
                    "mode",
                )
            )
        elif secret and mode & GROUP_OTHER_READ:
            found.append(
                Finding(
                    path, f"other users can read it (mode {mode:03o})", f"chmod 600 {path}", "mode"
                )
            )
    folders = {path.parent.resolve(), path.resolve().parent}
    for folder in sorted(folders):
        for finding in _folder_findings(folder, uid, own_folder_sticky_ok=not companions):
            if finding not in found:
                found.append(finding)
    return found


def make_private(path: Path, info: os.stat_result | None = None) -> bool:
    """Remove the group and other bits of a file we own (``chmod 600`` for a plain file);
    True if the mode was changed. Off POSIX, or for a file already private, does nothing."""
    if not checks_apply():
        return False
    info = info or path.stat()
    mode = stat.S_IMODE(info.st_mode)
    if not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return False
    os.chmod(path, mode & stat.S_IRWXU)
    return True


class NotPrivateError(OdbridgeError):
    """A file that must be its owner's alone is not, and odbridge cannot fix it; the message
    says what is wrong and the command that fixes it."""


def check_secret_file(path: Path, what: str, *, uid: int | None = None) -> list[str]:
    """Check a key file before using or creating it; fix what can be fixed.

    - The file's mode lets others read or change it: made private (``chmod 600``); the
      returned sentences say so, for a warning (whoever read it may know the key).
    - The file belongs to another user, or a folder above it can be changed by others (or
      belongs to them): :class:`NotPrivateError`, since the key may be theirs.

    A file that does not exist yet has only its folders checked. ``what`` names the file
    in messages ("the de-identification key"); ``uid`` is for tests.
    """
    findings = path_findings(path, secret=True, uid=uid)
    fatal = [finding for finding in findings if finding.kind != "mode"]
    if fatal:
        reasons = "; ".join(str(finding) for finding in fatal)
        raise NotPrivateError(f"{what[:1].upper()}{what[1:]} {path} is not safe to use: {reasons}.")
    shared = next((finding for finding in findings if finding.kind == "mode"), None)
    if shared is None or not make_private(path):
        return []
    return [
        f"{what} {path} was not private ({shared.problem}): odbridge made it private "
        "(chmod 600). If someone else may have copied it, replace the key."
    ]
