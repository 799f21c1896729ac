"""Shell integration: the shell a terminal starts marks its own prompts, so a script can type plain commands.

**Why.** ``Terminal.run("echo hi")`` must find where the command's output starts and ends, and its exit
code. Without help from the shell the only way is to type a wrapper that prints marks around the command
(:mod:`k8sterm_widget.widget.runline`), which the person watching sees — as the first thing the quickstart
shows. Terminal emulators solve the same problem with *shell integration* (VS Code, WezTerm, kitty, iTerm2):
the shell's own hooks print OSC 133 "semantic prompt" marks — ``A`` where a prompt starts, ``B`` where it
ends (the command line begins), ``C`` where the command's output begins, ``D;<exit code>`` when it has
finished. xterm.js shows nothing for them; with them a script types exactly ``echo hi`` at a normal prompt,
once it is there, and reads the output between the marks.

**How it is installed: once, invisibly, by the exec that starts the shell** (no file is written, nothing is
typed). The session's auto-detect script (:data:`SHELL_DETECT`, run by ``sh -c``) exports what the chosen
shell reads at start-up:

* **bash**: ``PROMPT_COMMAND='eval "$K8STERM_SI"'`` with :data:`BASH_INIT` in ``K8STERM_SI``. bash takes
  ``PROMPT_COMMAND`` from the environment, runs its startup files (``/etc/bash.bashrc``, ``~/.bashrc``, which
  set ``PS1``), and before the first prompt evaluates the init. The init removes itself from the
  environment, wraps ``PS1``/``PS2`` in marks, puts the ``C`` mark in ``PS0`` (bash >= 4.4) and installs
  two ``PROMPT_COMMAND`` hooks around whatever the startup files put there: the first keeps ``$?`` for the
  user's own hooks, the last prints ``D`` and re-wraps ``PS1`` if a prompt theme rebuilt it.
* **POSIX sh, ash, dash**: no hooks but ``PS1``, which POSIX shells expand (parameters) before each prompt:
  ``PS1`` becomes ``<D;$?><A>`` + the shell's own default prompt + ``<B>``, ``PS2`` gets a continuation mark.
  BusyBox ash interprets backslash escapes in ``PS1`` (its default is ``\\w \\$ ``) and needs ``\\[ \\]``
  around invisible text to count the prompt's width; dash prints backslashes as they are. A default prompt
  with a backslash tells which kind it is.

Every mark carries ``k8s`` as its last parameter, so the kernel tells them from marks other software prints;
``A;k8s;c`` announces that ``C`` marks come (bash with ``PS0``), ``A;k8s;k=s`` is a continuation prompt
(``k=s``: a secondary prompt, as in the semantic-prompt proposal's ``k`` parameter).

**Where it cannot load** — a command given to ``shell(command=...)``, an ``attach`` to a debug container,
startup files that overwrite ``PROMPT_COMMAND`` — no mark ever comes, and ``run`` keeps typing its wrapper
line (the fallback). zsh is not among the shells the session picks (bash, ash, sh); its integration would
need files (``ZDOTDIR``), which a read-only container may not allow.
"""

from __future__ import annotations

import re

#: Evaluated by bash before its first prompt (see the module docstring). Written for ``set -u`` users
#: (every expansion has a default) and for bash 3.2 to 5.x. ``K8STERM_SI`` is unset at once, and
#: ``PROMPT_COMMAND`` no longer exported, so a bash started inside this one sees none of it.
BASH_INIT = r"""unset K8STERM_SI; export -n PROMPT_COMMAND
__k8s_st=0 __k8s_c=
__k8s_save() { __k8s_st=$?; return $__k8s_st; }
__k8s_prompt() {
printf '\033]133;D;%s;k8s\007' "$__k8s_st"
case ${PS1-} in *'133;B;k8s'*) ;; *) PS1="\[\033]133;A;k8s$__k8s_c\007\]${PS1-}\[\033]133;B;k8s\007\]";; esac
case ${PS2-} in *'133;A;k8s;k=s'*) ;; *) PS2="\[\033]133;A;k8s;k=s\007\]${PS2-}";; esac
return $__k8s_st; }
if [ "${BASH_VERSINFO[0]}${BASH_VERSINFO[1]}" -ge 44 ]; then
__k8s_c=';c'; PS0="\033]133;C;k8s\007${PS0-}"; fi
__k8s_boot='eval "$K8STERM_SI"'
case $(declare -p PROMPT_COMMAND 2>/dev/null) in
'declare -a'*) PROMPT_COMMAND=(__k8s_save "${PROMPT_COMMAND[@]//"$__k8s_boot"/:}" __k8s_prompt);;
*) PROMPT_COMMAND="__k8s_save;${PROMPT_COMMAND//"$__k8s_boot"/:};__k8s_prompt";; esac
unset __k8s_boot; __k8s_prompt"""

SHELLS = "bash ash sh"  # the auto-detected shell: the first of these the image has

#: The session's auto-detect script (``sh -c SHELL_DETECT sh BASH_INIT``): the first of bash, ash, sh, with
#: ``TERM`` and a UTF-8 locale, and the chosen shell's integration in its environment.
SHELL_DETECT = (
    "export TERM=xterm-256color; "
    # No locale at all (most images) makes readline treat UTF-8 input as Meta keys: typed CJK is mangled.
    '[ -n "$LC_ALL$LC_CTYPE$LANG" ] || export LC_CTYPE=C.UTF-8; '
    f'for s in {SHELLS}; do command -v "$s" >/dev/null 2>&1 || continue; '
    'if [ "$s" = bash ]; then export K8STERM_SI="$1" PROMPT_COMMAND=\'eval "$K8STERM_SI"\'; else '
    "e=$(printf '\\033') b=$(printf '\\007') o= c=; "
    "case ${PS1-} in *\\\\*) o='\\[' c='\\]';; esac; "
    'export PS1="$o$e]133;D;\\$?;k8s$b$e]133;A;k8s$b$c${PS1-\\$ }$o$e]133;B;k8s$b$c" '
    'PS2="$o$e]133;A;k8s;k=s$b$c${PS2-> }"; fi; '
    'exec "$s"; done; exec sh'
)

#: One integration mark as it appears in the cleaned text (see :class:`~k8sterm_widget.widget.textstream`).
MARK = re.compile(
    r"\x1b\]133;(?P<kind>[ABCD])(?:;(?P<code>[^;\x07\x1b]*))?;k8s(?P<flags>(?:;[^\x07\x1b]*)?)(?:\x07|\x1b\\)"
)


def shell_command() -> list[str]:
    """The argv that starts the container's best shell with its integration."""
    return ["sh", "-c", SHELL_DETECT, "sh", BASH_INIT]


__all__ = ["BASH_INIT", "MARK", "SHELLS", "SHELL_DETECT", "shell_command"]
